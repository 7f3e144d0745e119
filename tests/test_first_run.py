"""The first-run screen through Pilot: download the recommended quant from a fake hub, cancel, resume, or
point at a local file — and then chat with it."""

import pytest
from textual.widgets import Button, Input, Label, Select

from fake_hub import FakeHub
from qwqchat import config, hub
from qwqchat.store import Store
from qwqchat.ui.app import QwqChatApp
from qwqchat.ui.screens.first_run import FirstRunScreen
from uihelpers import send, wait_until

REPO = hub.REPO


@pytest.fixture
def fake(monkeypatch, tmp_path, smol_model):
    from huggingface_hub import constants

    with FakeHub() as h:
        data = smol_model.read_bytes()
        for q in hub.CATALOGUE:
            h.add(REPO, q.filename, data)
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
        yield h


def first_run_app():
    return QwqChatApp(config.load(), Store(), None, "no model configured", save_theme=False, first_run=True)


async def test_download_the_recommended_quant_then_chat(fake, qwq_home):
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, FirstRunScreen)
        text = " ".join(str(l.render()) for l in screen.query(Label))
        assert "Recommended: QwQ-32B" in text and ("GPU:" in text or "CPU only, expect about" in text)
        await pilot.click("#download")
        await wait_until(pilot, lambda: app.engine_ready or (app.screen is screen and "✗" in str(screen.query_one("#first-run-error").render())),
                         timeout=60, what="download and load")
        assert app.engine_ready and not isinstance(app.screen, FirstRunScreen), app.engine_error
        assert config.load().model and config.load().model.endswith(".gguf")  # now the default
        await send(pilot, "Hello")
        await wait_until(pilot, lambda: app.turns_finished == 1, timeout=60, what="a reply")
        assert "CPU" in str(app.status.render()) or "CUDA" in str(app.status.render())


async def test_cancel_then_resume(fake, qwq_home, tmp_path):
    fake.throttle = 0.01
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#quant", Select).value = "Q8_0"  # pick another quant
        await pilot.click("#download")
        partials = lambda: [p for p in tmp_path.rglob("*.qwqchat-partial") if p.stat().st_size > 0]
        await wait_until(pilot, lambda: partials(), what="some bytes on disk")
        await pilot.click("#cancel")
        await wait_until(pilot, lambda: "Download stopped" in str(screen.query_one("#first-run-error").render()),
                         timeout=20, what="the cancel")
        assert str(screen.query_one("#download", Button).label) == "Resume download"
        fake.throttle = 0
        await pilot.pause(0.3)
        await pilot.click("#download")
        await wait_until(pilot, lambda: app.engine_ready, timeout=60, what="resumed download")
        ranges = [r["range"] for r in fake.requests if r["range"]]
        assert ranges, fake.requests
        assert int(ranges[-1].split("=")[1].split("-")[0]) > 0  # picked up where it stopped
        assert "q8_0" in config.load().model


async def test_use_a_local_file(qwq_home, smol_model, tmp_path):
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#local-path", Input).value = str(tmp_path / "missing.gguf")
        await pilot.click("#use-local")
        assert "not found" in str(screen.query_one("#first-run-error").render())
        await pilot.pause(0.3)  # a Button ignores a second press during its 0.2 s press effect
        screen.query_one("#local-path", Input).value = str(smol_model)
        await pilot.click("#use-local")
        await wait_until(pilot, lambda: app.engine_ready, timeout=60, what="load")
        assert not app.engine_error
        assert config.load().model == str(smol_model.resolve())


async def test_escape_skips_to_the_chats_without_a_model(qwq_home):
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("escape")
        assert not isinstance(app.screen, FirstRunScreen)
        assert "no model configured" in str(app.status.render())
