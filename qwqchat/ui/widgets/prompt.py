"""The multi-line prompt: Enter sends, Ctrl+J inserts a newline, Up recalls earlier prompts."""

from __future__ import annotations

from typing import List

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class PromptBox(TextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.sent: List[str] = []
        self._recall = 0

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self.text))
            return
        if event.key in ("ctrl+j", "shift+enter", "alt+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key in ("up", "down") and self.sent and (not self.text or self._recall):
            if event.key == "up" and self.cursor_location[0] == 0:
                event.stop()
                event.prevent_default()
                self._recall = min(self._recall + 1, len(self.sent))
                self._show_recalled()
                return
            if event.key == "down" and self._recall and self.cursor_location[0] == self.document.line_count - 1:
                event.stop()
                event.prevent_default()
                self._recall -= 1
                self._show_recalled()
                return
        if event.is_printable:
            self._recall = 0
        await super()._on_key(event)

    def _show_recalled(self) -> None:
        self.text = self.sent[-self._recall] if self._recall else ""
        self.move_cursor(self.document.end)

    def remember(self, text: str) -> None:
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._recall = 0
