"""One turn of a conversation: engine events in, store writes out.

Both the CLI and the UI drive turns through ``run_turn`` so streaming,
crash-safe saving and the history sent to the model live in one place.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, List, Optional

from .engines.base import (AnswerDelta, Engine, Event, Message, ReasoningDelta, Sampling,
                           TurnDone)
from .store import Conversation, Store

SAVE_INTERVAL_S = 1.0


def history(conv: Conversation) -> List[Message]:
    """What the model sees: the system prompt, prompts and final answers only.

    QwQ's guidance: earlier turns carry no thinking.  Replies that produced no
    answer (stopped while thinking, errors) are left out.
    """
    messages: List[Message] = []
    if conv.system_prompt:
        messages.append(Message("system", conv.system_prompt))
    for m in conv.messages:
        if m.role == "user":
            messages.append(Message("user", m.content))
        elif m.content.strip():
            messages.append(Message("assistant", m.content))
    return messages


def run_turn(engine: Engine, store: Store, conversation_id: int, sampling: Sampling,
             cancel: Optional[threading.Event] = None,
             save_interval: float = SAVE_INTERVAL_S) -> Iterator[Event]:
    """Answer the conversation's last prompt, saving the reply as it streams.

    Yields the engine's events unchanged.  The partial reply reaches the
    database at least every ``save_interval`` seconds, and the finished one
    (or whatever was produced before a stop or an error) always does.
    """
    conv = store.get(conversation_id)
    message_id = store.start_reply(conversation_id)
    reasoning: List[str] = []
    answer: List[str] = []
    last_save = time.monotonic()
    done = False
    try:
        for event in engine.stream(history(conv), sampling, cancel):
            if isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, AnswerDelta):
                answer.append(event.text)
            elif isinstance(event, TurnDone):
                r = event.result
                store.finish_reply(message_id, r.reasoning, r.answer, r.finish_reason, r.stats, r.error)
                done = True
            now = time.monotonic()
            if not done and now - last_save >= save_interval:
                store.save_reply(message_id, "".join(reasoning), "".join(answer))
                last_save = now
            yield event
    finally:
        if not done:  # the consumer stopped early or the engine broke
            store.finish_reply(message_id, "".join(reasoning), "".join(answer), "cancelled")
