"""Issue 13: every path a user takes works the first time (remote-only TUI, edit without loss, offline first run,
keys and layout in a real terminal, counters, output)."""

from __future__ import annotations

import pytest
from sse_server import ScriptedServer, chunk
from uihelpers import Gate, finished, make_app, ready, send, wait_until

from qwqchat import config
from qwqchat.cli import main
from qwqchat.store import Store
from qwqchat.ui.run import build_app


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def status_text(app) -> str:
    return str(app.status.render())


# -- 1. remote-only TUI ---------------------------------------------------------------


async def chat_remotely(app, server) -> None:
    from qwqchat.ui.screens.first_run import FirstRunScreen

    server.script = [chunk(reasoning_content="Six times seven."), chunk(content="**42**"), chunk(finish="stop")]
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        assert not isinstance(app.screen, FirstRunScreen)
        assert app.engine_ready and not app.engine_error, app.engine_error
        text = status_text(app)
        assert f"127.0.0.1:{server.port}" in text and "Qwen/QwQ-32B" in text, text
        await send(pilot, "What is 6*7?")
        await finished(pilot)
        assert "42" in app.view.last_turn().answer.text
    assert server.requests[-1]["messages"][-1]["content"] == "What is 6*7?"


async def test_endpoint_without_a_local_model_opens_the_chat(server, qwq_home):
    await chat_remotely(build_app({"endpoint": server.url}), server)


async def test_remote_profile_without_a_local_model_opens_the_chat(server, qwq_home):
    from qwqchat.paths import config_path

    config_path().write_text(f'[profiles.box]\nendpoint = "{server.url}"\nmodel = "Qwen/QwQ-32B"\n')
    await chat_remotely(build_app({"profile": "box"}), server)


# -- 2. F4 keeps the old exchange until the edited prompt is sent ------------------------


def shown_users(app) -> list:
    from qwqchat.ui.widgets.turn import UserMessage

    return [w.prompt_text for w in app.view.query(UserMessage) if w.display]


async def test_edit_then_escape_keeps_the_exchange_in_the_database_and_on_screen(qwq_home):
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "first prompt")
        await finished(pilot)
        app.prompt.text = "a draft"
        await pilot.press("f4")
        assert app.prompt.text == "first prompt"
        assert len(Store().get(app.conversation.id).messages) == 2  # nothing deleted yet
        assert shown_users(app) == []
        await pilot.press("escape")
        assert app.prompt.text == "a draft"
        assert shown_users(app) == ["first prompt"] and app.view.last_turn().display
        assert [m.role for m in Store().get(app.conversation.id).messages] == ["user", "assistant"]
        await pilot.press("f4")
        app.prompt.text = "second prompt"
        await send(pilot, "second prompt")
        await finished(pilot)
        conv = Store().get(app.conversation.id)
        assert [m.content for m in conv.messages if m.role == "user"] == ["second prompt"]
        assert shown_users(app) == ["second prompt"] and len(app.view.turns()) == 1


async def test_edit_then_quit_loses_nothing(qwq_home):
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "keep me")
        await finished(pilot)
        cid = app.conversation.id
        await pilot.press("f4")
        await pilot.press("ctrl+q")
    assert [m.role for m in Store().get(cid).messages] == ["user", "assistant"]


# -- 3. offline first run and pull ------------------------------------------------------


class ConnectError(Exception):  # named like the hub client's own exceptions, which hub_error reads by name
    pass


class ReadError(Exception):
    pass


