"""Find in one turn's thinking: a one-line bar above the prompt, bound to the turn it was opened on.

Matches are found case-insensitively in the thinking as shown and highlighted
in its pane; Enter or ↓ goes to the next, Shift+Enter or ↑ to the previous
(Shift+Enter only where the terminal reports it), Esc closes and clears them.
The text is searched again on each step, so a turn still thinking is searched
as it grows.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Input, Label, Static


class FindBar(Horizontal):
    BINDINGS = [
        Binding("down", "step(1)", "Next", show=False),
        Binding("shift+enter,up", "step(-1)", "Previous", show=False),
        Binding("escape", "close", "Close find", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.turn: Any = None  # the AssistantTurn searched
        self.hits: List[Tuple[int, int]] = []
        self.current = -1

    def compose(self):
        yield Label("Find in thinking:", id="find-label")
        yield Input(placeholder="text to find · Enter next · ↑ previous · Esc close", id="find-input")
        yield Static("", id="find-count")

    @property
    def input(self) -> Input:
        return self.query_one("#find-input", Input)

    async def open(self, turn) -> None:
        if self.turn is not None and self.turn is not turn:
            self._clear()
        self.turn = turn
        self.display = True
        self.input.focus()
        await self.turn.fold.reveal(0)
        await self._search(0)

    async def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        await self._search(0)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_step(1)

    async def action_step(self, by: int) -> None:
        if self.hits:
            await self._search((self.current + by) % len(self.hits))

    async def _search(self, index: int) -> None:
        """Find the query again (the thinking may have grown) and show match ``index``."""
        turn = self.turn
        if turn is None or not turn.is_attached:
            self.action_close()
            return
        query = self.input.value
        text = turn.fold.text
        self.hits = [m.span() for m in re.finditer(re.escape(query), text, re.I)] if query else []
        self.current = min(index, len(self.hits) - 1)
        count = f"{self.current + 1}/{len(self.hits)}" if self.hits else ("no match" if query else "")
        self.query_one("#find-count", Static).update(Content(count))
        pane = turn.fold.pane
        if pane is None:
            await turn.fold.reveal(0)
            pane = turn.fold.pane
        if pane is not None:
            pane.highlight(self.hits, self.current)
            if self.hits:
                await turn.fold.reveal(self.hits[self.current][0])

    def _clear(self) -> None:
        pane: Optional[Any] = self.turn.fold.pane if self.turn is not None else None
        if pane is not None and self.turn.is_attached:
            pane.highlight([])

    def action_close(self) -> None:
        self._clear()
        self.turn, self.hits, self.current = None, [], -1
        self.display = False
        self.screen.set_focus(self.screen.query_one("#prompt"))
