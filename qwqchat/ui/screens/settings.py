"""Per-chat settings: system prompt and sampling, defaults from the config file."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, TextArea

from ...errors import QwqError
from ...text import printable
from ...types import Sampling

FIELDS = [
    ("temperature", "Temperature (QwQ: 0.6)", float),
    ("top_p", "Top-p (0.95)", float),
    ("top_k", "Top-k (40)", int),
    ("min_p", "Min-p (0)", float),
    ("presence_penalty", "Presence penalty (0–2; raise against loops)", float),
    ("max_tokens", "Max tokens (empty: until the context is full)", int),
    ("think_budget", "Thinking budget in tokens (empty: none; then the model is asked to answer)", int),
]


class SettingsScreen(ModalScreen[Optional[Tuple[str, Sampling]]]):
    AUTO_FOCUS = "*"  # the first field (set here, not left to a default)
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, system_prompt: str, sampling: Sampling) -> None:
        super().__init__()
        self.system_prompt = system_prompt
        self.sampling = sampling

    def compose(self):
        # only the fields scroll: the error line and the buttons stay in sight in a short terminal
        with Vertical(classes="dialog", id="settings"):
            yield Label("Chat settings", classes="dialog-title")
            with VerticalScroll(id="settings-fields"):
                yield Label("System prompt")
                yield TextArea(self.system_prompt, id="system_prompt", soft_wrap=True)
                for name, label, _ in FIELDS:
                    value = getattr(self.sampling, name)
                    yield Label(label)
                    yield Input("" if value is None else str(value), id=name)
            yield Label("", id="settings-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer()  # this dialog's keys, not the chat's

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        values: Dict[str, Any] = {}
        try:
            for name, label, kind in FIELDS:
                raw = self.query_one(f"#{name}", Input).value.strip()
                try:
                    values[name] = kind(raw) if raw else None
                except ValueError:
                    raise QwqError(f"{label.split(' (')[0]}: {raw!r} is not a number") from None
            values["seed"] = self.sampling.seed
            defaults = Sampling()
            for name in ("temperature", "top_p", "top_k", "min_p", "presence_penalty"):
                if values[name] is None:
                    values[name] = getattr(defaults, name)
            sampling = Sampling(**values)
        except QwqError as exc:
            self.query_one("#settings-error", Label).update(Content(f"✗ {printable(str(exc))}"))
            return
        self.dismiss((self.query_one("#system_prompt", TextArea).text.strip(), sampling))
