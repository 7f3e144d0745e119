"""The replay engine that UI tests and benchmarks use streams through the real engines' TurnRecorder."""

import pytest

from qwqchat.engines import recorder
from qwqchat.engines.replay import ReplayEngine
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, Stats, TurnDone


def run(engine, **kwargs):
    return list(engine.stream([Message("user", "what is 6 x 7?")], Sampling(), **kwargs))


def test_replay_streams_through_the_turn_recorder(monkeypatch):
    finished = []
    real_finish = recorder.TurnRecorder.finish

    def finish(self, finish_reason, splitter):
        finished.append(finish_reason)
        return real_finish(self, finish_reason, splitter)

    monkeypatch.setattr(recorder.TurnRecorder, "finish", finish)
    events = run(ReplayEngine(["Six ", "sevens.", "</think>", "\n\n", "**42**"]))
    result = events[-1].result
    assert finished == ["stop"]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == result.reasoning == "Six sevens."
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == result.answer == "**42**"
    s = result.stats
    assert (s.reasoning_tokens, s.answer_tokens, s.prompt_tokens, s.context_size) == (3, 2, 3, 32768)
    assert s.ttft_s is not None and s.thinking_s > 0 and s.total_s >= s.thinking_s  # the recorder's timings
    assert s.context_used == s.prompt_tokens + 5 and not result.unclosed_thinking


def test_replay_unclosed_thinking_length_and_fixed_stats():
    events = run(ReplayEngine(["a", "b", "c"]))
    assert events[-1].result.unclosed_thinking and events[-1].result.finish_reason == "stop"
    fixed = Stats(reasoning_tokens=7)
    done = run(ReplayEngine(["x", "</think>", "y"], stats=fixed))[-1]
    assert isinstance(done, TurnDone) and done.result.stats == fixed and done.result.answer == "y"
    assert done.result.stats is not fixed  # a copy: run_turn sets the turn's own fields (quick, model) on it
    engine = ReplayEngine(["x", "y", "z"])
    assert run(engine)[-1].result.reasoning == "xyz"
    assert list(engine.stream([], Sampling(max_tokens=2)))[-1].result.finish_reason == "length"


def test_a_burst_of_chunks_states_no_rate_a_steady_stream_does(monkeypatch):
    from qwqchat.reasoning import ReasoningSplitter

    now = [10.0]
    monkeypatch.setattr(recorder.time, "perf_counter", lambda: now[0])

    def rate(gaps):
        rec = recorder.TurnRecorder()
        for gap in gaps:
            now[0] += gap
            rec.arrival()
        return rec.finish("stop", ReasoningSplitter()).stats.decode_tokens_per_s

    assert rate([0.3] + [0.0005] * 20) is None  # one flushed buffer: 40,000 tokens/s would be a lie
    assert rate([0.3] + [0.02] * 20) == pytest.approx(50.0)
