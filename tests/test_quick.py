"""Think / Quick per message: the engines, routing to the fast profile, ``ask --quick`` and the app's keys."""

import json

import pytest
from conftest import run_cli
from sse_server import ScriptedServer, chunk
from uihelpers import CHUNKS, Gate, finished, make_app, ready, send, wait_until

from qwqchat import config, quick
from qwqchat.chat import run_turn
from qwqchat.engines.remote import RemoteEngine
from qwqchat.engines.replay import ReplayEngine
from qwqchat.errors import QUICK_NEEDS, BadInput
from qwqchat.store import Store
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, TurnDone
from qwqchat.ui.keys import KEYS, key_text

QUESTION = [Message("user", "What is the capital of France?")]


def result_of(events):
    return [e for e in events if isinstance(e, TurnDone)][-1].result


def spy_prompts(engine, monkeypatch) -> list:
    """The token lists ``Llama.generate`` is called with, as text (the prompt the model really saw)."""
    seen = []
    real = engine.llm.generate

    def generate(tokens, **kw):
        seen.append(engine.llm.detokenize(list(tokens), special=True).decode("utf-8", errors="replace"))
        return real(tokens, **kw)

    monkeypatch.setattr(engine.llm, "generate", generate)
    return seen


# -- the local engine on the real test model -----------------------------------------


def test_quick_closes_the_thinking_before_generation(qwq, monkeypatch):
    prompts = spy_prompts(qwq, monkeypatch)
    events = list(qwq.stream(QUESTION, Sampling(max_tokens=40, seed=1), think=False))
    result = result_of(events)
    assert prompts[0].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert result.stats.reasoning_tokens == 0 and not any(isinstance(e, ReasoningDelta) for e in events)
    assert result.reasoning == "" and result.answer.strip() and result.stats.answer_tokens > 0
    assert result.stats.thinking_s == 0 and not result.unclosed_thinking


def test_think_is_unchanged(qwq, monkeypatch):
    prompts = spy_prompts(qwq, monkeypatch)
    result = result_of(qwq.stream(QUESTION, Sampling(max_tokens=20, seed=1)))
    assert prompts[0].endswith("<|im_start|>assistant\n<think>\n") and result.stats.reasoning_tokens > 0


def test_a_plain_chat_template_gets_no_think_block(smol, monkeypatch):
    prompts = spy_prompts(smol, monkeypatch)
    result = result_of(smol.stream(QUESTION, Sampling(max_tokens=20, seed=1), think=False))
    assert "<think>" not in prompts[0] and prompts[0].endswith("<|im_start|>assistant\n")
    assert result.stats.reasoning_tokens == 0 and result.answer.strip()


@pytest.fixture
def smol(smol_model):
    from qwqchat.engines.llama import LlamaEngine

    engine = LlamaEngine(smol_model, ctx=2048, threads=1)
    engine.load()
    yield engine
    engine.close()


def test_run_turn_records_a_quick_answer_and_its_model(qwq, qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "What is 2+2?")
    result = result_of(run_turn(qwq, store, cid, Sampling(max_tokens=30, seed=2), think=False))
    saved = store.get(cid).messages[-1]
    assert saved.stats.quick and saved.stats.model == qwq.name and saved.stats.reasoning_tokens == 0
    assert saved.content == result.answer and saved.reasoning == ""


# -- the replay engine (UI tests) and routing ----------------------------------------------


def test_replay_quick_sends_only_the_answer():
    events = list(ReplayEngine(CHUNKS).stream(QUESTION, Sampling(), think=False))
    result = result_of(events)
    assert result.reasoning == "" and result.stats.reasoning_tokens == 0
    assert result.answer == "".join(CHUNKS).split("</think>", 1)[1].lstrip()
    assert all(isinstance(e, (AnswerDelta, TurnDone)) for e in events)


def test_routing():
    main, fast, remote = ReplayEngine([]), ReplayEngine([]), RemoteEngine("http://127.0.0.1:9/v1")
    assert quick.route(main, None, think=False) is main
    assert quick.route(main, fast, think=False) is fast and quick.route(main, fast, think=True) is main
    assert quick.route(remote, fast, think=False) is fast and quick.route(remote, None, think=True) is remote
    with pytest.raises(BadInput, match="Quick needs a local model or a `fast` profile"):
        quick.route(remote, None, think=False)


def test_a_remote_engine_never_thinks_in_quick_mode():
    result = result_of(RemoteEngine("http://127.0.0.1:9/v1").stream(QUESTION, Sampling(), think=False))
    assert result.finish_reason == "error" and result.error == QUICK_NEEDS


