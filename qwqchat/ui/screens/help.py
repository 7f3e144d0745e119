"""F1 / ?: every key the app answers to."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

PROMPT_KEYS = [
    ("Enter", "Send the prompt"),
    ("Ctrl+J (or Shift+Enter)", "New line in the prompt (Shift+Enter where the terminal reports it)"),
    ("Up / Down", "Recall earlier prompts (in an empty prompt box)"),
    ("Page Up / Page Down", "Scroll the chat, also while typing"),
    ("Click a code block", "Copy that code block"),
    ("Click “Thinking…/Thought for…”", "Fold or unfold that turn's reasoning"),
    ("Ctrl+P", "Command palette: every action, themes, and “Get a model…”"),
]


class HelpScreen(ModalScreen):
    AUTO_FOCUS = "*"  # the key table scrolls with the arrows (set here, not left to a default)
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def __init__(self, bindings) -> None:
        super().__init__()
        self.action_rows = bindings

    def compose(self):
        with VerticalScroll(id="help"):
            yield Static("qwqchat — keys", id="help-title")
            yield DataTable(id="help-keys", show_cursor=False, zebra_stripes=True)
            yield Static("Esc closes this screen.", id="help-footer")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action")
        for key, action in PROMPT_KEYS:
            table.add_row(key, action)
        for key, action in self.action_rows:
            table.add_row(key, action)
