"""The contract every engine meets.

Two optional methods, looked up with ``getattr``: ``count_tokens(text)`` (None: the caller
estimates) and ``warm(messages, chat_id)`` (load what makes that chat's next turn fast, such as
its KV state saved on disk, when the user opens it; the caller never waits for it).

The data it takes and yields (``Sampling``, ``Message``, the events, ``TurnResult``) lives in
``qwqchat.types``; the names are re-exported here only until the issue-11 branches are merged.
"""

from __future__ import annotations

import threading
from typing import Iterator, List, Optional, Protocol

from ..types import Event, Message, Sampling


class Engine(Protocol):
    """The contract the CLI and UI rely on."""

    name: str

    def load(self) -> None:
        """Do the slow part (load weights, reach the server); raises QwqError."""

    def describe(self) -> str:
        """Where it runs, for a status line: "CUDA · all layers", "CPU", a host."""

    @property
    def context_size(self) -> int: ...

    can_end_thinking: bool  # supports end_thinking, sampling.think_budget and prefill_reasoning
    can_skip_thinking: bool  # supports think=False (Quick: answer without thinking)

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,
        think: bool = True,
    ) -> Iterator[Event]:
        """Answer the last user message; always ends with exactly one TurnDone.

        ``chat_id`` lets an engine keep the chat's state between runs (the local one saves its KV cache
        to disk).  ``think=False`` (Quick) answers with no thinking at all; an engine that cannot
        (``can_skip_thinking`` False) ends the turn with an error instead of thinking anyway.
        """
