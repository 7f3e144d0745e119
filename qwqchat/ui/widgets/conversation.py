"""The scrolling conversation: prompts and replies, newest at the bottom.

A long chat mounts only its last ``WINDOW`` messages; earlier ones come in
when the user asks (button at the top), so a 50-turn chat opens at once.
"""

from __future__ import annotations

import time
from typing import List, Optional

from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from ...store import Conversation, StoredMessage

WINDOW = 12  # messages mounted when a conversation opens
EARLIER = 6  # messages mounted each time the user reaches the top


class ConversationView(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep_open = False
        self.clock = time.monotonic
        self._hidden: List[StoredMessage] = []

    def _widget_for(self, m: StoredMessage):
        from .turn import AssistantTurn, UserMessage  # Markdown is imported on first use, not at launch

        if m.role == "user":
            return UserMessage(m.content, m.id)
        return AssistantTurn(m, keep_open=self.keep_open, clock=self.clock)

    async def show(self, conv: Optional[Conversation], empty_text: str = "") -> None:
        await self.remove_children()
        messages = conv.messages if conv else []
        self._hidden = messages[:-WINDOW] if len(messages) > WINDOW else []
        shown = messages[len(self._hidden) :]
        widgets = []
        if self._hidden:
            widgets.append(Button(f"↑ {len(self._hidden)} earlier messages", id="load-earlier", variant="default"))
        if not messages:
            widgets.append(Static(empty_text, id="empty-hint"))
        widgets += [self._widget_for(m) for m in shown]
        await self.mount_all(widgets)
        self.scroll_end(animate=False, immediate=True)
        self.anchor()

    async def load_earlier(self) -> None:
        if not self._hidden:
            return
        batch, self._hidden = self._hidden[-EARLIER:], self._hidden[:-EARLIER]
        button = self.query_one("#load-earlier", Button)
        await self.mount_all([self._widget_for(m) for m in batch], after=button)
        if self._hidden:
            button.label = f"↑ {len(self._hidden)} earlier messages"
        else:
            await button.remove()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-earlier":
            event.stop()
            await self.load_earlier()

    async def add_user(self, text: str, message_id: Optional[int]):
        from .turn import UserMessage

        for hint in self.query("#empty-hint"):
            await hint.remove()
        widget = UserMessage(text, message_id)
        await self.mount(widget)
        self.anchor()
        return widget

    async def add_reply(self):
        from .turn import AssistantTurn

        turn = AssistantTurn(None, keep_open=self.keep_open, clock=self.clock)
        await self.mount(turn)
        self.anchor()
        return turn

    def turns(self) -> list:
        from .turn import AssistantTurn

        return list(self.query_children(AssistantTurn))

    def last_turn(self):
        turns = self.turns()
        return turns[-1] if turns else None
