"""The engine in its own process (what the TUI runs, local or remote): same replies, and cancel, answer-now
and failures still work across the pipe; text that arrives faster than it is sent is merged, never held."""

import subprocess
import sys
import textwrap
import threading

import pytest

from qwqchat.engines.factory import build_engine
from qwqchat.engines.llama import LlamaEngine
from qwqchat.engines.process import ProcessEngine
from qwqchat.errors import QwqError
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, TurnDone

PROMPT = [Message("user", "Write a long story about a dragon.")]
LONG = Sampling(temperature=1.5, top_k=0, top_p=1.0, seed=3, max_tokens=2000)


def run(events, on_piece=None):
    reasoning, answer, done, n = [], [], None, 0
    for ev in events:
        if isinstance(ev, (ReasoningDelta, AnswerDelta)):
            (reasoning if isinstance(ev, ReasoningDelta) else answer).append(ev.text)
            n += ev.pieces  # merged deltas count every token they hold
            if on_piece:
                on_piece(n)
        elif isinstance(ev, TurnDone):
            assert done is None, "exactly one TurnDone"
            done = ev.result
    assert done is not None
    return "".join(reasoning), "".join(answer), done


@pytest.fixture(scope="module")
def child(qwq_model):
    engine = ProcessEngine(qwq_model, ctx=4096, threads=1)
    engine.load()
    yield engine
    engine.close()


def test_same_reply_as_in_process_with_the_same_seed(child, qwq_model):
    sampling = Sampling(max_tokens=40, seed=7, think_budget=20)
    local = LlamaEngine(qwq_model, ctx=4096, threads=1)
    local.load()
    try:
        want = run(local.stream(PROMPT, sampling))
    finally:
        local.close()
    got = run(child.stream(PROMPT, sampling))
    assert got[:2] == want[:2] and got[0] and got[1]
    assert got[2].stats.intervention == "think-budget"
    assert child.context_size == 4096 and child.describe() == "CPU" and child.name


def test_cancel_and_answer_now_cross_to_the_child(child):
    cancel, end_thinking = threading.Event(), threading.Event()

    def at(n: int) -> None:
        if n >= 5:
            end_thinking.set()
        if n >= 30:
            cancel.set()

    reasoning, answer, done = run(child.stream(PROMPT, LONG, cancel, end_thinking), at)
    assert done.stats.intervention == "answer-now"
    assert done.finish_reason == "cancelled" and len(done.answer) < 2000
    assert run(child.stream(PROMPT, Sampling(max_tokens=5, seed=1)))[2].finish_reason in ("length", "stop")


def test_a_caller_that_stops_early_leaves_the_pipe_in_step(child):
    events = child.stream(PROMPT, LONG)
    for i, _ in enumerate(events):
        if i == 3:
            break
    events.close()  # as run_turn's consumer leaving: the child is stopped and drained
    _, _, done = run(child.stream(PROMPT, Sampling(max_tokens=5, seed=1)))
    assert done.finish_reason in ("length", "stop") and done.error is None


def test_load_errors_are_one_line_and_leave_no_process(tmp_path):
    engine = ProcessEngine(tmp_path / "missing.gguf", threads=1)
    with pytest.raises(QwqError) as err:
        engine.load()
    assert "missing.gguf" in str(err.value) and "\n" not in str(err.value)
    assert engine._proc is None


def test_a_dead_child_ends_the_turn_with_what_it_said(qwq_model):
    engine = ProcessEngine(qwq_model, ctx=4096, threads=1)
    engine.load()
    try:
        victim = engine._proc

        def kill(n: int) -> None:
            if n >= 10 and victim.exitcode is None:
                victim.kill()

        _, answer, done = run(engine.stream(PROMPT, LONG), kill)
        assert done.finish_reason == "error" and "ended unexpectedly" in done.error
        assert len(done.reasoning) >= 10 or len(done.answer) >= 10
        _, _, again = run(engine.stream(PROMPT, Sampling(seed=1, max_tokens=5)))  # a new child for the next turn
        assert again.finish_reason in ("length", "stop") and again.error is None
    finally:
        engine.close()


