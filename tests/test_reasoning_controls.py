"""Thinking budget, answer-now, answering from saved thinking, the loop guard, turn statistics."""

import json
import threading
from pathlib import Path

import pytest
from conftest import run_cli

from qwqchat.chat import run_turn
from qwqchat.engines.llama import LlamaEngine
from qwqchat.engines.replay import ReplayEngine, tokens_of
from qwqchat.loopguard import LoopGuard, find_loop
from qwqchat.store import Store
from qwqchat.types import AnswerDelta, LoopDetected, Message, ReasoningDelta, Sampling, TurnDone

DATA = Path(__file__).parent / "data"
REAL_LOOP = (DATA / "real_loop_smollm2.txt").read_text()  # SmolLM2 at temperature 0, as produced
LOOP_PROMPT, LOOP_SAMPLING = "Tell me a story about a cat.", dict(temperature=0.0, max_tokens=500, seed=1)


def done(events):
    return [e for e in events if isinstance(e, TurnDone)][-1].result


# -- thinking budget and answer-now on the real engine ------------------------------


def test_thinking_budget_closes_the_thinking_on_the_kv_cache(qwq):
    events = list(qwq.stream([Message("user", "What is 2+2?")], Sampling(think_budget=30, max_tokens=120, seed=1)))
    result = done(events)
    s = result.stats
    assert s.intervention == "think-budget"
    assert s.reasoning_tokens <= 30  # then only the closing "</think>" is appended
    assert s.answer_tokens > 0 and any(isinstance(e, AnswerDelta) for e in events)
    closing = len(qwq.llm.tokenize(b"\n</think>\n\n", add_bos=False, special=True))
    # only the closing (and the last sampled token) was evaluated to continue: the prefix cache held
    assert s.forced_close_tokens_evaluated <= closing + 1
    assert "</think>" not in result.reasoning


def test_answer_now_from_another_thread(qwq):
    """Another thread asks for the answer while this one keeps consuming: the thinking ends within a token."""
    end, tenth = threading.Event(), threading.Event()
    count, at_end = [0], []

    def answer_now() -> None:
        tenth.wait(60)
        end.set()
        at_end.append(count[0])  # read after the set: later reasoning tokens came after the request

    t = threading.Thread(target=answer_now)
    t.start()
    result = None
    for ev in qwq.stream([Message("user", "Explain gravity.")], Sampling(max_tokens=200, seed=3), None, end):
        if isinstance(ev, ReasoningDelta):
            count[0] += 1
            if count[0] == 10:
                tenth.set()
        if isinstance(ev, TurnDone):
            result = ev.result
    t.join(10)
    assert result.stats.intervention == "answer-now" and result.stats.answer_tokens > 0
    assert 10 <= result.stats.reasoning_tokens <= at_end[0] + 2


def test_answer_from_the_thinking_of_a_reply_that_ran_out_of_tokens(qwq, qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "What is the capital of France?")
    first = done(run_turn(qwq, store, cid, Sampling(max_tokens=40, seed=2)))
    assert first.unclosed_thinking and first.reasoning and not first.answer
    result = done(run_turn(qwq, store, cid, Sampling(max_tokens=40, seed=2), answer_from_thinking=True))
    assert result.answer and result.reasoning.startswith(first.reasoning)
    assert result.stats.prompt_tokens_evaluated <= 10  # the thinking was still in the KV cache
    msg = store.get(cid).messages[-1]
    assert msg.content == result.answer and msg.stats.intervention == "answer-from-thinking"
    assert msg.stats.reasoning_tokens == first.stats.reasoning_tokens
    assert len(store.get(cid).messages) == 2  # continued in place, not a new reply


def test_remote_engines_say_plainly_what_they_cannot_do(qwq_home):
    from qwqchat.engines.remote import RemoteEngine

    assert RemoteEngine.can_end_thinking is False and LlamaEngine.can_end_thinking is True
    result = done(RemoteEngine("http://127.0.0.1:9/v1").stream([], Sampling(), prefill_reasoning="x"))
    assert result.finish_reason == "error" and "local engine" in result.error


# -- loop guard -------------------------------------------------------------------


def feed_all(text, size=5):
    guard = LoopGuard()
    hits = [h for i in range(0, len(text), size) if (h := guard.feed(text[i : i + size]))]
    return hits


def test_real_repetitive_text_is_caught():
    hits = feed_all(REAL_LOOP)
    assert len(hits) == 1 and hits[0].repeats >= 3 and "Luna" in hits[0].span
    # caught within a few repeats, long before the tokens ran out
    cut = next(i for i in range(0, len(REAL_LOOP), 5) if find_loop(REAL_LOOP[:i]))
    assert cut < len(REAL_LOOP) * 0.8


