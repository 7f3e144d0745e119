"""The multi-line prompt: Enter sends, Ctrl+J inserts a newline, Up/Down walk earlier prompts, Page Up/Down
scroll the chat while the prompt fits its box.

The prompts come from the store, so they outlive the app: this chat's first (newest
first), then those of every chat, each prompt once.
"""

from __future__ import annotations

from typing import Iterable, List

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from ...attachments import split


class PromptBox(TextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class PagedOut(Message):
        """Page Up/Down while the prompt fits its box (nothing in it to page through): the chat's to scroll."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.recall_list: List[str] = []  # the prompts Up walks, newest first (TextArea has its own "history")
        self._recall = 0  # 0: the box holds what is being typed; n: history[n - 1]
        self._blinked = True  # whether the cursor blinked before it was held steady

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
        if event.key in ("up", "down") and self.recall_list and (not self.text or self._recall):
            if event.key == "up" and self.cursor_location[0] == 0:
                event.stop()
                event.prevent_default()
                self._recall = min(self._recall + 1, len(self.recall_list))
                self._show_recalled()
                return
            if event.key == "down" and self._recall and self.cursor_location[0] == self.document.line_count - 1:
                event.stop()
                event.prevent_default()
                self._recall -= 1
                self._show_recalled()
                return
        if event.key in ("pageup", "pagedown") and self.virtual_size.height <= self.scrollable_content_region.height:
            event.stop()
            event.prevent_default()
            self.post_message(self.PagedOut(event.key))
            return
        if event.is_printable:
            self._recall = 0
        await super()._on_key(event)

    def _show_recalled(self) -> None:
        self.text = self.recall_list[self._recall - 1] if self._recall else ""
        self.move_cursor(self.document.end)

    def load_history(self, this_chat: Iterable[str], every_chat: Iterable[str]) -> None:
        """What Up walks: this chat's prompts, then every chat's (each list newest first); the prompt only,
        not the files attached to it."""
        self.recall_list = list(dict.fromkeys(split(p)[0] for p in [*this_chat, *every_chat]))
        self._recall = 0

    def remember(self, text: str) -> None:
        self.recall_list = [text, *(h for h in self.recall_list if h != text)]
        self._recall = 0

    def steady(self, steady: bool) -> None:
        """A cursor that holds still while a reply streams (each blink repainted the box twice a second), and
        blinks again after, if it blinked before."""
        if steady:
            self._blinked, self.cursor_blink = self.cursor_blink, False
            return
        self.cursor_blink = self._blinked
        # TextArea keys its cached lines on the cursor only while it blinks: the line drawn with the steady cursor
        # would stand for the blink's hidden phase too, and the cursor never went out until a key
        self.notify_style_update()