def test_a_child_that_died_between_turns_is_replaced_not_a_crash(qwq_model):
    """Killed while idle (out of memory, a user's kill): counting tokens (every send does), warming a chat
    and the next turn must not meet a broken pipe (it crashed the app)."""
    engine = ProcessEngine(qwq_model, ctx=4096, threads=1, kv_disk_mb=64)
    engine.load()
    try:
        for step in ("count", "warm", "turn"):
            engine._proc.kill()
            engine._proc.join()
            if step == "count":
                assert engine.count_tokens("hello there") is None  # the caller estimates
            elif step == "warm":
                engine.warm(PROMPT, 1)
                assert engine._lock.acquire(timeout=10)
                engine._lock.release()
            else:
                _, _, done = run(engine.stream(PROMPT, Sampling(seed=1, max_tokens=5)))
                assert done.finish_reason in ("length", "stop") and done.error is None  # a new child
                assert engine.count_tokens("hello there") > 0
                continue
            assert engine._conn is None  # forgotten: the next turn starts another
            engine.load()
    finally:
        engine.close()


def test_the_tui_gets_its_local_model_in_a_process(qwq_model):
    from qwqchat import config

    cfg = config.resolve({"model": str(qwq_model)})
    assert isinstance(build_engine(cfg, own_process=True), ProcessEngine)
    assert isinstance(build_engine(cfg), LlamaEngine)  # ask stays in-process


def test_quick_chat_id_and_token_counts_cross_to_the_child(child, qwq_model, qwq_home):
    """What the other parts of the app ask of the local engine works the same through the process."""
    inside = LlamaEngine(qwq_model, ctx=4096, threads=1)
    inside.load()
    try:
        assert child.count_tokens("Hello there, dragon.") == inside.count_tokens("Hello there, dragon.") > 0
    finally:
        inside.close()
    quick = Sampling(temperature=0.0, seed=3, max_tokens=40)
    reasoning, answer, done = run(child.stream(PROMPT, quick, think=False, chat_id=7))
    assert reasoning == "" and done.stats.reasoning_tokens == 0 and answer


# -- a remote server read in the child ---------------------------------------------------------------------------


def remote_script(n: int = 300) -> list:
    from tests.sse_server import chunk

    return (
        [chunk(reasoning_content=f"r{i} ") for i in range(n)]
        + [chunk(f"a{i} ") for i in range(n)]
        + [chunk(finish="stop")]
    )


def test_a_server_read_in_the_child_gives_the_same_reply_in_fewer_messages():
    from qwqchat.engines.remote import RemoteEngine
    from tests.sse_server import ScriptedServer

    with ScriptedServer() as server:
        server.script = remote_script()
        inside = RemoteEngine(server.url, model="Qwen/QwQ-32B")
        inside.load()
        want = run(inside.stream(PROMPT, Sampling()))
        engine = ProcessEngine.remote(server.url, model="Qwen/QwQ-32B")
        assert (engine.can_end_thinking, engine.can_skip_thinking) == (False, False)  # as the remote engine's
        engine.load()
        try:
            events = list(engine.stream(PROMPT, Sampling()))
            got = run(iter(events))
            assert got[:2] == want[:2] == ("".join(f"r{i} " for i in range(300)), "".join(f"a{i} " for i in range(300)))
            assert got[2].stats.reasoning_tokens == want[2].stats.reasoning_tokens == 300
            deltas = [e for e in events if isinstance(e, (ReasoningDelta, AnswerDelta))]
            assert sum(e.pieces for e in deltas) == 600 and len(deltas) < 600  # merged on the way
            assert engine.context_size == 32768 and engine.describe() == inside.describe()
            assert engine.count_tokens("hello") is None  # the caller estimates, as with the remote engine
            assert engine.name == "Qwen/QwQ-32B"
        finally:
            engine.close()


def test_text_held_back_for_merging_is_sent_when_due_not_with_the_next_token():
    """A slow model's token that came just after a send waits at most the merge interval, not for the next one."""
    import time

    from tests.sse_server import ScriptedServer, chunk

    with ScriptedServer() as server:
        server.script = [chunk(reasoning_content="first "), chunk(reasoning_content="second ")]
        server.script += [("sleep", 2.0), chunk(reasoning_content="third"), chunk(finish="stop")]
        engine = ProcessEngine.remote(server.url)
        engine.load()
        try:
            seen, start = [], None
            for ev in engine.stream(PROMPT, Sampling()):
                if isinstance(ev, ReasoningDelta):
                    start = start or time.monotonic()
                    seen.append((ev.text, time.monotonic() - start))
            text = "".join(t for t, _ in seen)
            assert text == "first second third"
            second_at = next(at for t, at in seen if "second" in t)
            assert second_at < 1.0, seen  # not held until "third", 2 s later
        finally:
            engine.close()


