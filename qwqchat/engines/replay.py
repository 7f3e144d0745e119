"""An engine that replays a recorded raw model stream, for UI tests, benchmarks and demos.

It sends the recorded chunks through the same splitter and ``TurnRecorder`` as the real engines,
so the UI sees exactly what a QwQ stream produces (no opening ``<think>``, then ``</think>``, then a
Markdown answer) and the same stats code runs (timings, decode rate, unclosed thinking).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Iterable, Iterator, List, Optional

from ..reasoning import CLOSE, ReasoningSplitter
from ..types import Event, Message, Sampling, Stats, TurnDone
from .recorder import TurnRecorder


class ReplayEngine:
    def __init__(
        self,
        chunks: Iterable[str],
        *,
        name: str = "replay",
        delay: float = 0.0,
        context_size: int = 32768,
        stats: Optional[Stats] = None,
        load_error: Optional[Exception] = None,
        pace: Optional[Callable[[int], None]] = None,
    ) -> None:
        self.chunks: List[str] = list(chunks)
        self.name = name
        self.delay = delay
        self._context = context_size
        self.fixed_stats = stats
        self.load_error = load_error
        self.pace = pace  # called with the chunk index before each chunk (benchmarks pace the replay)
        self.requests: List[List[Message]] = []
        self.thinks: List[bool] = []  # the think flag of each request
        self.loaded = False

    def load(self) -> None:
        if self.load_error:
            raise self.load_error
        self.loaded = True

    def describe(self) -> str:
        return "replay"

    @property
    def context_size(self) -> int:
        return self._context

    can_end_thinking = False
    can_skip_thinking = True  # Quick replays only what follows the recorded "</think>"

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,  # the chat, for engines that keep its state (ignored here)
        think: bool = True,
    ) -> Iterator[Event]:
        self.requests.append(list(messages))
        self.thinks.append(think)
        rec = TurnRecorder()  # like before, a replay ignores prefill_reasoning (can_end_thinking is False)
        stats = rec.stats
        stats.context_size = self._context
        stats.prompt_tokens = stats.prompt_tokens_evaluated = sum(len(m.content) // 4 for m in messages)
        chunks = self.chunks if think else _answer_only(self.chunks)
        splitter = ReasoningSplitter(starts_in_reasoning=think, closed_by_engine=not think)
        finish = "stop"
        limit = sampling.max_tokens or len(chunks)
        for i, chunk in enumerate(chunks):
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if i >= limit:
                finish = "length"
                break
            if self.pace:
                self.pace(i)
            elif self.delay:
                time.sleep(self.delay)
            rec.arrival()
            if splitter.in_reasoning:
                stats.reasoning_tokens += 1
            else:
                stats.answer_tokens += 1
            yield from rec.emit(splitter.feed(chunk))
        yield from rec.emit(splitter.flush())
        result = rec.finish(finish, splitter)
        stats.context_used = stats.prompt_tokens + stats.reasoning_tokens + stats.answer_tokens
        if self.fixed_stats is not None:  # snapshots need figures that do not depend on the clock
            result.stats = replace(self.fixed_stats)  # a copy: the turn's own fields are set on it
        yield TurnDone(result)


def tokens_of(text: str, size: int = 4) -> List[str]:
    """Cut text into token-sized chunks (about 4 characters, as BPE tokens average)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _answer_only(chunks: List[str]) -> List[str]:
    """A recorded stream without its thinking, as a model answers when its thinking was closed in the prompt."""
    text = "".join(chunks)
    at = text.find(CLOSE)
    return chunks if at < 0 else tokens_of(text[at + len(CLOSE) :])
