"""Issue 13: every path a user takes works the first time (remote-only TUI, edit without loss, offline first run,
keys and layout in a real terminal, counters, output)."""

from __future__ import annotations

import pytest

from qwqchat import config
from qwqchat.cli import build_parser
from qwqchat.store import Store
from qwqchat.ui.run import build_app
from sse_server import ScriptedServer, chunk
from uihelpers import finished, make_app, ready, send, wait_until


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
    await chat_remotely(build_app(build_parser().parse_args(["--endpoint", server.url])), server)


async def test_remote_profile_without_a_local_model_opens_the_chat(server, qwq_home):
    from qwqchat.paths import config_path

    config_path().write_text(f'[profiles.box]\nendpoint = "{server.url}"\nmodel = "Qwen/QwQ-32B"\n')
    await chat_remotely(build_app(build_parser().parse_args(["--profile", "box"])), server)


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