def write_config(home, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_fast_profile_is_read_on_first_use_and_kept(qwq_home, smol_model, monkeypatch):
    write_config(qwq_home, f'fast_profile = "fast"\n[profiles.fast]\nmodel = "{smol_model}"\nctx = 1024\n')
    monkeypatch.setenv("QWQCHAT_MODEL", "/main/model.gguf")  # the main model's: never the fast one's
    cfg = config.load()
    assert cfg.fast_profile == "fast" and cfg.model == "/main/model.gguf"
    fast = config.fast_settings(cfg)
    assert fast.model == str(smol_model) and fast.ctx == 1024
    engine = quick.fast_engine(cfg)
    assert engine is not None and engine.inner is None  # nothing built yet, and named by its model file
    assert engine.name == smol_model.stem
    assert quick.fast_engine(config.Config()) is None


def test_a_fast_profile_without_a_model_is_one_line(qwq_home):
    write_config(qwq_home, 'model = "/main.gguf"\nfast_profile = "fast"\n[profiles.fast]\nctx = 1024\n')
    with pytest.raises(BadInput, match="the fast profile 'fast' names no model file or endpoint"):
        config.fast_settings(config.load())
    assert quick.fast_engine(config.load()).name == "fast"  # the profile's own name until then
    engine = quick.fast_engine(config.load())
    result = result_of(engine.stream(QUESTION, Sampling(), think=False))
    assert result.finish_reason == "error" and "names no model file or endpoint" in result.error


# -- the command line -----------------------------------------------------------------------


def test_ask_quick_answers_without_thinking(qwq_model):
    proc = run_cli("ask", "--model", str(qwq_model), "--quick", "--json", "--max-tokens", "30", "--seed", "1", "Hi")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["reasoning"] == "" and out["answer"].strip()
    assert out["stats"]["quick"] and out["stats"]["reasoning_tokens"] == 0
    saved = Store().get(out["conversation_id"]).messages[-1]
    assert saved.stats.quick and saved.stats.reasoning_tokens == 0


def test_ask_quick_on_a_remote_server_without_a_fast_profile_is_refused(qwq_home):
    with ScriptedServer() as server:
        proc = run_cli("ask", "--endpoint", server.url, "--quick", "hi")
        assert proc.returncode == 2 and proc.stderr.strip() == f"qwqchat: error: {QUICK_NEEDS}"
        assert server.requests == []  # nothing was sent, and nothing saved
    assert Store().list_conversations() == []


def test_ask_quick_goes_to_the_fast_profile(qwq_home):
    with ScriptedServer() as main, ScriptedServer() as fast:
        fast.models = [{"id": "small-model", "object": "model"}]
        fast.script = [chunk(content="Paris.", finish="stop")]
        write_config(
            qwq_home, f'endpoint = "{main.url}"\nfast_profile = "fast"\n[profiles.fast]\nendpoint = "{fast.url}"\n'
        )
        proc = run_cli("ask", "--quick", "--json", "Capital of France?")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["answer"] == "Paris." and out["stats"]["quick"] and out["stats"]["model"] == "small-model"
        assert main.requests == [] and len(fast.requests) == 1
        saved = Store().get(out["conversation_id"]).messages[-1]
        assert saved.stats.model == "small-model" and saved.stats.quick


def test_the_tui_s_fast_profile_runs_in_its_own_process_and_answers_directly(qwq_home, smol_model):
    """As the main engine: painting never holds the GIL the fast model (or its server's reader) needs."""
    from qwqchat.engines.process import ProcessEngine

    with ScriptedServer() as fast:
        fast.models = [{"id": "small-model", "object": "model"}]
        fast.script = [chunk(content="Paris.", finish="stop")]
        write_config(qwq_home, f'fast_profile = "fast"\n[profiles.fast]\nendpoint = "{fast.url}"\n')
        engine = quick.fast_engine(config.load(), own_process=True)
        assert engine is not None
        try:
            result = result_of(engine.stream(QUESTION, Sampling(), think=False))
            assert isinstance(engine.inner, ProcessEngine) and engine.inner._proc is not None
            assert result.error is None and result.answer == "Paris."  # the child's RemoteEngine took Quick
        finally:
            engine.close()
    write_config(qwq_home, f'fast_profile = "fast"\n[profiles.fast]\nmodel = "{smol_model}"\nctx = 1024\n')
    engine = quick.fast_engine(config.load(), own_process=True)
    try:
        result = result_of(engine.stream(QUESTION, Sampling(max_tokens=8, seed=1), think=False))
        assert isinstance(engine.inner, ProcessEngine) and result.error is None
    finally:
        engine.close()


# -- the app ----------------------------------------------------------------------------------


def quick_app(engine=None, fast=None):
    app = make_app(engine or ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m"))
    app.fast_engine = fast
    return app


async def test_f6_switches_the_mode_shown_on_the_status_line(qwq_home):
    engine = ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m")
    app = quick_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert str(app.status.render()).startswith("Think · qwq-32b-q4_k_m")
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Quick · qwq-32b-q4_k_m")
        await send(pilot, "capital of France?")
        await finished(pilot)
        await send(pilot, "and of Italy?")  # the mode holds for each message sent while it is on
        await finished(pilot)
        assert engine.thinks == [False, False]
        turn = app.view.last_turn()
        assert not turn.fold.display and turn.answer.text.strip()
        note = str(turn.note.render())
        assert note.startswith("Quick answer · qwq-32b-q4_k_m · F7 Think about it") and "Thought for" not in note
        saved = Store().get(app.conversation.id).messages[-1]
        assert saved.stats.quick and saved.reasoning == ""
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Think · ")
        await send(pilot, "why?")
        await finished(pilot)
        assert engine.thinks[-1] is True and "Quick answer" not in str(app.view.last_turn().note.render())


async def test_think_about_it_regenerates_the_quick_answer_with_thinking(qwq_home):
    engine = ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m")
    app = quick_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f7")  # nothing to think about yet
        assert app.notified[-1].startswith("Think about it follows a Quick answer")
        await pilot.press("f6")
        await send(pilot, "capital of France?")
        await finished(pilot)
        app.turns_before_send = app.turns_finished
        await pilot.press("f7")
        await finished(pilot)
        assert engine.thinks == [False, True] and engine.requests[1][-1].content == "capital of France?"
        messages = Store().get(app.conversation.id).messages
        assert [m.role for m in messages] == ["user", "assistant"]  # regenerate's path: the reply replaced
        assert not messages[-1].stats.quick and messages[-1].stats.reasoning_tokens > 0
        turn = app.view.last_turn()
        assert turn.fold.display and turn.fold.title.startswith("Thought")
        assert app.chat.think is False  # the mode itself is unchanged
        await pilot.press("f7")  # the reply now thought: nothing more to do
        assert app.notified[-1].startswith("Think about it follows a Quick answer")


async def test_quick_with_a_remote_main_engine_and_no_fast_profile_is_refused(qwq_home):
    with ScriptedServer() as server:
        app = quick_app(RemoteEngine(server.url))
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            await pilot.press("f6")
            await send(pilot, "hi")
            await wait_until(pilot, lambda: QUICK_NEEDS in app.notified, what="the refusal")
            assert app.prompt.text == "hi" and app.conversation is None and server.requests == []


async def test_quick_goes_to_the_fast_engine_and_names_it(qwq_home):
    main, fast = ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m"), ReplayEngine(CHUNKS, name="small-fast")
    app = quick_app(main, fast)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Quick · small-fast · ")  # it said the main model's name
        await send(pilot, "capital of France?")
        await finished(pilot)
        assert main.requests == [] and fast.thinks == [False]
        assert str(app.view.last_turn().note.render()).startswith("Quick answer · small-fast · F7")
        assert Store().get(app.conversation.id).messages[-1].stats.model == "small-fast"
        app.turns_before_send = app.turns_finished
        await pilot.press("f7")
        await finished(pilot)
        assert main.thinks == [True] and len(fast.requests) == 1
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Think · qwq-32b-q4_k_m · replay · ")


async def test_the_status_line_names_the_fast_model_and_its_context_once_it_has_loaded(qwq_home):
    """Quick on: the line named the main model (then the profile), and kept the main model's context after a
    Quick reply from the fast one; back to Think, the main model's again."""

    class Small(ReplayEngine):
        context_size = 2048

    fast = quick.LazyEngine(lambda: Small(CHUNKS, name="small-fast-q8"), "small-fast")
    app = quick_app(fast=fast)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Quick · small-fast · ready")  # (not loaded: no context yet)
        await send(pilot, "capital of France?")
        await finished(pilot)
        line = str(app.status.render())
        assert line.startswith("Quick · small-fast-q8 · replay · ") and " / 2,048 tokens" in line
        await pilot.press("f6")
        assert str(app.status.render()).startswith("Think · qwq-32b-q4_k_m · replay · ")
        assert " / 32,768 tokens" in str(app.status.render())


async def test_the_palette_and_help_offer_both_keys(qwq_home):
    app = quick_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        live = {b.binding.action: key for key, b in app.active_bindings.items()}
        for action, key in (("toggle_quick", "f6"), ("think_about_it", "f7")):
            title = next(k.title for k in KEYS if k.action == action)
            assert commands[title].help == key_text(key) and live[action] == key
            assert commands[title].callback.__name__ == f"action_{action}"
        commands[next(k.title for k in KEYS if k.action == "toggle_quick")].callback()
        assert str(app.status.render()).startswith("Quick · ")


async def test_answer_now_during_a_quick_turn_has_no_thinking_to_end(qwq_home):
    gate = Gate(0)
    engine = ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m", pace=gate)
    engine.can_end_thinking = True  # as the local engine: F9 acts while a turn runs
    app = quick_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await send(pilot, "capital of France?")
        await gate.wait_reached()  # streaming, nothing answered yet
        await pilot.press("f9")
        assert app.notified[-1] == "The model is already answering" and not app.stream.end_thinking.is_set()
        gate.release()
        await finished(pilot)


def test_the_markdown_export_says_quick_answer_and_names_the_model(qwq_home):
    from qwqchat.export import to_markdown

    store = Store()
    cid = store.create_conversation(model="qwq-32b")
    store.add_user_message(cid, "capital of France?")
    result_of(run_turn(ReplayEngine(CHUNKS, name="small<b>fast"), store, cid, Sampling(), think=False))
    text = to_markdown(store.get(cid))
    assert "<sub>Quick answer · small&lt;b>fast · answer " in text and "<details>" not in text
