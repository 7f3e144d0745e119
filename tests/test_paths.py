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