def test_offline_and_interrupted_are_told_apart_in_one_line():
    from qwqchat.models import hub, hub_errors

    dns = hub_errors.hub_error(ConnectError("[Errno -2] Name or service not known"), hub.REPO, "qwq-32b-q4_k_m.gguf")
    refused = hub_errors.hub_error(ConnectError("[Errno 111] Connection refused"), hub.REPO)
    cut = hub_errors.hub_error(ReadError("[Errno 104] Connection reset by peer"), hub.REPO, "qwq-32b-q4_k_m.gguf")
    assert (
        isinstance(dns, hub_errors.HubOffline)
        and str(dns) == "offline: cannot reach huggingface.co (DNS lookup failed)"
    )
    assert isinstance(refused, hub_errors.HubOffline) and "connection refused" in str(refused)
    assert isinstance(cut, hub_errors.HubInterrupted)
    assert str(cut) == "the download of qwq-32b-q4_k_m.gguf was interrupted (connection reset by peer)"
    assert all("run the same command" not in str(e) and len(str(e)) <= 80 for e in (dns, refused, cut))


def test_pull_offline_fails_at_once_with_one_line_and_no_retries():
    import time

    from conftest import run_cli
    from sse_server import free_port

    started = time.monotonic()
    port = free_port()
    r = run_cli("pull", "Qwen/QwQ-32B-GGUF:Q4_K_M", env_extra={"HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    took = time.monotonic() - started
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"qwqchat: error: offline: cannot reach 127.0.0.1:{port} (connection refused)"]
    assert took < 10, took  # the hub client's own back-off took 23 s


def test_pull_on_a_cpu_only_machine_speaks_of_ram_not_layers(monkeypatch, capsys):
    from qwqchat.models import fit, hub, hub_errors

    monkeypatch.setattr("qwqchat.models.machine.gpus", lambda: [])
    monkeypatch.setattr("qwqchat.models.machine.system_available", lambda: 24 * fit.GiB)
    monkeypatch.setattr("qwqchat.models.machine.physical_cores", lambda: 2)
    monkeypatch.setattr(hub, "pull", lambda *a, **k: (_ for _ in ()).throw(hub_errors.HubOffline("offline: test")))
    assert main(["pull"]) == 1
    err = capsys.readouterr().err
    assert err.endswith("qwqchat: error: offline: test\n"), err
    assert "CPU with" in err and "tokens/s on this CPU" in err and "layers" not in err, err


@pytest.fixture
def fixed_machine(monkeypatch):
    """A 24 GiB CPU-only machine whatever runs the test, so the first-run screen is the same everywhere."""
    from qwqchat.models import fit

    monkeypatch.setattr("qwqchat.models.machine.gpus", lambda: [])
    monkeypatch.setattr("qwqchat.models.machine.system_available", lambda: 24 * fit.GiB)
    monkeypatch.setattr("qwqchat.models.machine.physical_cores", lambda: 2)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)


def offline_pull(monkeypatch):
    from qwqchat.models import hub, hub_errors

    def pull(target, progress=None, cancel=None, endpoint=None):
        raise hub_errors.hub_error(ConnectError("[Errno -2] Name or service not known"), target.repo, target.files[0])

    monkeypatch.setattr(hub, "pull", pull)


def first_run_app():
    from qwqchat.ui.app import QwqChatApp

    return QwqChatApp(config.load(), Store(), None, "no model configured", save_theme=False, first_run=True)


async def test_first_run_offline_says_so_in_one_line_and_offers_no_resume(fixed_machine, monkeypatch, qwq_home):
    from textual.widgets import Button, ProgressBar

    offline_pull(monkeypatch)
    app = first_run_app()
    async with app.run_test(size=(150, 45)) as pilot:
        screen = app.screen
        await pilot.click("#download")
        error = screen.query_one("#first-run-error")
        await wait_until(pilot, lambda: "✗" in str(error.render()), what="the failure")
        text = str(error.render())
        assert text == "✗ Offline: cannot reach huggingface.co (DNS lookup failed)", text
        assert str(screen.query_one("#download", Button).label) == "Try again"  # nothing to resume
        assert not screen.query_one("#pull-bar", ProgressBar).display  # no "--%" pulsing on


