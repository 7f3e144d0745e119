"""What the store hands out: conversations, messages and search hits, read back from rows.

A row is checked as it is read (text is text, times are plausible, JSON columns fit their
dataclass); a bad one raises TypeError/ValueError and the store skips it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .checks import dataclass_problem
from .types import Sampling, Stats


@dataclass
class StoredMessage:
    id: int
    role: str
    content: str
    reasoning: str = ""
    stats: Optional[Stats] = None
    finish_reason: Optional[str] = None
    error: Optional[str] = None
    created: float = 0.0

    @property
    def streaming(self) -> bool:
        return self.role == "assistant" and self.finish_reason is None

    @property
    def stopped_while_thinking(self) -> bool:
        """A reply with thinking and no answer: one the model can still be asked to answer from."""
        return self.role == "assistant" and bool(self.reasoning) and not self.content.strip()


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    model: Optional[str] = None
    system_prompt: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    messages: List[StoredMessage] = field(default_factory=list)


@dataclass
class SearchHit:
    conversation_id: int
    title: str
    updated: float
    snippet: str


def conversation_from_row(row: Sequence[Any]) -> Conversation:
    """(id, title, created, updated, model, system_prompt, settings) -> a Conversation without messages."""
    cid, title, created, updated, model, system_prompt, settings = row
    return Conversation(
        cid,
        _text(title),
        _time(created),
        _time(updated),
        _opt_text(model),
        _opt_text(system_prompt),
        _table(settings, Sampling),
    )


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    """(id, role, content, reasoning, stats, finish_reason, error, created) -> a StoredMessage."""
    mid, role, content, reasoning, stats, finish, error, created = row
    data = _table(stats, Stats) if stats else None
    return StoredMessage(
        mid,
        role,
        _text(content),
        _text(reasoning),
        Stats.from_dict(data) if data is not None else None,
        _opt_text(finish),
        _opt_text(error),
        _time(created),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"text expected, found {type(value).__name__}")
    return value


def _opt_text(value: Any) -> Optional[str]:
    return None if value is None else _text(value)


def _time(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1e11
    ):
        raise ValueError(f"not a time: {value!r}")
    return float(value)


def _table(raw: Any, cls: Any) -> Dict[str, Any]:
    """A JSON object column whose keys must fit the dataclass ``cls``."""
    data = json.loads(_text(raw) or "{}")
    if not isinstance(data, dict):
        raise TypeError(f"a JSON object expected, found {type(data).__name__}")
    problem = dataclass_problem(cls, data)
    if problem:
        raise ValueError(problem)
    return data
