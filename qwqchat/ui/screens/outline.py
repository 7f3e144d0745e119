"""The jump list: a turn's turning points ("Wait,", "Let me check"…); choosing one shows that paragraph."""

from __future__ import annotations

from typing import List, Optional

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from ...outline import TurningPoint


def title(count: int) -> str:
    return f"{count:,} turning point{'' if count == 1 else 's'}"


class JumpList(ModalScreen[Optional[int]]):
    """Dismissed with the chosen point's offset in the thinking, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, points: List[TurningPoint]) -> None:
        super().__init__()
        self.points = points

    def compose(self):
        with Vertical(classes="dialog jump-list"):
            yield Label(title(len(self.points)), classes="dialog-title")
            yield OptionList(*(Option(Content(p.label)) for p in self.points), id="jump-options")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.points[event.option_index].offset)
