"""The in-process engine against real llama.cpp and the SmolLM2 test model."""

import subprocess
import sys
import textwrap
import threading

import pytest

from qwqchat import gguf_header
from qwqchat.chat import history
from qwqchat.engines.llama import LlamaEngine
from qwqchat.errors import ModelError
from qwqchat.store import Store
from qwqchat.types import AnswerDelta, HistoryTrimmed, Message, ReasoningDelta, Sampling, TurnDone

SHORT = Sampling(max_tokens=24, seed=7)


def collect(events):
    reasoning, answer, done, trimmed = [], [], None, None
    for ev in events:
        if isinstance(ev, ReasoningDelta):
            reasoning.append(ev.text)
        elif isinstance(ev, AnswerDelta):
            answer.append(ev.text)
        elif isinstance(ev, HistoryTrimmed):
            trimmed = ev.dropped_turns
        elif isinstance(ev, TurnDone):
            assert done is None, "exactly one TurnDone"
            done = ev.result
    assert done is not None
    return "".join(reasoning), "".join(answer), done, trimmed


@pytest.fixture
def smol(smol_model):
    engine = LlamaEngine(smol_model, ctx=4096, threads=1)
    engine.load()
    yield engine
    engine.close()


def test_loads_on_cpu_with_context_capped_at_the_models(smol_model):
    engine = LlamaEngine(smol_model, threads=1)  # default 32,768 > SmolLM2's 8,192
    engine.load()
    assert engine.context_size == 8192
    assert engine.describe() == "CPU"
    engine.close()


def test_yarn_extends_the_context(smol_model):
    engine = LlamaEngine(smol_model, ctx=20000, yarn=True, kv_cache="q8_0", threads=1)
    engine.load()
    assert 20000 <= engine.context_size < 20480  # llama.cpp pads to a multiple of 256
    reasoning, answer, done, _ = collect(engine.stream([Message("user", "Hi")], SHORT))
    assert done.finish_reason in ("stop", "length") and answer
    engine.close()


def test_plain_model_answers_with_stats(smol):
    reasoning, answer, done, _ = collect(smol.stream([Message("user", "What is the capital of France?")], SHORT))
    assert reasoning == "" and answer.strip() and done.answer == answer
    s = done.stats
    assert done.finish_reason in ("stop", "length")
    assert s.prompt_tokens > 5 and s.prompt_tokens_evaluated == s.prompt_tokens
    assert 0 < s.answer_tokens <= 24 and s.reasoning_tokens == 0
    assert s.ttft_s > 0 and s.total_s >= s.ttft_s and s.decode_tokens_per_s > 1
    assert s.context_used == s.prompt_tokens + s.answer_tokens + s.reasoning_tokens


def test_same_seed_same_reply(smol_model):
    replies = []
    for _ in range(2):
        engine = LlamaEngine(smol_model, ctx=1024, threads=1)
        engine.load()
        replies.append(collect(engine.stream([Message("user", "Name a colour.")], SHORT))[1])
        engine.close()
    assert replies[0] == replies[1]


def test_qwq_template_prompt_ends_inside_thinking(qwq):
    prompt, _ = qwq.render([Message("user", "2+2?")])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    reasoning, answer, done, _ = collect(qwq.stream([Message("user", "What is 2+2?")], Sampling(max_tokens=40, seed=1)))
    # The small model never learned to close its thinking: everything is reasoning and the result says so.
    assert reasoning and "<think>" not in reasoning and answer == ""
    assert done.unclosed_thinking and done.stats.reasoning_tokens > 0 and done.stats.thinking_s > 0


def test_history_sent_to_the_model_holds_answers_only(qwq):
    store = Store()
    cid = store.create_conversation(system_prompt="You are terse.")
    store.add_user_message(cid, "first question")
    mid = store.start_reply(cid)
    store.finish_reply(mid, "SECRET-REASONING", "first answer", "stop")
    store.add_user_message(cid, "second question")
    messages = history(store.get(cid))
    prompt, _ = qwq.render(messages)
    assert "SECRET-REASONING" not in prompt and "first answer" in prompt
    assert prompt.startswith("<|im_start|>system\nYou are terse.")
    assert prompt.endswith("second question<|im_end|>\n<|im_start|>assistant\n<think>\n")