async def test_get_a_model_from_the_palette_opens_the_first_run_screen_again(fixed_machine, qwq_home):
    from qwqchat.ui.app import GET_MODEL
    from qwqchat.ui.screens.first_run import FirstRunScreen

    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*GET_MODEL[:-1])

        def offered() -> bool:
            lists = app.screen.query("OptionList")
            return bool(lists) and any(GET_MODEL in str(o.prompt) for o in lists.first().options)

        await wait_until(pilot, offered, what="the command in the palette")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), what="the first-run screen")
        await pilot.press("escape")
        assert not isinstance(app.screen, FirstRunScreen) and app.engine_ready  # the model is still there


# -- 4. keys in a real terminal -------------------------------------------------------------


async def test_keys_typed_while_the_app_mounts_go_to_the_prompt(qwq_home):
    """The screen focuses its AUTO_FOCUS widget while the app's on_mount is still awaiting (in a terminal, the
    first half second); that was the chat filter."""
    import asyncio

    from qwqchat.ui.app import QwqChatApp

    focused_during_mount = []

    class Probe(QwqChatApp):
        async def on_mount(self) -> None:
            for _ in range(500):  # a slow first mount: the screen focuses something meanwhile (10 s at most)
                if self.focused is not None:
                    break
                await asyncio.sleep(0.02)
            focused_during_mount.append(self.focused)
            await super().on_mount()

    base = make_app()
    app = Probe(base.cfg, base.store, base.engine, save_theme=False)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        assert focused_during_mount == [app.prompt], focused_during_mount


async def test_down_from_the_filter_goes_to_the_results(qwq_home):
    from textual.widgets import ListView

    store = Store()
    for title in ("alpha", "beta"):
        store.rename(store.create_conversation(model="m"), title)
    app = make_app(store=store)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f")
        assert app.focused.id == "chat-filter"
        await pilot.press("down")
        chats = app.query_one("#chat-list", ListView)
        assert app.focused is chats and chats.index == 0


def test_readme_and_help_promise_no_alt_enter():
    from pathlib import Path

    from qwqchat.ui.screens.help import PROMPT_KEYS

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "Alt+Enter" not in readme and not any("Alt+Enter" in k for k, _ in PROMPT_KEYS)


# -- 5. layout -----------------------------------------------------------------------------------


def fully_visible(screen, widget) -> bool:
    region = widget.region
    return (
        region.height > 0 and screen.region.contains_region(region) and screen.find_widget(widget).region == region
    )  # laid out and not cut by a scrolled container


@pytest.mark.parametrize("size", [(80, 24), (90, 40), (150, 45)])
async def test_settings_dialog_fits_a_short_terminal_and_shows_its_own_keys(qwq_home, size):
    from textual.widgets import Footer

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await pilot.pause(0.1)
        screen = app.screen
        screen.query_one("#temperature").value = "hot"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        for wid in ("#save", "#cancel", "#settings-error"):
            assert fully_visible(screen, screen.query_one(wid)), (wid, screen.query_one(wid).region)
        assert "not a number" in str(screen.query_one("#settings-error").render())
        footer = screen.query_one(Footer)
        keys = " ".join(str(k.render()) for k in footer.query("FooterKey"))
        assert "Save" in keys and "Cancel" in keys and "New chat" not in keys, keys


async def test_folded_thinking_sits_above_the_answer_not_beside_it(qwq_home):
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        turn = app.view.last_turn()
        assert turn.fold.collapsed
        assert turn.answer.region.x == turn.fold.region.x  # the answer starts at the left edge, below the line
        assert turn.answer.region.y > turn.fold.region.y
        await pilot.press("ctrl+t")  # unfolded: beside again
        await wait_until(pilot, lambda: turn.answer.region.x > turn.fold.region.right - 1, what="the screen to settle")
        assert turn.answer.region.x > turn.fold.region.right - 1


async def test_at_90_columns_the_status_line_keeps_activity_and_speed(qwq_home):
    from uihelpers import TRACE_STATS

    app = make_app(stats=TRACE_STATS)
    async with app.run_test(size=(90, 40)) as pilot:
        await ready(pilot)
        # the screen's breakpoint class comes with its first Resize, laid out on the next refresh
        await wait_until(pilot, lambda: app.query_one("#sidebar").size.width <= 24, what="the narrow sidebar")
        await send(pilot, "q")
        await finished(pilot)
        text = status_text(app)
        assert "tok/s" in text and len(text) <= app.status.content_region.width, (text, app.status.content_region)


