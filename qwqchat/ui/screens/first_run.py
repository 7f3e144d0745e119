"""First run, no model yet: show the hardware, recommend the QwQ-32B quant that fits, download it.

The download runs in a worker thread through ``hub.pull`` (resumable, verified);
progress arrives as messages a few times a second.  Dismissed with the path of
the model to use.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from ... import fit, gguf_header, hub
from ...errors import QwqError
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
    BINDINGS = [Binding("escape", "skip", "Skip: browse chats without a model")]

    def __init__(self, ctx: int = 32768, kv_type: str = "f16") -> None:
        super().__init__()
        self.ctx, self.kv_type = ctx, kv_type
        self.cards = fit.gpus()
        self.available, self.where = hub.available_memory()
        self.rec = hub.recommend(self.available, self.where, ctx, kv_type)
        self.cancel: Optional[threading.Event] = None
        self._last_post = 0.0
        self._started = 0.0

    def _fit_text(self, quant: hub.Quant) -> str:
        est = fit.estimate(quant.size, fit.QWQ_32B, self.ctx, self.kv_type, self.available)
        if self.where == "CPU":
            return f"~{fit.cpu_tokens_per_s(quant.size):.1f} tokens/s on the CPU" + ("" if est.fits else ", too big for RAM")
        return "fits fully" if est.fits else f"{est.gpu_layers()}/65 layers on the GPU, the rest on the CPU"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="first-run"):
            yield Static("Welcome to qwqchat — let's get a model", classes="dialog-title")
            if self.cards:
                for g in self.cards:
                    yield Label(f"GPU: {g.name} · {fit.gib(g.free)} free of {fit.gib(g.total)}")
            else:
                tps = fit.cpu_tokens_per_s(self.rec.quant.size)
                yield Label(f"No GPU found: CPU only, expect about {tps:.1f} tokens/s with "
                            f"{self.rec.quant.name} ({fit.gib(self.available)} of RAM free)")
            q = self.rec.quant
            yield Label(f"Recommended: QwQ-32B {q.name} · {q.size / 1e9:.1f} GB · {self._fit_text(q)} "
                        f"at {self.ctx:,} tokens of context", id="recommended")
            yield Select([(f"{c.name}  {c.size / 1e9:.1f} GB  ({self._fit_text(c)})", c.name) for c in hub.CATALOGUE],
                         value=q.name, allow_blank=False, id="quant")
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
            yield Static("Esc: skip for now (browse and export old chats; F1 for keys)", classes="first-run-or")

    def action_skip(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        self.dismiss(None)

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
        name = self.query_one("#quant", Select).value
        quant = next(q for q in hub.CATALOGUE if q.name == name)
        self.cancel = threading.Event()
        self._started = time.monotonic()
        self.query_one("#download", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#pull-bar", ProgressBar).display = True
        self.query_one("#first-run-error", Label).update("")
        self._pull(hub.Target(hub.REPO, [quant.filename], quant.name), self.cancel)

    @work(thread=True, exclusive=True, group="pull")
    def _pull(self, target: hub.Target, cancel: threading.Event) -> None:
        def progress(name: str, done: int, total: Optional[int]) -> None:
            now = time.monotonic()
            if now - self._last_post >= 0.1 or (total and done >= total):
                self._last_post = now
                self.post_message(PullProgress(name, done, total))

        try:
            path = hub.pull(target, progress, cancel)
        except QwqError as exc:
            self.post_message(PullFinished(None, str(exc)))
        except Exception as exc:  # never a traceback on screen
            self.post_message(PullFinished(None, f"{exc.__class__.__name__}: {exc}"))
        else:
            self.post_message(PullFinished(path))

    def on_pull_progress(self, msg: PullProgress) -> None:
        bar = self.query_one("#pull-bar", ProgressBar)
        bar.update(total=msg.total, progress=msg.done)
        elapsed = max(1e-6, time.monotonic() - self._started)
        if msg.name.startswith("verifying"):
            text = f"{msg.name}: {fit.gib(msg.done)} of {fit.gib(msg.total)}"
        else:
            speed = msg.done / elapsed
            eta = (msg.total - msg.done) / speed if msg.total and speed > 0 else None
            text = (f"{msg.name}: {fit.gib(msg.done)} of {fit.gib(msg.total)} · {speed / 1e6:.1f} MB/s"
                    + (f" · {eta:,.0f} s left" if eta is not None else ""))
        self.query_one("#pull-status", Label).update(Content(printable(text)))

    def on_pull_finished(self, msg: PullFinished) -> None:
        self.cancel = None
        self.query_one("#download", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        if msg.path is None:
            self._error(msg.error or "download failed")
            self.query_one("#download", Button).label = "Resume download"
            return
        self.query_one("#pull-status", Label).update(Content(f"Ready: {printable(str(msg.path))}"))
        self.dismiss(msg.path)
