"""The remote engine against a scripted SSE server and a real llama_cpp.server, both on 127.0.0.1."""

import json
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from conftest import run_cli
from sse_server import ScriptedServer, chunk, free_port

from qwqchat.chat import run_turn
from qwqchat.engines.remote import RemoteEngine
from qwqchat.errors import QwqError
from qwqchat.store import Store
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, TurnDone

Q = [Message("user", "What is 6*7?")]


def run(engine, messages=Q, sampling=None, cancel=None):
    reasoning, answer, result = [], [], None
    for ev in engine.stream(messages, sampling or Sampling(), cancel):
        if isinstance(ev, ReasoningDelta):
            reasoning.append(ev.text)
        elif isinstance(ev, AnswerDelta):
            answer.append(ev.text)
        elif isinstance(ev, TurnDone):
            result = ev.result
    return "".join(reasoning), "".join(answer), result


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def engine_for(server, **kw):
    engine = RemoteEngine(server.url, **kw)
    engine.load()
    return engine


USAGE = {"usage": {"prompt_tokens": 17, "completion_tokens": 9, "total_tokens": 26}}


def test_vllm_reasoning_content_then_answer(server):
    server.script = [
        chunk(reasoning_content="Six times "),
        chunk(reasoning_content="seven."),
        chunk(content="\n\n**42**"),
        chunk(finish="stop"),
        {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "qwq", "choices": [], **USAGE},
    ]
    engine = engine_for(server)
    assert engine.model == "Qwen/QwQ-32B" and engine.context_size == 32768  # first listed model
    reasoning, answer, result = run(engine)
    assert (reasoning, answer) == ("Six times seven.", "**42**")
    assert result.finish_reason == "stop" and result.stats.prompt_tokens == 17
    assert result.stats.reasoning_tokens + result.stats.answer_tokens == 9


def test_newer_vllm_and_ollama_send_reasoning(server):
    server.models = [{"id": "qwq:32b", "object": "model"}]
    server.script = [chunk(reasoning="hmm "), chunk(reasoning="ok"), chunk(content="Answer."), chunk(finish="stop")]
    reasoning, answer, result = run(engine_for(server))
    assert (reasoning, answer) == ("hmm ok", "Answer.") and not result.unclosed_thinking


def test_inline_thinking_with_both_tags(server):
    server.models = [{"id": "llama-3-8b", "object": "model"}]
    server.script = [chunk("<thi"), chunk("nk>\nplan"), chunk(" it</th"), chunk("ink>\n\nDone.")]
    reasoning, answer, _ = run(engine_for(server))
    assert (reasoning, answer) == ("plan it", "Done.")


def test_inline_thinking_with_only_the_closing_tag(server):
    server.script = [chunk("thinking"), chunk(" hard\n</think>"), chunk("\n\n42"), chunk(finish="stop")]
    reasoning, answer, _ = run(engine_for(server))  # QwQ: the server's template opened <think>
    assert (reasoning, answer) == ("thinking hard", "42")


def test_llama_server_timings_give_the_speed(server):
    server.script = [
        chunk(reasoning_content="r"),
        chunk(content="a", finish="stop", timings={"predicted_per_second": 37.5, "prompt_n": 5}),
    ]
    _, _, result = run(engine_for(server))
    assert result.stats.decode_tokens_per_s == 37.5 and result.stats.prompt_tokens_evaluated == 5


def test_sampling_and_history_sent_as_servers_expect(server):
    server.script = [chunk(content="fine", finish="stop")]
    engine = engine_for(server, model="Qwen/QwQ-32B", api_key="sk-test")
    store = Store()
    cid = store.create_conversation(system_prompt="Be brief.")
    store.add_user_message(cid, "first")
    mid = store.start_reply(cid)
    store.finish_reply(mid, "SECRET THOUGHTS", "first answer", "stop")
    store.add_user_message(cid, "second")
    list(run_turn(engine, store, cid, Sampling(max_tokens=64, seed=3, presence_penalty=1.0)))
    body = server.requests[-1]
    assert body["model"] == "Qwen/QwQ-32B" and body["stream"] is True
    assert (body["temperature"], body["top_p"], body["top_k"], body["min_p"]) == (0.6, 0.95, 40, 0.0)
    assert body["presence_penalty"] == 1.0 and body["max_tokens"] == 64 and body["seed"] == 3
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second"},
    ]
    assert server.headers[-1]["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    "code,message,expect",
    [
        (401, "invalid api key", "refused the request (401): invalid api key — check the API key"),
        (403, "forbidden for this key", "(403): forbidden for this key"),
        (404, "model 'x' does not exist", "404: model 'x' does not exist"),
        (429, "slow down", "rate-limiting (429): slow down"),
        (500, "CUDA out of memory", "answered 500: CUDA out of memory"),
        (503, "loading model", "answered 503: loading model"),
    ],
)
def test_http_errors_carry_the_servers_message(server, code, message, expect):
    server.script = [("status", code, message)]
    _, _, result = run(engine_for(server))
    assert result.finish_reason == "error" and expect in result.error and "\n" not in result.error


