"""SVG snapshots of the screens people judge us by (``pytest --snapshot-update`` rewrites them)."""

from uihelpers import (
    ANSWER_AT,
    TRACE_STATS,
    Gate,
    finished,
    make_app,
    ready,
    reasoning_pieces_before,
    send,
    steady,
    wait_until,
)

WIDE = (140, 36)
NARROW = (100, 36)


def test_first_run_with_no_chats(snap_compare, qwq_home):
    async def loaded(pilot):
        await ready(pilot)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=loaded)


def test_streaming_with_reasoning_beside_the_answer(snap_compare, qwq_home):
    at = ANSWER_AT - 30
    gate = Gate(at, hold=3)
    app = make_app(pace=gate, stats=TRACE_STATS)

    async def streaming(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await gate.wait_reached()
        expected = reasoning_pieces_before(at)
        await wait_until(pilot, lambda: app.streaming_turn and app.streaming_turn.reasoning_pieces == expected)
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(app, terminal_size=WIDE, run_before=streaming)


def test_finished_turn_folded(snap_compare, qwq_home):
    async def done(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await finished(pilot)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=done)


def test_narrow_layout_reasoning_above_answer(snap_compare, qwq_home):
    async def done(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await finished(pilot)
        await pilot.press("ctrl+t")
        pilot.app.view.scroll_home(animate=False)
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=NARROW, run_before=done)


def test_help_screen(snap_compare, qwq_home):
    async def help_(pilot):
        await ready(pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=help_)


def test_remote_only_tui(snap_compare, qwq_home, monkeypatch):
    """`qwqchat --endpoint URL` with no local model: the chat, not the first-run screen; host and model shown."""
    from sse_server import ScriptedServer

    from qwqchat.engines.process import ProcessEngine
    from qwqchat.ui.run import build_app

    # the test server's port varies (the TUI reads the server in a child process, which says where it is)
    monkeypatch.setattr(ProcessEngine, "describe", lambda self: "gpu-box:8000")
    with ScriptedServer() as server:
        app = build_app({"endpoint": server.url})
        app.save_theme = False

        async def loaded(pilot):
            await ready(pilot)
            await wait_until(pilot, lambda: pilot.app.prompt.has_focus, what="the prompt's focus")
            pilot.app.prompt.cursor_blink = False  # a steady cursor: the picture must not depend on the moment
            await pilot.pause(0.1)
            await steady(pilot)

        assert snap_compare(app, terminal_size=WIDE, run_before=loaded)


def test_settings_dialog_in_a_short_terminal(snap_compare, qwq_home):
    async def settings(pilot):
        await ready(pilot)
        await pilot.press("f3")
        await pilot.pause(0.1)
        pilot.app.screen.query_one("#temperature").value = "hot"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=(80, 24), run_before=settings)


def test_first_run_offline(snap_compare, qwq_home, monkeypatch):
    from qwqchat import config
    from qwqchat.models import fit, hub, hub_errors
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

    class ConnectError(Exception):  # named like the hub client's exception
        pass

    def offline(target, progress=None, cancel=None, endpoint=None):
        raise hub_errors.hub_error(ConnectError("[Errno -2] Name or service not known"), target.repo, target.files[0])

    monkeypatch.setattr("qwqchat.models.machine.gpus", lambda: [])  # the same 24 GiB CPU-only machine wherever it runs
    monkeypatch.setattr("qwqchat.models.machine.system_available", lambda: 24 * fit.GiB)
    monkeypatch.setattr("qwqchat.models.machine.physical_cores", lambda: 2)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(hub, "pull", offline)
    app = QwqChatApp(config.load(), Store(), None, "no model configured", save_theme=False, first_run=True)

    async def failed(pilot):
        await pilot.click("#download")
        await wait_until(pilot, lambda: "✗" in str(pilot.app.screen.query_one("#first-run-error").render()))
        await pilot.pause(0.3)  # the button's press effect ends
        await steady(pilot)

    assert snap_compare(app, terminal_size=(150, 45), run_before=failed)


def test_a_reply_with_three_versions_paged_to_the_second(snap_compare, qwq_home):
    async def paged(pilot):
        app = pilot.app
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await finished(pilot)
        for _ in range(2):
            app.turns_before_send = app.turns_finished
            await pilot.press("ctrl+r")
            await finished(pilot)
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: app.view.last_turn().message.version == 2, what="version 2 shown")
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=paged)


def test_outline_jump_list(snap_compare, qwq_home):
    """The turning points of a long thinking, listed by F11 (paragraphs opening with "Wait," and the like)."""
    from test_ui_outline import LONG

    from qwqchat.engines.replay import ReplayEngine

    async def jump_list(pilot):
        await ready(pilot)
        await send(pilot, "What is the sum?")
        await finished(pilot)
        await pilot.press("f11")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "JumpList", what="the jump list")
        await pilot.pause(0.1)
        await steady(pilot)

    assert snap_compare(
        make_app(ReplayEngine(LONG, name="m", stats=TRACE_STATS)), terminal_size=WIDE, run_before=jump_list
    )
