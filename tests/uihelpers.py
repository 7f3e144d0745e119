"""Helpers for driving the real app through Pilot with a replayed QwQ stream."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from textual.app import App

from qwqchat import config
from qwqchat.engines.replay import ReplayEngine, tokens_of
from qwqchat.store import Store
from qwqchat.types import Stats
from qwqchat.ui.app import QwqChatApp

TRACE = (Path(__file__).parent / "data" / "qwq_trace.txt").read_text()
CHUNKS = tokens_of(TRACE)
ANSWER_AT = next(i for i, c in enumerate(CHUNKS) if "</think>" in "".join(CHUNKS[max(0, i - 3) : i + 1]))


class Gate:
    """Pace for ReplayEngine: holds the replay at each chunk index in ``at`` until ``release()``."""

    def __init__(self, *at: int, hold: float = 30) -> None:
        self.stops = list(at)
        self.hold = hold
        self.reached = threading.Event()
        self._open = threading.Event()

    def __call__(self, index: int) -> None:
        if self.stops and index == self.stops[0]:
            self.reached.set()
            self._open.wait(self.hold)
            self._open.clear()
            self.reached.clear()
            self.stops.pop(0)

    def release(self) -> None:
        self._open.set()

    async def wait_reached(self, timeout: float = 30) -> None:
        if not await asyncio.get_running_loop().run_in_executor(None, self.reached.wait, timeout):
            raise AssertionError(f"the replay did not reach chunk {self.stops[0]} within {timeout} s")


# what a QwQ-32B turn of this trace reports on a GPU (fixed, so snapshots are stable)
TRACE_STATS = Stats(
    prompt_tokens=41,
    prompt_tokens_evaluated=41,
    reasoning_tokens=162,
    answer_tokens=93,
    ttft_s=0.42,
    thinking_s=5.1,
    total_s=8.0,
    decode_tokens_per_s=31.9,
    context_used=296,
    context_size=32768,
)


class _Notified(App):
    """Between QwqChatApp and App in the MRO: records each notification as Textual receives it (made printable)."""

    notified: list

    def notify(self, message, *, title="", severity="information", timeout=None, markup=True) -> None:
        self.notified.append(message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


class RecordingApp(QwqChatApp, _Notified):
    """The real app; ``notified`` lists every notification's text, in order (toasts that expired included)."""

    def __init__(self, *args, **kwargs) -> None:
        self.notified = []
        super().__init__(*args, **kwargs)


def fixed_clock():
    return 1000.0


def make_app(engine=None, *, clock=fixed_clock, export_dir=None, cfg=None, store=None, **engine_kwargs):
    if engine is None:
        engine = ReplayEngine(CHUNKS, name="qwq-32b-q4_k_m", **engine_kwargs)
    cfg = cfg or config.load()
    return RecordingApp(cfg, store or Store(), engine, clock=clock, export_dir=export_dir, save_theme=False)


async def wait_until(pilot, predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.02)
    app = pilot.app
    raise AssertionError(
        f"timed out waiting for {what} (screen {type(app.screen).__name__}, "
        f"engine error {getattr(app, 'engine_error', None)!r})"
    )


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.engine_ready or pilot.app.engine_error, what="model load")


async def send(pilot, text: str) -> None:
    pilot.app.turns_before_send = pilot.app.turns_finished
    pilot.app.prompt.text = text
    await pilot.press("enter")


async def finished(pilot, timeout: float = 20.0) -> None:
    """Wait for the turn the last ``send`` started (or the one streaming now) to finish."""
    app = pilot.app
    before = getattr(app, "turns_before_send", None)
    await wait_until(
        pilot,
        lambda: app.stream is None and not app.pending_send and (before is None or app.turns_finished > before),
        timeout,
        what="the turn to finish",
    )
    app.turns_before_send = None
    await pilot.pause(0.05)


def reasoning_pieces_before(index: int) -> int:
    """How many reasoning deltas the replay yields before chunk ``index``."""
    from qwqchat.reasoning import REASONING, ReasoningSplitter

    splitter = ReasoningSplitter(True)
    return sum(1 for c in CHUNKS[:index] for kind, _ in splitter.feed(c) if kind == REASONING)


async def steady(pilot) -> None:
    """Stop every cursor blinking, so a snapshot does not depend on the moment it is taken (a loaded machine)."""
    from textual.widgets import Input, TextArea

    widgets = [w for w in pilot.app.screen.query("TextArea, Input") if isinstance(w, (TextArea, Input))]
    for widget in widgets:
        widget.cursor_blink = False
    await pilot.pause()
    for widget in widgets:  # once more: a blink already under way when it was turned off may have hidden the cursor
        widget.cursor_blink = True
        widget.cursor_blink = False  # (pauses the blink, the cursor shown where the widget has the focus)
    await pilot.pause()