def test_stream_that_stops_mid_reply_keeps_the_partial_text(server):
    server.script = [chunk(reasoning_content="half a "), chunk(reasoning_content="thought"), ("drop",)]
    reasoning, _, result = run(engine_for(server))
    assert result.finish_reason == "error" and reasoning == "half a thought" == result.reasoning
    assert "before the reply finished" in result.error or "broke mid-reply" in result.error


def test_malformed_sse_is_an_error_not_a_hang(server):
    server.script = [chunk(reasoning_content="ok so far"), ("raw", b"data: {not json\n\n"), chunk(content="never")]
    reasoning, answer, result = run(engine_for(server))
    assert result.finish_reason == "error" and reasoning == "ok so far" and answer == ""


def test_server_that_never_sends_a_byte_times_out(server):
    server.script = [("silent", 10)]
    engine = RemoteEngine(server.url, timeout=1.0)
    engine.load()
    started = time.monotonic()
    _, _, result = run(engine)
    assert result.finish_reason == "error" and "did not answer in time" in result.error
    assert time.monotonic() - started < 8


def test_stop_closes_the_stream_at_once(server):
    server.script = [chunk(reasoning_content="first "), ("sleep", 20), chunk(content="late")]
    engine = engine_for(server)
    cancel = threading.Event()
    started = time.monotonic()
    result = None
    for ev in engine.stream(Q, Sampling(), cancel):
        if isinstance(ev, ReasoningDelta):
            threading.Timer(0.2, cancel.set).start()
        if isinstance(ev, TurnDone):
            result = ev.result
    assert result.finish_reason == "cancelled" and result.reasoning.strip() == "first"
    assert time.monotonic() - started < 3


def test_stop_before_the_server_answers_ends_at_once(server):
    """A server that has not sent its headers held Stop until the process engine killed its child (3 s)."""
    server.script = [("silent", 4)]
    engine = engine_for(server)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    _, _, result = run(engine, cancel=cancel)
    assert result.finish_reason == "cancelled" and result.error is None
    assert time.monotonic() - started < 1.0
    server.script = [chunk(reasoning_content="then "), chunk(content="after", finish="stop")]
    _, answer, result = run(engine)  # the next turn is not held by the request left waiting
    assert answer == "after" and result.finish_reason == "stop"


def test_unreachable_servers_fail_with_one_line():
    with pytest.raises(QwqError, match="connection refused"):
        RemoteEngine(f"http://127.0.0.1:{free_port()}/v1", connect_timeout=2).load()


def test_tls_error(server):
    with pytest.raises(QwqError, match="TLS error"):
        RemoteEngine(f"https://127.0.0.1:{server.port}/v1").load()


def test_dns_failure_is_named():
    import openai

    from qwqchat.engines.remote import describe_error

    exc = openai.APIConnectionError(request=None)
    exc.__cause__ = OSError("[Errno -2] Name or service not known")
    assert (
        describe_error(exc, "http://gpu-box:8000/v1")
        == "cannot resolve the host of http://gpu-box:8000/v1 (DNS lookup failed)"
    )


def test_bad_endpoint_is_bad_input():
    from qwqchat.errors import BadInput

    with pytest.raises(BadInput):
        RemoteEngine("gpu-box:8000")


def test_api_key_never_reaches_database_logs_or_exports(server, qwq_home, tmp_path):
    server.script = [chunk(reasoning_content="r"), chunk(content="answer", finish="stop")]
    proc = run_cli("ask", "--endpoint", server.url, "--api-key", "sk-VERY-SECRET", "--json", "hello")
    assert proc.returncode == 0, proc.stderr
    cid = json.loads(proc.stdout)["conversation_id"]
    assert server.headers[-1]["authorization"] == "Bearer sk-VERY-SECRET"
    out = tmp_path / "e.md"
    run_cli("export", str(cid), "-o", str(out))
    run_cli("export", str(cid), "--json", "-o", str(tmp_path / "e.json"))
    for path in [*qwq_home.rglob("*"), out, tmp_path / "e.json"]:
        if path.is_file():
            assert b"sk-VERY-SECRET" not in path.read_bytes(), path