async def test_at_80_columns_a_long_model_name_goes_short_before_the_speed_is_cut(qwq_home):
    from uihelpers import CHUNKS, TRACE_STATS

    from qwqchat.engines.replay import ReplayEngine

    name = "Smollm2 135M 8k Lc100K Mix1 Ep2 Instruct Q4_1"
    app = make_app(ReplayEngine(CHUNKS, name=name, stats=TRACE_STATS))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.query_one("#sidebar").size.width <= 24, what="the narrow sidebar")
        await send(pilot, "q")
        await finished(pilot)
        text = status_text(app)
        assert text.rstrip().endswith("tok/s") and "Smollm2 135M" in text and "…" in text, text
        assert len(text) <= app.status.content_region.width


async def test_switching_chats_does_not_show_the_last_chats_activity(qwq_home):
    from uihelpers import TRACE_STATS

    store = Store()
    other = store.create_conversation(model="m")
    app = make_app(stats=TRACE_STATS, store=store)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        assert "tok/s" in status_text(app)
        await app.open_conversation(other)
        assert "tok/s" not in status_text(app) and "ready" in status_text(app)


async def test_loop_warning_stays_in_sight_and_drops_its_keys_when_the_turn_ends(qwq_home):
    from qwqchat.engines.replay import ReplayEngine, tokens_of

    looping = tokens_of("Let me see. " + "The sum is 12, so adding 3 gives 15, then I check it again. " * 30)
    gate = Gate(len(looping) - 5)  # the turn is still running while its warning is read
    app = make_app(ReplayEngine(looping, name="m", delay=0.002, pace=gate))
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        bar = app.query_one("#loop-bar")
        await wait_until(pilot, lambda: bar.display, what="the loop warning")
        assert "Esc stop" in str(bar.render())
        assert bar.region.bottom <= app.prompt.region.y  # just above the prompt, whatever the view scrolls to
        looping_chat = app.conversation.id
        await pilot.press("ctrl+n")  # in another chat its keys are refused: a new chat showed it
        await wait_until(pilot, lambda: app.conversation is None and not bar.display, what="no warning elsewhere")
        await app.open_conversation(looping_chat)
        assert bar.display and "Esc stop" in str(bar.render())
        gate.release()
        await finished(pilot)
        assert not bar.display
        turn = app.view.last_turn()
        assert "Esc" not in str(turn.warning.render()) and "repeated itself" in str(turn.warning.render())


async def test_search_hits_are_highlighted_not_bracketed_and_not_cut(qwq_home):
    from qwqchat.ui.widgets.sidebar import ChatItem

    store = Store()
    cid = store.create_conversation(model="m")
    store.add_user_message(
        cid,
        "a long prompt about reversing lists in Python with slicing and reversed() "
        "and why xs[::-1] copies the list while reverse() works in place",
    )
    app = make_app(store=store)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f", *"slicing")
        await wait_until(pilot, lambda: len(app.query(ChatItem)) == 1, what="one hit")
        snippet = app.query_one(ChatItem).query_one(".snippet")
        shown = str(snippet.render())
        assert "[slicing]" not in shown and "slicing" in shown
        assert any("reverse" in span.style for span in snippet.render().spans if isinstance(span.style, str))
        assert snippet.size.height > 1  # wraps inside the sidebar instead of being cut at its edge


async def test_a_wide_code_line_can_be_scrolled_to(qwq_home):
    from textual.widgets.markdown import MarkdownFence

    from qwqchat.engines.replay import ReplayEngine, tokens_of

    line = "print(" + ", ".join(f"value_{i}" for i in range(60)) + ")"
    app = make_app(ReplayEngine(tokens_of(f"Hmm.</think>\n\n```python\n{line}\n```\n"), name="m"))
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        fence = app.view.last_turn().answer.query_one(MarkdownFence)
        assert fence.max_scroll_x > 0 and fence.scrollbar_size_horizontal == 1 and fence.show_horizontal_scrollbar


