"""Small modal dialogs: yes/no confirmation and one-line text input."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from ...text import printable


class Confirm(ModalScreen[bool]):
    BINDINGS = [Binding("escape,n", "dismiss(False)", "No"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, yes: str = "Delete") -> None:
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self):
        with Vertical(classes="dialog"):
            yield Label(Content(printable(self.question)))  # it quotes a chat title: never markup
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class Ask(ModalScreen[str | None]):
    AUTO_FOCUS = "*"  # the text box (set here, not left to a default)
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("enter", "submit", "OK", show=True)]

    def action_submit(self) -> None:
        self.dismiss(self.query_one("#answer", Input).value)

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self):
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(self.value, id="answer")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)