def test_remote_failures_cross_as_one_line(tmp_path):
    from tests.sse_server import ScriptedServer, chunk, free_port

    dead = ProcessEngine.remote(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(QwqError) as err:
        dead.load()
    assert "\n" not in str(err.value) and "127.0.0.1" in str(err.value)
    with pytest.raises(Exception) as bad:
        ProcessEngine.remote("not a url")
    assert "--endpoint must be a URL" in str(bad.value)

    with ScriptedServer() as server:
        engine = ProcessEngine.remote(server.url)
        engine.load()
        try:
            server.script = [chunk(reasoning_content="so far "), ("drop",)]
            reasoning, _, done = run(engine.stream(PROMPT, Sampling()))
            assert reasoning == "so far " and done.finish_reason == "error" and "\n" not in done.error
            server.script = [("status", 401, "bad key [red]x[/red]")]
            _, _, done = run(engine.stream(PROMPT, Sampling()))
            assert done.finish_reason == "error" and ("401" in done.error or "key" in done.error)
            server.script = remote_script(2000)
            cancel = threading.Event()
            _, _, done = run(engine.stream(PROMPT, Sampling(), cancel), lambda n: n >= 50 and cancel.set())
            assert done.finish_reason == "cancelled"
            server.script = remote_script(3)  # and the pipe is in step for the next turn
            assert run(engine.stream(PROMPT, Sampling()))[1] == "a0 a1 a2 "
        finally:
            engine.close()


def test_the_tui_reads_a_server_in_a_process():
    from qwqchat import config
    from qwqchat.engines.remote import RemoteEngine

    cfg = config.resolve({"endpoint": "http://127.0.0.1:9/v1"})
    assert isinstance(build_engine(cfg, own_process=True), ProcessEngine)
    assert isinstance(build_engine(cfg), RemoteEngine)  # ask stays in-process


def test_stop_ends_the_turn_even_when_the_child_cannot_hear_it():
    """A server that never sends its headers holds the child's request: Stop ends the turn after the grace time,
    and the next turn gets a new child."""
    import time

    from qwqchat.engines import process
    from tests.sse_server import ScriptedServer

    with ScriptedServer() as server:
        engine = ProcessEngine.remote(server.url)
        engine.load()
        try:
            server.script = [("silent", 60)]
            cancel = threading.Event()
            threading.Timer(0.3, cancel.set).start()
            started = time.monotonic()
            _, _, done = run(engine.stream(PROMPT, Sampling(), cancel))
            assert done.finish_reason == "cancelled"
            assert process.STOP_GRACE_S <= 5 and time.monotonic() - started < 10  # not the server's 60 s
            server.script = remote_script(2)
            assert run(engine.stream(PROMPT, Sampling()))[1] == "a0 a1 "
        finally:
            engine.close()


def test_the_child_ends_when_the_app_is_killed(tmp_path):
    """SIGKILL or SIGTERM of the app runs no close: the child must not live on, even in a request that hangs."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.sse_server import ScriptedServer

    with ScriptedServer() as server:
        server.script = [("silent", 60)]
        code = (
            "import sys, threading; sys.path.insert(0, sys.argv[2])\n"
            "from qwqchat.engines.process import ProcessEngine\n"
            "from qwqchat.types import Message, Sampling\n"
            "e = ProcessEngine.remote(sys.argv[1]); e.load(); print(e._proc.pid, flush=True)\n"
            "for _ in e.stream([Message('user', 'hi')], Sampling()): pass\n"
        )
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, QWQCHAT_HOME=str(tmp_path))
        app = subprocess.Popen(
            [sys.executable, "-c", code, server.url, root], stdout=subprocess.PIPE, text=True, env=env
        )
        child = int(app.stdout.readline())
        time.sleep(0.5)  # the request is out, held by the silent server
        app.send_signal(signal.SIGKILL)
        app.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and running(child):
            time.sleep(0.1)
        assert not running(child), "the engine child outlived the app"


def running(pid: int) -> bool:
    from pathlib import Path

    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_an_engine_made_inside_the_running_app_starts_its_process():
    """Choosing a model on the first-run screen killed the app (ValueError: bad value(s) in fds_to_keep): the
    first engine made while Textual holds ``sys.stderr`` (its print capture's fileno is -1) started
    multiprocessing's resource tracker with that fd.  In a fresh process, as a user's first run is."""
    script = textwrap.dedent(
        """
        from textual.app import App
        from qwqchat.engines.process import ProcessEngine

        class Probe(App):
            def on_mount(self):
                try:
                    engine = ProcessEngine.remote("http://127.0.0.1:9/v1")  # (made, not loaded: no server needed)
                    self.exit(f"made {engine.name}")
                except Exception as exc:
                    self.exit(f"failed {type(exc).__name__}: {exc}")

        print(Probe().run(headless=True))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().startswith("made "), (done.stdout, done.stderr[-2000:])
