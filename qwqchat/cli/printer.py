"""Terminal rendering of one turn: reasoning dimmed on stderr, the answer on stdout, notes as lines."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Iterable

from ..text import printable
from ..types import AnswerDelta, HistoryTrimmed, LoopDetected, ReasoningDelta, TurnDone, TurnResult


@dataclass
class ReplyOptions:
    """How ``ask`` and ``answer`` show a reply (``--hide-reasoning``, ``--json``, ``--on-loop``)."""

    hide_reasoning: bool = False
    as_json: bool = False
    on_loop: str = "warn"


def note(text: str) -> None:
    print(f"qwqchat: {text}", file=sys.stderr)


class Printer:
    """Reasoning dimmed on stderr, answer on stdout, control characters made harmless."""

    def __init__(self, show_reasoning: bool) -> None:
        self.show_reasoning = show_reasoning
        self.dim = sys.stderr.isatty()
        self.reasoning_open = False

    def reasoning(self, text: str) -> None:
        if not self.show_reasoning:
            return
        if self.dim and not self.reasoning_open:
            sys.stderr.write("\x1b[2m")
        self.reasoning_open = True
        sys.stderr.write(printable(text))
        sys.stderr.flush()

    def end_reasoning(self) -> None:
        if self.reasoning_open:
            sys.stderr.write(("\x1b[0m" if self.dim else "") + "\n\n")
            sys.stderr.flush()
            self.reasoning_open = False

    def answer(self, text: str) -> None:
        self.end_reasoning()
        sys.stdout.write(printable(text))
        sys.stdout.flush()


def _on_loop(event: LoopDetected, how: ReplyOptions, cancel, end_thinking, can_end_thinking: bool) -> None:
    what = {
        "warn": "use --on-loop=stop|answer to act on it",
        "stop": "stopping",
        "answer": "ending the thinking so the model answers"
        if can_end_thinking
        else "stopping (a remote server cannot end the thinking)",
    }[how.on_loop]
    note(
        f'warning: the thinking is repeating itself ({event.repeats}× "{printable(event.span.strip()[:60])}…"); {what}'
    )
    if how.on_loop == "stop" or (how.on_loop == "answer" and not can_end_thinking):
        cancel.set()
    elif how.on_loop == "answer":
        end_thinking.set()


def _done(result: TurnResult, how: ReplyOptions) -> None:
    if result.answer and not how.as_json:
        sys.stdout.write("\n")
    if result.stats.intervention == "think-budget":
        note(f"thinking budget reached ({result.stats.reasoning_tokens:,} tokens); the model was asked to answer")
    if result.unclosed_thinking and result.finish_reason != "error":
        note("the model stopped while thinking — no answer")
    elif result.finish_reason == "length":
        note("reply cut off at the token limit")


def render(
    events: Iterable,
    how: ReplyOptions,
    cancel: threading.Event,
    end_thinking: threading.Event,
    can_end_thinking: bool,
) -> TurnResult:
    """Print a turn's events as they come; return its result."""
    out = Printer(show_reasoning=not how.hide_reasoning)
    result = TurnResult()
    for event in events:
        if isinstance(event, LoopDetected):
            out.end_reasoning()
            _on_loop(event, how, cancel, end_thinking, can_end_thinking)
        elif how.as_json and isinstance(event, (ReasoningDelta, AnswerDelta)):
            continue  # --json prints one object at the end; the notes still go to stderr
        elif isinstance(event, ReasoningDelta):
            out.reasoning(event.text)
        elif isinstance(event, AnswerDelta):
            out.answer(event.text)
        elif isinstance(event, HistoryTrimmed):
            note(f"{event.dropped_turns} oldest turn(s) left out to fit the context")
        elif isinstance(event, TurnDone):
            result = event.result
            out.end_reasoning()
            _done(result, how)
    return result
