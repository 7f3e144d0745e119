"""Messages the worker threads send to the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from textual.message import Message

from ..types import LoopDetected, TurnResult


@dataclass
class Batch:
    """What arrived since the UI last painted: coalesced, never one message per token."""

    reasoning: List[str] = field(default_factory=list)
    answer: List[str] = field(default_factory=list)
    reasoning_pieces: int = 0
    answer_pieces: int = 0
    dropped_turns: int = 0
    loop: Optional[LoopDetected] = None
    result: Optional[TurnResult] = None

    def __bool__(self) -> bool:
        return bool(self.reasoning or self.answer or self.dropped_turns or self.loop or self.result)


class ModelLoaded(Message):
    pass


class ModelFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
