"""The plain data every layer shares: sampling settings, turn stats, messages and stream events.

Neutral ground: it imports nothing from qwqchat but ``errors``, so the store, config, export, chat
and the engines can all use it without importing each other.  An engine's ``stream()`` yields
``ReasoningDelta`` / ``AnswerDelta`` pieces, maybe a ``HistoryTrimmed`` first, and always ends
with one ``TurnDone`` carrying the whole ``TurnResult``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional, Type, TypeVar, Union

from .errors import BadInput

R = TypeVar("R", bound="Record")


class Record:
    """A dataclass that round-trips through a plain dict (the store's and export's JSON);
    unknown keys are dropped, so older and newer files both load."""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: Type[R], data: Optional[Dict[str, Any]]) -> R:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


# QwQ-32B model card: temperature 0.6, top_p 0.95, top_k 20-40, min_p 0, no
# repetition penalty, presence_penalty 0-2 against endless loops.
@dataclass
class Sampling(Record):
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.0
    presence_penalty: float = 0.0
    max_tokens: Optional[int] = None
    seed: Optional[int] = None
    think_budget: Optional[int] = None  # end the thinking after this many tokens (local engine)

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p", "min_p", "presence_penalty"):
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise BadInput(f"{name.replace('_', ' ')} must be a finite number, not {value}")
        if not 0.0 <= self.presence_penalty <= 2.0:
            raise BadInput(f"presence penalty must be between 0 and 2, not {self.presence_penalty}")
        if self.temperature < 0:
            raise BadInput(f"temperature must be >= 0, not {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise BadInput(f"top_p must be in (0, 1], not {self.top_p}")
        if self.top_k < 0:
            raise BadInput(f"top_k must be >= 0, not {self.top_k}")
        if not 0.0 <= self.min_p <= 1.0:
            raise BadInput(f"min_p must be in [0, 1], not {self.min_p}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise BadInput(f"max tokens must be >= 1, not {self.max_tokens}")
        if self.think_budget is not None and self.think_budget < 1:
            raise BadInput(f"thinking budget must be >= 1 token, not {self.think_budget}")
        if self.seed is not None and not -1 <= self.seed < 2**32:
            raise BadInput(f"seed must be -1 (random) or between 0 and {2**32 - 1}, not {self.seed}")
        for name, value, most in (
            ("top_k", self.top_k, 1_000_000),
            ("max tokens", self.max_tokens, 10**8),
            ("thinking budget", self.think_budget, 10**8),
        ):
            if value is not None and value > most:
                raise BadInput(f"{name} must be at most {most:,}, not {value}")

    def merged(self, **overrides) -> "Sampling":
        """A copy with the non-None overrides applied."""
        data = self.to_dict()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return Sampling(**data)


@dataclass
class Stats(Record):
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    ttft_s: Optional[float] = None
    thinking_s: float = 0.0
    total_s: float = 0.0
    decode_tokens_per_s: Optional[float] = None
    context_used: int = 0
    context_size: int = 0
    dropped_turns: int = 0
    # who ended the thinking, if not the model: "think-budget", "answer-now", "loop-stop", "loop-answer"
    intervention: Optional[str] = None
    forced_close_tokens_evaluated: Optional[int] = None
    loop_detected: bool = False
    quick: bool = False  # answered in Quick mode: the thinking was skipped (or a fast profile answered)
    model: Optional[str] = None  # the model that wrote the reply (a Quick one may be the fast profile's); exports
    draft: int = 0  # prompt-lookup drafting: tokens drafted a step (0: off)
    drafted: int = 0  # drafted tokens the model checked
    draft_accepted: int = 0  # of those, the ones it kept


@dataclass
class Message:
    """One message as sent to a model (reasoning is never sent)."""

    role: str
    content: str


@dataclass
class ReasoningDelta:
    text: str
    pieces: int = 1  # the tokens (or server chunks) it holds: more than one once merged on the way to the TUI


@dataclass
class AnswerDelta:
    text: str
    pieces: int = 1


@dataclass
class HistoryTrimmed:
    """The oldest turns did not fit the context and were left out of the prompt."""

    dropped_turns: int


FINISH_REASONS = ("stop", "length", "cancelled", "error")


@dataclass
class TurnResult:
    reasoning: str = ""
    answer: str = ""
    finish_reason: str = "stop"
    stats: Stats = field(default_factory=Stats)
    error: Optional[str] = None
    unclosed_thinking: bool = False


@dataclass
class LoopDetected:
    """The thinking repeats itself: ``span`` came back ``repeats`` times in a row."""

    span: str
    repeats: int


@dataclass
class TurnDone:
    result: TurnResult


Event = Union[ReasoningDelta, AnswerDelta, HistoryTrimmed, LoopDetected, TurnDone]
