"""A frame's share of a flood: ``TurnStream.take`` hands the UI a few kilobytes at a time, in order."""

from __future__ import annotations

import threading

from qwqchat.engines.replay import ReplayEngine, tokens_of
from qwqchat.store import Store
from qwqchat.types import Sampling
from qwqchat.ui import streamer
from qwqchat.ui.streamer import TurnStream

THINKING = "".join(f"Step {i}: the numbers add up to {i * 7}.\n" for i in range(200))
ANSWER = "".join(f"- item {i}, which is {i * 3}\n" for i in range(120))


def whole_turn(qwq_home) -> TurnStream:
    """A turn run to its end before the UI takes anything: all of it waits in the batch, as in a flood."""
    store = Store()
    cid = store.create_conversation("flood")
    store.add_user_message(cid, "go")
    engine = ReplayEngine(tokens_of(f"<think>\n{THINKING}</think>\n\n{ANSWER}"))
    stream = TurnStream(engine, store, cid, Sampling())
    worker = threading.Thread(target=stream.run)
    worker.start()
    worker.join(30)
    assert stream.ended
    return stream


def test_a_flood_is_taken_a_frames_share_at_a_time_in_order(qwq_home, monkeypatch):
    monkeypatch.setattr(streamer, "REASONING_FRAME_CHARS", 500)
    monkeypatch.setattr(streamer, "ANSWER_FRAME_CHARS", 300)
    stream = whole_turn(qwq_home)
    frames = []
    while True:
        batch = stream.take()
        frames.append(batch)
        if batch.result is not None:
            break
        assert stream.behind  # more is waiting: the UI takes it on the next tick
        assert len(frames) < 1000
    thinking = ["".join(b.reasoning) for b in frames]
    answer = ["".join(b.answer) for b in frames]
    assert len(frames) >= len(THINKING) // 500 + len(ANSWER) // 300
    assert all(len(t) <= 500 for t in thinking) and all(len(a) <= 300 for a in answer)
    assert "".join(thinking).strip() == THINKING.strip() and "".join(answer).strip() == ANSWER.strip()
    first_answer = next(i for i, a in enumerate(answer) if a)
    assert not any(thinking[first_answer + 1 :])  # the answer starts once all the thinking is shown
    # cut after a whole line: no frame ends mid-line while a line end fit in it
    assert all(t.endswith("\n") for t in thinking[: first_answer - 1] if len(t) > 100)
    assert all(a.endswith("\n") for a in answer[first_answer:-1])
    result = frames[-1].result
    assert (result.reasoning.strip(), result.answer.strip()) == (THINKING.strip(), ANSWER.strip())
    assert not stream.behind
    monkeypatch.setattr(streamer, "REASONING_FRAME_CHARS", 10**9)
    monkeypatch.setattr(streamer, "ANSWER_FRAME_CHARS", 10**9)
    whole = whole_turn(qwq_home).take()
    for kind in ("reasoning_pieces", "answer_pieces"):  # the token counts are split with the text, none lost
        assert sum(getattr(b, kind) for b in frames) == getattr(whole, kind)


def test_a_batch_within_the_limits_is_taken_whole(qwq_home, monkeypatch):
    monkeypatch.setattr(streamer, "REASONING_FRAME_CHARS", len(THINKING) + 10)
    monkeypatch.setattr(streamer, "ANSWER_FRAME_CHARS", len(ANSWER) + 10)
    stream = whole_turn(qwq_home)
    batch = stream.take()
    assert "".join(batch.answer).strip() == ANSWER.strip() and batch.result is not None
    assert not stream.behind


def test_once_stopped_what_is_left_is_taken_at_once(qwq_home, monkeypatch):
    monkeypatch.setattr(streamer, "REASONING_FRAME_CHARS", 500)
    monkeypatch.setattr(streamer, "ANSWER_FRAME_CHARS", 300)
    stream = whole_turn(qwq_home)
    first = stream.take()
    assert stream.behind and first.result is None
    stream.stop()  # Esc: the user waits for the reply to end, not for its frames
    rest = stream.take()
    assert not stream.behind and rest.result is not None
    assert "".join(first.reasoning + rest.reasoning).strip() == THINKING.strip()
    assert "".join(first.answer + rest.answer).strip() == ANSWER.strip()
