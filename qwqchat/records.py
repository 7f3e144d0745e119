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
    parent_id: Optional[int] = None  # the message this one follows; None: a first prompt
    chosen: bool = True  # the one of its siblings on the chat's path
    version: int = 1  # its place among its siblings (1-based, oldest first) ...
    versions: int = 1  # ... and how many there are: "‹ 2/3 ›"

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
    messages: List[StoredMessage] = field(default_factory=list)  # the chosen path: what the chat shows
    all_messages: List[StoredMessage] = field(default_factory=list)  # every version and branch, oldest first


@dataclass
class SearchHit:
    conversation_id: int
    title: str
    updated: float
    snippet: str
    message_id: Optional[int] = None  # the message that matched (any version); None: the title did


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
    """(id, role, content, reasoning, stats, finish_reason, error, created[, parent_id, chosen]) -> a StoredMessage."""
    mid, role, content, reasoning, stats, finish, error, created, *tree = row
    parent, chosen = tree if tree else (None, 1)
    data = _table(stats, Stats) if stats else None
    if parent is not None and not isinstance(parent, int):
        raise TypeError(f"a message id expected, found {type(parent).__name__}")
    return StoredMessage(
        mid,
        role,
        _text(content),
        _text(reasoning),
        Stats.from_dict(data) if data is not None else None,
        _opt_text(finish),
        _opt_text(error),
        _time(created),
        parent,
        bool(chosen),
    )


def chosen_path(messages: List[StoredMessage]) -> List[StoredMessage]:
    """The path the chat shows: from the first prompt, each message's chosen child (the newest if none
    is marked, or several are).  Numbers every message among its siblings on the way."""
    ids = {m.id for m in messages}
    children: Dict[Optional[int], List[StoredMessage]] = {}
    for m in sorted(messages, key=lambda m: m.id):
        parent = m.parent_id if m.parent_id in ids else None  # a dangling link: treated as a first prompt
        children.setdefault(parent, []).append(m)
    for group in children.values():
        for i, m in enumerate(group, 1):
            m.version, m.versions = i, len(group)
    path: List[StoredMessage] = []
    group = children.get(None, [])
    while group and len(path) < len(messages):  # the bound: a cycle in a damaged file cannot loop forever
        chosen = [m for m in group if m.chosen]
        step = chosen[-1] if chosen else group[-1]
        path.append(step)
        group = children.get(step.id, [])
    return path


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