def test_the_empty_chat_hint_does_not_say_left():
    from qwqchat.ui.screens.chat import EMPTY_HINT

    assert "on the left" not in EMPTY_HINT and "beside" in EMPTY_HINT and "above" in EMPTY_HINT


# -- 6. counters ------------------------------------------------------------------------------


async def test_answering_from_saved_thinking_counts_its_time(qwq_home):
    now = [1000.0]
    app = make_app(clock=lambda: now[0])
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        turn = await app.view.add_reply()
        await turn.resume("I was thinking about it.", 5, thinking_s=40.0)
        now[0] += 2
        await turn.add("", "The answer.", 0)
        assert turn.fold.title.startswith("Thought for 42 s"), turn.fold.title


# -- 7. output -------------------------------------------------------------------------------------


def test_logs_rotate_with_a_size_cap_and_a_few_files_kept(tmp_path):
    from qwqchat.paths import open_log

    log = tmp_path / "llama.log"
    for run in range(6):
        with open_log(log, cap=1000, keep=3) as fh:
            fh.write(f"run {run}\n" + "x" * 1200)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["llama.log", "llama.log.1", "llama.log.2", "llama.log.3"]
    assert log.read_text().startswith("run 5") and (tmp_path / "llama.log.3").read_text().startswith("run 2")


def test_the_cli_log_rotates(qwq_home):
    from conftest import run_cli

    from qwqchat import paths

    log = paths.log_dir() / "qwqchat.log"
    log.write_text("x" * (paths.LOG_CAP + 1))
    assert run_cli("paths").returncode == 0
    assert log.stat().st_size < paths.LOG_CAP and (log.parent / "qwqchat.log.1").stat().st_size > paths.LOG_CAP


def test_ask_without_an_answer_exits_3_with_empty_stdout(server, qwq_home):
    from conftest import run_cli

    server.script = [chunk(reasoning_content="Hmm, let me think about this for a long"), chunk(finish="length")]
    r = run_cli("ask", "--endpoint", server.url, "What is 6*7?")
    assert r.returncode == 3 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    server.script = [chunk(reasoning_content="Easy."), chunk(content="42"), chunk(finish="stop")]
    r = run_cli("ask", "--endpoint", server.url, "What is 6*7?")
    assert r.returncode == 0 and r.stdout.strip() == "42"


def test_export_heads_replies_with_the_model_that_wrote_them(qwq_home):
    from qwqchat.export import to_markdown

    store = Store()
    cid = store.create_conversation(model="DeepSeek-R1-Distill-Qwen-7B")
    store.add_user_message(cid, "hi")
    store.start_reply(cid)
    md = to_markdown(store.get(cid))
    assert "## DeepSeek-R1-Distill-Qwen-7B" in md and "## QwQ" not in md


def test_a_closing_tag_the_model_writes_after_the_engine_closed_its_thinking_is_never_shown():
    """`qwqchat answer ID` printed the small model's own late </think> twice."""
    from qwqchat.reasoning import ANSWER, ReasoningSplitter, merge

    splitter = ReasoningSplitter(False, closed_by_engine=True)  # answering from saved thinking
    pieces = [
        p for chunk in ("</th", "ink>\n\nThe answer </thi", "nk> is 42.</think>", " Done") for p in splitter.feed(chunk)
    ] + splitter.flush()
    answer = "".join(t for kind, t in merge(pieces) if kind == ANSWER)
    assert answer == "The answer  is 42. Done", answer
    plain = ReasoningSplitter(True)  # the model closed its own thinking: later tags stay text, as before
    assert (
        "".join(t for k, t in plain.feed("a</think>use </think> tags") + plain.flush() if k == ANSWER)
        == "use </think> tags"
    )
