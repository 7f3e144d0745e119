"""One turn of a conversation: engine events in, store writes out.

Both the CLI and the UI drive turns through ``run_turn`` so streaming,
crash-safe saving and the history sent to the model live in one place.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, List, Optional

from .engines.base import Engine
from .errors import BadInput
from .loopguard import LoopGuard
from .store import Conversation, Store
from .types import AnswerDelta, Event, LoopDetected, Message, ReasoningDelta, Sampling, TurnDone

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


def run_turn(
    engine: Engine,
    store: Store,
    conversation_id: int,
    sampling: Sampling,
    cancel: Optional[threading.Event] = None,
    end_thinking: Optional[threading.Event] = None,
    answer_from_thinking: bool = False,
    save_interval: float = SAVE_INTERVAL_S,
    think: bool = True,
    new_version: bool = False,
) -> Iterator[Event]:
    """Answer the conversation's last prompt, saving the reply as it streams.

    Yields the engine's events, plus one ``LoopDetected`` if the thinking starts
    repeating itself (the caller decides what to do: stop, end the thinking).
    The partial reply reaches the database at least every ``save_interval``
    seconds, and the finished one (or whatever was produced before a stop or an
    error) always does.  ``answer_from_thinking`` continues the last reply, which
    stopped while thinking: the engine closes that thinking and the model answers.
    ``think=False`` is Quick: the engine answers with no thinking (see ``quick.route``
    for which engine that is); the reply's stats say so and name the model.
    ``new_version`` answers the prompt before the last reply again: a new version of that reply,
    chosen beside the old one (which stays, and stays out of what the model sees).
    """
    if answer_from_thinking and not think:
        raise BadInput("answering from saved thinking is not a Quick answer")
    conv = store.get(conversation_id)
    prefill = None
    earlier = None
    if answer_from_thinking:
        last = conv.messages[-1] if conv.messages else None
        if last is None or not last.stopped_while_thinking:
            raise BadInput("the last reply is not one that stopped while thinking")
        conv.messages = conv.messages[:-1]
        message_id, prefill, earlier = last.id, last.reasoning, last.stats
        store.reopen_reply(message_id)
    elif new_version:
        last = conv.messages[-1] if conv.messages else None
        if last is None or last.role != "assistant":
            raise BadInput("there is no reply to answer again")
        conv.messages = conv.messages[:-1]
        message_id = store.add_version(last.id)
    else:
        message_id = store.start_reply(conversation_id)
    reasoning: List[str] = [prefill] if prefill else []
    answer: List[str] = []
    guard = LoopGuard()
    loop = None
    last_save = time.monotonic()
    done = False
    kept = None if str(store.path) == ":memory:" else conversation_id  # `ask --no-save` leaves no KV state either
    try:
        events = engine.stream(
            history(conv), sampling, cancel, end_thinking, prefill_reasoning=prefill, chat_id=kept, think=think
        )
        for event in events:
            if isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
                loop = guard.feed(event.text)
            elif isinstance(event, AnswerDelta):
                answer.append(event.text)
            elif isinstance(event, TurnDone):
                r = event.result
                r.stats.loop_detected = guard.found is not None
                r.stats.quick = not think
                r.stats.model = r.stats.model or engine.name
                if guard.found is not None and r.stats.intervention == "answer-now":
                    r.stats.intervention = "loop-answer"
                elif guard.found is not None and r.finish_reason == "cancelled" and not r.stats.intervention:
                    r.stats.intervention = "loop-stop"
                if earlier is not None:  # the thinking was done in the first part of this reply
                    r.stats.reasoning_tokens += earlier.reasoning_tokens
                    r.stats.thinking_s = earlier.thinking_s
                    r.stats.ttft_s = earlier.ttft_s
                    r.stats.intervention = "answer-from-thinking"
                store.finish_reply(message_id, r.reasoning, r.answer, r.finish_reason, r.stats, r.error)
                done = True
            now = time.monotonic()
            if not done and now - last_save >= save_interval:
                store.save_reply(message_id, "".join(reasoning), "".join(answer))
                last_save = now
            yield event
            if loop is not None:
                yield LoopDetected(loop.span, loop.repeats)
                loop = None
    finally:
        if not done:  # the consumer stopped early or the engine broke
            store.finish_reply(message_id, "".join(reasoning), "".join(answer), "cancelled")