@pytest.mark.parametrize(
    "text",
    [
        "Wait, so the total is 12. " * 6,
        "Let me re-check. " + "I add 3 to 12 and get 15, but is that right? " * 6,
        "Paragraph one.\n\n" + "The same idea again, restated in full with more words than before, to be long.\n\n" * 6,
        "Start. "
        + "".join(
            "A much longer paragraph that the model keeps writing out in full, word for word, "
            "because it lost track of where it was in its own reasoning. "
            for _ in range(4)
        ),
    ],
)
def test_crafted_loops_are_caught(text):
    assert feed_all(text)


@pytest.mark.parametrize(
    "text",
    [
        # long legitimate reasoning that keeps revisiting the same phrases
        "".join(
            f"Wait, let me check step {i}: {i} times {i + 1} is {i * (i + 1)}. Hmm, that seems right. "
            for i in range(400)
        ),
        (DATA / "qwq_trace.txt").read_text() * 1,
        "".join(
            f"Alternatively, maybe the answer is {i}. But wait, let me verify that case again. " for i in range(300)
        ),
        "no no no no no no " + "x" * 10 + " hmm. " * 3,  # short repeats are not a loop
        "Table:\n" + "-" * 400 + "\n" + "=" * 400,  # separators are not a loop
        "Digits: " + "0" * 1000,
    ],
)
def test_long_legitimate_reasoning_raises_no_alarm(text):
    assert not feed_all(text)


def test_run_turn_reports_a_loop_once_and_records_it(qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "q")
    engine = ReplayEngine(tokens_of("Let me see. " + "The sum is 12, so adding 3 gives 15, then check again. " * 8))
    events = list(run_turn(engine, store, cid, Sampling()))
    assert sum(isinstance(e, LoopDetected) for e in events) == 1
    assert store.get(cid).messages[-1].stats.loop_detected


def test_loop_on_the_real_model_stops_or_answers(qwq):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, LOOP_PROMPT)
    end = threading.Event()
    events = []
    for ev in run_turn(qwq, store, cid, Sampling(**LOOP_SAMPLING), end_thinking=end):
        events.append(ev)
        if isinstance(ev, LoopDetected):
            end.set()  # what `ask --on-loop=answer` and F9 do
    result = done(events)
    assert result.stats.intervention == "loop-answer" and result.stats.loop_detected
    assert result.stats.reasoning_tokens < 500 and result.answer


def test_ask_on_loop_stop_and_warning(qwq_model):
    loop_ask = ["ask", "--model", str(qwq_model), "--temperature", "0", "--max-tokens", "500", "--seed", "1"]
    proc = run_cli(*loop_ask, "--on-loop", "stop", "--hide-reasoning", LOOP_PROMPT)
    assert proc.returncode == 130
    assert "warning: the thinking is repeating itself" in proc.stderr and "stopping" in proc.stderr
    warn = run_cli(*loop_ask, "--json", LOOP_PROMPT)
    assert warn.returncode == 3 and "use --on-loop=stop|answer" in warn.stderr  # looped to the limit: no answer
    assert json.loads(warn.stdout)["stats"]["loop_detected"] is True


def test_ask_think_budget_and_answer_command(qwq_model):
    proc = run_cli(
        "ask",
        "--model",
        str(qwq_model),
        "--think-budget",
        "20",
        "--max-tokens",
        "60",
        "--seed",
        "1",
        "--json",
        "What is 2+2?",
    )
    out = json.loads(proc.stdout)
    assert out["stats"]["intervention"] == "think-budget" and out["stats"]["reasoning_tokens"] <= 20
    assert "thinking budget reached" in proc.stderr
    cut = run_cli("ask", "--model", str(qwq_model), "--max-tokens", "30", "--seed", "2", "--json", "Why?")
    cid = json.loads(cut.stdout)["conversation_id"]
    answered = run_cli("answer", str(cid), "--model", str(qwq_model), "--max-tokens", "30", "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["stats"]["intervention"] == "answer-from-thinking"
    again = run_cli("answer", str(cid), "--model", str(qwq_model))
    assert again.returncode == 2 and "did not stop while thinking" in again.stderr


def test_stats_show_and_export_include_every_figure(qwq_model, tmp_path):
    run_cli("ask", "--model", str(qwq_model), "--think-budget", "15", "--max-tokens", "40", "--seed", "1", "2+2?")
    run_cli("ask", "--model", str(qwq_model), "--max-tokens", "20", "--seed", "1", "3+3?")
    summary = json.loads(run_cli("stats", "--json").stdout)
    assert summary["replies"] == 2 and summary["median_thinking_tokens"] > 0
    assert summary["median_tokens_per_s"] > 0 and summary["interventions"] == {"think-budget": 1}
    assert "median thinking tokens" in run_cli("stats", "1").stdout
    shown = run_cli("show", "1").stdout
    assert "thinking budget reached" in shown and "tok/s" in shown and "first token" in shown
    assert "context " in shown
