"""The first-run screen through Pilot: download the recommended model from a fake hub, cancel, resume, or
point at a local file — and then chat with it."""

import time

import pytest
from fake_hub import FakeHub
from textual.widgets import Button, Input, Label, Select
from uihelpers import send, wait_until

from qwqchat import config
from qwqchat.models import catalog
from qwqchat.store import Store
from qwqchat.ui.app import QwqChatApp
from qwqchat.ui.screens.first_run import FirstRunScreen


@pytest.fixture
def fake(monkeypatch, tmp_path, smol_model):
    from huggingface_hub import constants

    with FakeHub() as h:
        data = smol_model.read_bytes()
        for m in catalog.MODELS:
            for q in m.quants:
                h.add(m.repo, q.filename, data)
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
        yield h


def first_run_app():
    cfg = config.load()
    # a reply of bounded length: unbounded, the test model's "Hello" reply ran past the test's minute once in CI
    cfg.sampling = cfg.sampling.merged(max_tokens=200, seed=1)
    return QwqChatApp(cfg, Store(), None, "no model configured", save_theme=False, first_run=True)


async def test_download_the_recommended_quant_then_chat(fake, qwq_home):
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, FirstRunScreen)
        text = " ".join(str(label.render()) for label in screen.query(Label))
        rec = screen.rec
        assert f"Recommended: {rec.option.label}" in text and ("GPU:" in text or "No GPU found: CPU only" in text)
        assert str(screen.query_one("#reason").render()) == rec.reason and rec.fits  # a setting that fits, and why
        await pilot.click("#download")
        await wait_until(
            pilot,
            lambda: (
                app.engine_ready or (app.screen is screen and "✗" in str(screen.query_one("#first-run-error").render()))
            ),
            timeout=60,
            what="download and load",
        )
        assert app.engine_ready and not isinstance(app.screen, FirstRunScreen), app.engine_error
        assert config.load().model and config.load().model.endswith(".gguf")  # now the default
        await send(pilot, "Hello")
        await wait_until(pilot, lambda: app.turns_finished == 1, timeout=60, what="a reply")
        assert "CPU" in str(app.status.render()) or "CUDA" in str(app.status.render())
        fetched = [r["path"] for r in fake.requests if r["method"] == "GET" and "/resolve/" in r["path"]]
        assert fetched and fetched[-1].endswith(rec.option.quant.filename)
        assert (app.cfg.ctx, config.load().ctx, config.load().kv_cache) == (rec.option.ctx,) * 2 + (rec.option.kv,)


async def test_cancel_then_resume(fake, qwq_home, tmp_path):
    fake.throttle = 0.01
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        pick = next(i for i, o in enumerate(screen.options) if o.label == "QwQ-32B Q8_0")
        screen.query_one("#quant", Select).value = pick  # pick another model and quant
        await pilot.pause()  # let the screen lay out the new choice before clicking below it
        await pilot.click("#download")
        assert screen.chosen is not None and screen.chosen.label == "QwQ-32B Q8_0"

        def partials():
            return [p for p in tmp_path.rglob("*.qwqchat-partial") if p.stat().st_size > 0]

        await wait_until(
            pilot,
            lambda: partials() or "✗" in str(screen.query_one("#first-run-error").render()),
            what="some bytes on disk",
        )
        assert partials(), str(screen.query_one("#first-run-error").render())
        await pilot.click("#cancel")
        await wait_until(
            pilot,
            lambda: "Download stopped" in str(screen.query_one("#first-run-error").render()),
            timeout=20,
            what="the cancel",
        )
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


async def test_quitting_during_a_download_stops_it(fake, qwq_home, tmp_path):
    """Ctrl+Q during a download left the app running, off screen, until the whole file had arrived (and Ctrl+C
    could not end it): the download's thread went on."""
    fake.throttle = 0.05  # ~1.3 MB/s: the test model's 98 MB would take over a minute
    app = first_run_app()

    def partial_size() -> int:
        return sum(p.stat().st_size for p in tmp_path.rglob("*.qwqchat-partial"))

    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await pilot.click("#download")
        await wait_until(pilot, lambda: partial_size() > 0, what="some bytes on disk")
        cancel = screen.cancel
    assert cancel is not None and cancel.is_set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the thread ends at its next chunk
        before = partial_size()
        time.sleep(1.0)
        if partial_size() == before:
            break
    assert partial_size() == before, "the download went on after the app quit"


async def test_a_resumed_download_reports_the_speed_of_what_it_fetches_not_what_was_on_disk(qwq_home):
    """Resumed at 40 MB, the first reports said 279.5 MB/s and "0 s left": the bytes already on disk counted."""
    from qwqchat.ui.screens import first_run

    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen._resumed = None  # (as a download's start leaves it)
        status = screen.query_one("#pull-status", Label)
        screen.on_pull_progress(first_run.PullProgress("model.gguf", 40_000_000, 100_000_000))
        assert "MB/s" not in str(status.render()) and "left" not in str(status.render())
        screen._started -= 4  # four seconds later
        screen.on_pull_progress(first_run.PullProgress("model.gguf", 45_200_000, 100_000_000))
        assert "1.3 MB/s · 42 s left" in str(status.render())
        await pilot.pause()


async def test_an_empty_path_asks_for_one(qwq_home):
    app = first_run_app()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await pilot.click("#use-local")
        assert "type the path of a .gguf file first" in str(screen.query_one("#first-run-error").render())
