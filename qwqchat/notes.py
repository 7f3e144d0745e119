"""The words under a finished reply: the folded thinking's summary, the finish note and the stats line.

Shared by the Markdown export and the chat screen, which word a reply cut short a little differently
(the screen marks it with "■" and says the app was closed; the export is read later, elsewhere).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .types import Stats

INCOMPLETE = ("cancelled", "interrupted", "length")
# finish reason -> (note when there is no answer yet, note when the answer was cut short)
EXPORT_NOTES: Dict[str, Tuple[str, str]] = {
    "cancelled": ("Stopped while thinking — no answer", "Reply cancelled before it finished"),
    "interrupted": ("Interrupted while thinking — no answer", "Reply interrupted before it finished"),
    "length": ("Ran out of tokens while thinking — no answer", "Reply cut off at the token limit"),
}
SCREEN_NOTES: Dict[str, Tuple[str, str]] = {
    "cancelled": ("Stopped while thinking — no answer", "■ Stopped"),
    "interrupted": (
        "Interrupted while thinking — no answer (qwqchat was closed)",
        "■ Interrupted (qwqchat was closed)",
    ),
    "length": ("Ran out of tokens while thinking — no answer", "■ Cut off at the token limit"),
}


def thought_summary(stats: Optional[Stats], reasoning: str) -> str:
    """ "Thought for 34 s · 2,345 tokens" — the one line a folded reasoning shows."""
    parts = []
    if stats and stats.thinking_s:
        parts.append(f"Thought for {stats.thinking_s:,.0f} s")
    else:
        parts.append("Thought")
    if stats and stats.reasoning_tokens:
        parts.append(counted(stats.reasoning_tokens, "token"))
    elif reasoning:
        parts.append(counted(len(reasoning.split()), "word"))
    return " · ".join(parts)


def counted(n: int, noun: str) -> str:
    """ "1 token", "2,345 tokens"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def quick_summary(stats: Stats) -> str:
    """ "Quick answer · MODEL": what a reply given without thinking shows instead of "Thought for …"."""
    return " · ".join(["Quick answer"] + ([stats.model] if stats.model else []))


def finish_note(finish: Optional[str], answer: str, error: Optional[str], *, screen: bool = False) -> str:
    """The line under a reply that did not end normally ("" when it did); ``screen`` for the chat screen."""
    if finish == "error":
        return f"{'⚠ ' if screen else 'Error: '}{error or 'generation failed'}"
    if finish in INCOMPLETE:
        return (SCREEN_NOTES if screen else EXPORT_NOTES)[finish][1 if answer else 0]
    if screen and finish == "stop" and not answer:
        return "The model finished without an answer"
    return ""


def stats_line(s: Stats) -> str:
    parts = []
    if s.reasoning_tokens:
        parts.append(f"thinking {s.reasoning_tokens:,} tok / {s.thinking_s:.1f} s")
    parts.append(f"answer {s.answer_tokens:,} tok")
    if s.ttft_s is not None:
        parts.append(f"first token {s.ttft_s:.2f} s")
    if s.decode_tokens_per_s:
        parts.append(f"{s.decode_tokens_per_s:.1f} tok/s")
    if s.draft:  # prompt-lookup drafting was on
        parts.append(f"draft {s.draft}" + (f" · {100 * s.draft_accepted // s.drafted} % accepted" if s.drafted else ""))
    if s.context_size:
        parts.append(f"context {s.context_used:,}/{s.context_size:,}")
    if s.dropped_turns:
        parts.append(f"{s.dropped_turns} old turn(s) left out")
    if s.intervention:
        parts.append(INTERVENTIONS.get(s.intervention, s.intervention))
    if s.loop_detected and s.intervention not in ("loop-stop", "loop-answer"):  # (those say so already)
        parts.append("thinking looped")
    return " · ".join(parts)


INTERVENTIONS = {
    "think-budget": "thinking budget reached",
    "answer-now": "thinking ended on request",
    "answer-from-thinking": "answered from saved thinking",
    "loop-stop": "stopped: thinking looped",
    "loop-answer": "thinking ended: it looped",
}
