"""Summaries of stored replies: how long and how much the model thinks, how fast it runs."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional

from .store import StoredMessage


def _median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def summarise(replies: Iterable[StoredMessage]) -> Dict[str, Any]:
    replies = list(replies)
    with_stats = [m.stats for m in replies if m.stats]
    thinking = [s for s in with_stats if s.reasoning_tokens]
    return {
        "replies": len(replies),
        "median_thinking_tokens": _median([s.reasoning_tokens for s in thinking]),
        "median_thinking_s": _median([s.thinking_s for s in thinking if s.thinking_s]),
        "median_answer_tokens": _median([s.answer_tokens for s in with_stats]),
        "median_tokens_per_s": _median([s.decode_tokens_per_s for s in with_stats if s.decode_tokens_per_s]),
        "median_ttft_s": _median([s.ttft_s for s in with_stats if s.ttft_s is not None]),
        "total_tokens": sum(s.reasoning_tokens + s.answer_tokens for s in with_stats),
        "stopped_while_thinking": sum(1 for m in replies if m.reasoning and not m.content),
        "loops_detected": sum(1 for s in with_stats if s.loop_detected),
        "interventions": dict(Counter(s.intervention for s in with_stats if s.intervention)),
    }