def test_profiles_switch_between_local_and_remote(server, qwq_home, smol_model):
    qwq_home.mkdir(parents=True, exist_ok=True)
    (qwq_home / "config.toml").write_text(
        f'model = "{smol_model}"\n'
        f'[profiles.box]\nendpoint = "{server.url}"\nmodel = "Qwen/QwQ-32B"\napi_key_env = "BOX_KEY"\n'
    )
    server.script = [chunk(reasoning_content="r"), chunk(content="from the box", finish="stop")]
    remote = run_cli("ask", "--profile", "box", "--json", "hi", env_extra={"BOX_KEY": "k1"})
    assert json.loads(remote.stdout)["answer"] == "from the box"
    assert server.headers[-1]["authorization"] == "Bearer k1"
    local = run_cli("ask", "--json", "--max-tokens", "5", "hi")
    assert local.returncode == 0 and len(server.requests) == 1
    missing = run_cli("ask", "--profile", "nope", "hi")
    assert missing.returncode == 2 and "no profile 'nope'" in missing.stderr


# -- a real OpenAI-compatible server: llama_cpp.server ---------------------------


def start_llama_server(model):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("llama_cpp.server exited")
        try:
            urllib.request.urlopen(url + "/models", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start")


@pytest.fixture(scope="module")
def llama_server(qwq_model):
    proc, url = start_llama_server(qwq_model)
    yield url
    proc.terminate()
    proc.wait(10)


def test_real_server_streams_reasoning_inline(llama_server):
    engine = RemoteEngine(llama_server)
    engine.load()
    assert "qwq" in engine.model  # llama_cpp.server names the model by its path
    reasoning, answer, result = run(engine, sampling=Sampling(max_tokens=40, seed=1))
    assert reasoning and "<think>" not in reasoning and "</think>" not in reasoning + answer
    assert result.finish_reason in ("stop", "length") and result.stats.reasoning_tokens > 0


def test_real_server_conversation_continues(llama_server, qwq_home):
    engine = RemoteEngine(llama_server)
    engine.load()
    store = Store()
    cid = store.create_conversation()
    for prompt in ("Name a fruit.", "And a vegetable?"):
        store.add_user_message(cid, prompt)
        events = list(run_turn(engine, store, cid, Sampling(max_tokens=20, seed=2)))
        assert isinstance(events[-1], TurnDone) and events[-1].result.finish_reason in ("stop", "length")
    conv = store.get(cid)
    assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
    assert conv.messages[1].reasoning and conv.messages[3].reasoning


def test_real_server_stop_mid_stream(llama_server):
    engine = RemoteEngine(llama_server)
    engine.load()
    cancel = threading.Event()
    count, result = 0, None
    for ev in engine.stream(Q, Sampling(max_tokens=500, temperature=1.5, top_k=0, top_p=1.0, seed=4), cancel):
        if isinstance(ev, (ReasoningDelta, AnswerDelta)):
            count += 1
            if count == 5:
                cancel.set()
        if isinstance(ev, TurnDone):
            result = ev.result
    assert result.finish_reason == "cancelled" and result.reasoning and result.stats.reasoning_tokens <= 7


def test_real_server_killed_mid_reply(qwq_model):
    proc, url = start_llama_server(qwq_model)
    try:
        engine = RemoteEngine(url, timeout=20)
        engine.load()
        count, result = 0, None
        for ev in engine.stream(Q, Sampling(max_tokens=1000, temperature=1.5, top_k=0, top_p=1.0, seed=5)):
            if isinstance(ev, (ReasoningDelta, AnswerDelta)):
                count += 1
                if count == 10:
                    proc.kill()
            if isinstance(ev, TurnDone):
                result = ev.result
        assert result.finish_reason == "error" and result.reasoning
        assert "\n" not in result.error
    finally:
        proc.kill()
        proc.wait()


def test_cli_and_app_against_the_real_server(llama_server, qwq_home):
    proc = run_cli("ask", "--endpoint", llama_server, "--max-tokens", "30", "--seed", "1", "--json", "Hello")
    out = json.loads(proc.stdout)
    assert out["reasoning"]
    assert proc.returncode == (0 if out["answer"] else 3), proc.stderr  # 3: the model gave no answer
