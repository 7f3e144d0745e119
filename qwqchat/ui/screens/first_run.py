"""First run, no model yet: show the hardware, recommend the reasoning model that fits, download it.

The recommendation (``recommend.py``) says why in one line; every other model
and quant is in the list below it with its fit and speed.  The download runs
in a worker thread through ``hub.pull`` (resumable, verified); progress
arrives as messages a few times a second.  Dismissed with the path of the
model to use; the context and KV type it was fitted at become the defaults.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from ... import config as config_mod
from ... import gguf_header
from ...errors import QwqError
from ...models import catalog, fit, hub
from ...models.recommend import Option, choices, recommend, this_machine
from ...text import printable, shown


class PullProgress(Message):
    def __init__(self, name: str, done: int, total: Optional[int]) -> None:
        super().__init__()
        self.name, self.done, self.total = name, done, total


class PullFinished(Message):
    def __init__(self, path: Optional[Path], error: Optional[str] = None) -> None:
        super().__init__()
        self.path, self.error = path, error


class FirstRunScreen(Screen[Path]):
    AUTO_FOCUS = "*"  # the first control (set here, not left to a default)
    BINDINGS = [Binding("escape", "skip", "Skip: browse chats without a model")]

    def __init__(self, ctx: int = 32768, kv_type: str = "f16") -> None:
        super().__init__()
        self.ctx, self.kv_type = ctx, kv_type
        self.machine = this_machine()
        self.rec = recommend(catalog.MODELS, self.machine, ctx, kv_type)
        self.options = [
            self.rec.option if (o.model, o.quant) == (self.rec.option.model, self.rec.option.quant) else o
            for o in choices(catalog.MODELS, self.machine, ctx, kv_type)
        ]
        self.chosen: Optional[Option] = None
        self.cancel: Optional[threading.Event] = None
        self._last_post = 0.0
        self._started = 0.0
        self._have = 0  # bytes of the chosen file on disk, as the download reported them
        self._resumed: Optional[int] = None  # the bytes on disk at this download's first report: not its speed

    def compose(self) -> ComposeResult:
        m, rec = self.machine, self.rec.option
        with VerticalScroll(id="first-run"):
            yield Static("Welcome to qwqchat — let's get a model", classes="dialog-title")
            if m.gpus:
                for g in m.gpus:
                    yield Label(f"GPU: {g.name} · {fit.gib(g.free)} free of {fit.gib(g.total)}")
            else:
                yield Label(f"No GPU found: CPU only, {m.cores or '?'} cores, {fit.gib(m.available)} of RAM free")
            yield Label(
                f"Recommended: {rec.label} · {rec.quant.size / 1e9:.1f} GB · {rec.describe(m.where)}", id="recommended"
            )
            yield Static(self.rec.reason, id="reason", markup=False)  # wraps: the reason is a long line
            yield Select(
                [
                    (f"{o.label}  {o.quant.size / 1e9:.1f} GB  ({o.describe(m.where)})", i)
                    for i, o in enumerate(self.options)
                ],
                value=self.options.index(rec),
                allow_blank=False,
                id="quant",
            )
            with Horizontal(classes="buttons"):
                yield Button("Download", variant="primary", id="download")
                yield Button("Cancel download", id="cancel", disabled=True)
            yield ProgressBar(id="pull-bar", show_eta=False)
            yield Label("", id="pull-status")
            yield Static("Or use a GGUF file you already have:", classes="first-run-or")
            with Horizontal(classes="buttons"):
                yield Input(placeholder="/path/to/model.gguf", id="local-path")
                yield Button("Use this file", id="use-local")
            yield Label("", id="first-run-error")
            yield Static(
                "Esc: skip for now (browse and export old chats; F1 there lists the keys)", classes="first-run-or"
            )

    def action_skip(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        """Quitting stops the download: its thread went on to the file's end, the app gone from the screen but
        not ended, and Ctrl+C could not end it."""
        if self.cancel is not None:
            self.cancel.set()

    def on_mount(self) -> None:
        self.query_one("#download", Button).focus()
        self.query_one("#pull-bar", ProgressBar).display = False

    def _error(self, text: str) -> None:
        self.query_one("#first-run-error", Label).update(Content(f"✗ {shown(text)}"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "download":
            self.start_download()
        elif event.button.id == "cancel" and self.cancel is not None:
            self.cancel.set()
        elif event.button.id == "use-local":
            self.use_local(self.query_one("#local-path", Input).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.use_local(event.value)

    def use_local(self, value: str) -> None:
        if not value.strip():
            self._error("type the path of a .gguf file first")
            return
        path = Path(value.strip()).expanduser()
        try:
            gguf_header.read(path)
        except QwqError as exc:
            self._error(str(exc))
            return
        self.dismiss(path.resolve())

    def start_download(self) -> None:
        if self.cancel is not None:
            return
        self.chosen = self.options[int(self.query_one("#quant", Select).value)]  # type: ignore[arg-type]
        quant = self.chosen.quant
        self.cancel = threading.Event()
        self._have = 0
        self._resumed = None  # (the speed's clock starts at the first report)
        self.query_one("#download", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#pull-bar", ProgressBar).display = True
        self.query_one("#first-run-error", Label).update("")
        self._pull(hub.Target(self.chosen.model.repo, [quant.filename], quant.name), self.cancel)

    @work(thread=True, exclusive=True, group="pull")
    def _pull(self, target: hub.Target, cancel: threading.Event) -> None:
        def progress(name: str, done: int, total: Optional[int]) -> None:
            now = time.monotonic()
            if now - self._last_post >= 0.1 or (total and done >= total):
                self._last_post = now
                self.post_message(PullProgress(name, done, total))

        try:
            path = hub.pull(target, progress, cancel)
        except hub.PullCancelled:
            self.post_message(PullFinished(None, "Download stopped"))
        except QwqError as exc:
            text = str(exc)
            self.post_message(PullFinished(None, text[:1].upper() + text[1:]))
        except Exception as exc:  # never a traceback on screen
            self.post_message(PullFinished(None, f"{exc.__class__.__name__}: {exc}"))
        else:
            self.post_message(PullFinished(path))

    def on_pull_progress(self, msg: PullProgress) -> None:
        if not msg.name.startswith("verifying"):
            self._have = max(self._have, msg.done)
        bar = self.query_one("#pull-bar", ProgressBar)
        bar.update(total=msg.total, progress=msg.done)
        if msg.name.startswith("verifying"):
            text = f"{msg.name}: {fit.gib(msg.done)} of {fit.gib(msg.total)}"
        else:
            if self._resumed is None:
                self._resumed, self._started = msg.done, time.monotonic()
            elapsed = time.monotonic() - self._started
            speed = (msg.done - self._resumed) / elapsed if elapsed >= 1 else 0.0
            eta = (msg.total - msg.done) / speed if msg.total and speed > 0 else None
            text = (
                f"{msg.name}: {fit.gib(msg.done)} of {fit.gib(msg.total)}"
                + (f" · {speed / 1e6:.1f} MB/s" if speed > 0 else "")
                + (f" · {eta:,.0f} s left" if eta is not None else "")
            )
        self.query_one("#pull-status", Label).update(Content(printable(text)))

    def on_pull_finished(self, msg: PullFinished) -> None:
        self.cancel = None
        self.query_one("#download", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        if msg.path is None:
            self._error(msg.error or "download failed")
            bar = self.query_one("#pull-bar", ProgressBar)
            if self._have and bar.total:
                bar.update(progress=self._have)  # a known fraction: the bar holds still
                on_disk = f"{fit.gib(self._have)} of {fit.gib(int(bar.total))} on disk"  # (no speed: it stopped)
                self.query_one("#pull-status", Label).update(Content(on_disk))
            else:
                bar.display = False  # nothing arrived: no bar pulsing "--%" after the failure
                self.query_one("#pull-status", Label).update("")
            self.query_one("#download", Button).label = "Resume download" if self._have else "Try again"
            return
        self.query_one("#pull-status", Label).update(Content(f"Ready: {printable(str(msg.path))}"))
        if self.chosen is not None:
            self._keep_setting(self.chosen)
        self.dismiss(msg.path)

    def _keep_setting(self, o: Option) -> None:
        """The context and KV type the model was fitted at become the defaults (file and this session)."""
        try:
            config_mod.save_keys({"ctx": o.ctx, "kv_cache": o.kv})
        except (QwqError, OSError) as exc:
            self.notify(f"could not save the context setting: {exc}", severity="warning")
        cfg = getattr(self.app, "cfg", None)
        if cfg is not None:
            cfg.ctx, cfg.kv_cache = o.ctx, o.kv