def test_cancel_from_another_thread_stops_within_a_token(smol):
    """Another thread sets the cancel while this one keeps consuming: the stream ends within a token or two."""
    cancel, tenth = threading.Event(), threading.Event()
    count, at_cancel = [0], []

    def canceller() -> None:
        tenth.wait(60)
        cancel.set()
        at_cancel.append(count[0])  # read after the set: every later token came after the cancel

    t = threading.Thread(target=canceller)
    t.start()
    events = smol.stream(
        [Message("user", "Write a long story about a dragon.")],
        Sampling(temperature=1.5, top_k=0, top_p=1.0, seed=3, max_tokens=2000),
        cancel,
    )
    for ev in events:
        if isinstance(ev, (AnswerDelta, ReasoningDelta)):
            count[0] += 1
            if count[0] == 10:
                tenth.set()
        if isinstance(ev, TurnDone):
            result = ev.result
    t.join(10)
    assert result.finish_reason == "cancelled"
    assert count[0] >= 10 and result.stats.answer_tokens <= at_cancel[0] + 2  # the token in flight at most
    assert result.answer  # what was produced is kept


def test_follow_up_turns_reuse_the_prefix_cache(smol):
    messages = [Message("system", "You are a helpful assistant.")]
    evaluated = []
    for turn in range(5):
        messages.append(Message("user", f"Tell me one fact about the number {turn + 1}."))
        _, answer, done, _ = collect(smol.stream(messages, Sampling(max_tokens=30, seed=turn)))
        messages.append(Message("assistant", answer))
        evaluated.append((done.stats.prompt_tokens, done.stats.prompt_tokens_evaluated))
    prompt_tokens, fresh = evaluated[-1]
    assert prompt_tokens > 150
    # turn 5 evaluates only the last answer's closing and the new prompt, not the whole history
    assert fresh <= 30, evaluated


def test_context_overflow_drops_oldest_turns_but_keeps_system_and_new_message(smol_model):
    engine = LlamaEngine(smol_model, ctx=512, threads=1)
    engine.load()
    messages = [Message("system", "SYSTEM-PROMPT-KEPT")]
    for i in range(12):
        messages += [Message("user", f"question {i} " + "filler " * 20), Message("assistant", "answer " * 20)]
    messages.append(Message("user", "NEW-MESSAGE"))
    _, _, done, trimmed = collect(engine.stream(messages, Sampling(max_tokens=64, seed=1)))
    assert trimmed and trimmed == done.stats.dropped_turns and trimmed < 12
    prompt, tokens, dropped = engine.fit(messages, Sampling(max_tokens=64))
    assert "SYSTEM-PROMPT-KEPT" in prompt and "NEW-MESSAGE" in prompt and "question 0 " not in prompt
    assert len(tokens) + 64 <= 512 and done.finish_reason in ("stop", "length")
    # a single message larger than the context is an error result, not a crash
    _, _, done, _ = collect(engine.stream([Message("user", "word " * 2000)], Sampling(max_tokens=8)))
    assert done.finish_reason == "error" and "does not fit" in done.error
    engine.close()


# -- bad input: one clear line each ---------------------------------------------


def _one_line(exc):
    text = str(exc.value)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def test_missing_model(tmp_path):
    with pytest.raises(ModelError) as err:
        LlamaEngine(tmp_path / "nope.gguf", threads=1).load()
    assert "not found" in _one_line(err)


def test_directory_instead_of_model(tmp_path):
    with pytest.raises(ModelError) as err:
        LlamaEngine(tmp_path, threads=1).load()
    assert "directory" in _one_line(err)


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("<html>404 Not Found</html>" * 10)
    with pytest.raises(ModelError) as err:
        LlamaEngine(bad, threads=1).load()
    assert "not a GGUF" in _one_line(err)


@pytest.mark.parametrize("fraction", [0.0001, 0.5, 0.9999])
def test_truncated_gguf(tmp_path, smol_model, fraction):
    data = smol_model.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelError) as err:
        LlamaEngine(cut, threads=1).load()
    assert "truncated" in _one_line(err)


def test_unknown_architecture(tmp_path, smol_model):
    data = bytearray(smol_model.read_bytes())
    key = b"general.architecture" + (8).to_bytes(4, "little") + (5).to_bytes(8, "little") + b"llama"
    at = data.index(key)
    data[at + len(key) - 5 : at + len(key)] = b"zebra"
    odd = tmp_path / "odd.gguf"
    odd.write_bytes(bytes(data))
    assert gguf_header.read(odd).architecture == "zebra"
    with pytest.raises(ModelError) as err:
        LlamaEngine(odd, threads=1).load()
    assert "'zebra' architecture" in _one_line(err)


OOM = textwrap.dedent("""
    import resource, sys
    from qwqchat.engines.llama import LlamaEngine
    from qwqchat.errors import QwqError
    import llama_cpp
    vm = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0].split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + 150_000_000, resource.RLIM_INFINITY))
    try:
        LlamaEngine(sys.argv[1], ctx=8192, threads=1).load()
    except QwqError as exc:
        print(exc)
        sys.exit(3)
""")


def test_not_enough_memory(smol_model):
    proc = subprocess.run([sys.executable, "-c", OOM, str(smol_model)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("not enough memory") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""  # llama.cpp's log went to the log file, not the terminal
