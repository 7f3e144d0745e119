"""What every engine does while a reply streams: turn splitter pieces into events, keep the text,
time the turn, and assemble the final ``TurnResult`` with its stats."""

from __future__ import annotations

import time
from typing import Iterable, Iterator, List, Optional, Union

from ..reasoning import REASONING, Piece, ReasoningSplitter
from ..types import AnswerDelta, ReasoningDelta, TurnResult

# A rate is only stated over at least this long: a server's chunks can arrive in one burst (a buffer
# flushed at once), and 20 of them 0.5 ms apart read as 40,000 tokens/s.
MIN_RATE_SPAN_S = 0.05


class TurnRecorder:
    def __init__(self, prefill_reasoning: Optional[str] = None) -> None:
        self.result = TurnResult()
        self.stats = self.result.stats
        self.started = time.perf_counter()
        self.reasoning: List[str] = [prefill_reasoning] if prefill_reasoning else []
        self.answer: List[str] = []
        self.prefilled = bool(prefill_reasoning)
        self.first_at: Optional[float] = None
        self.last_at: Optional[float] = None
        self.thought_at: Optional[float] = None
        self.arrivals = 0

    def arrival(self) -> None:
        """A token (or a server's chunk) arrived: time to first token, decode rate."""
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
            self.stats.ttft_s = now - self.started
        self.last_at = now
        self.arrivals += 1

    def emit(self, pieces: Iterable[Piece]) -> Iterator[Union[ReasoningDelta, AnswerDelta]]:
        for kind, text in pieces:
            if kind == REASONING:
                self.reasoning.append(text)
                yield ReasoningDelta(text)
            else:
                if self.thought_at is None:
                    self.thought_at = time.perf_counter()
                self.answer.append(text)
                yield AnswerDelta(text)

    def finish(self, finish_reason: str, splitter: ReasoningSplitter) -> TurnResult:
        end = time.perf_counter()
        r, s = self.result, self.stats
        r.reasoning, r.answer = "".join(self.reasoning), "".join(self.answer)
        r.finish_reason = finish_reason
        r.unclosed_thinking = splitter.unclosed and bool(r.reasoning) and not self.prefilled
        if splitter.saw_reasoning or self.prefilled:
            s.thinking_s = (self.thought_at or end) - self.started
        s.total_s = end - self.started
        first, last = self.first_at, self.last_at
        if self.arrivals > 1 and first is not None and last is not None and last - first >= MIN_RATE_SPAN_S:
            s.decode_tokens_per_s = (self.arrivals - 1) / (last - first)
        return r
