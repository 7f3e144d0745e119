"""Conversations, newest first, with a filter box backed by the store's full-text search."""

from __future__ import annotations

from typing import List, Optional

from textual import events
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView, Static

from ...text import age, printable

HIT = ("\x02", "\x03")  # the store marks search hits with these; shown highlighted, never as brackets


def snippet_content(snippet: str) -> Content:
    """'…the \x02hit\x03 in…' -> the text with the hit highlighted (model text made printable first)."""
    parts = []
    for i, piece in enumerate(snippet.replace(HIT[1], HIT[0]).split(HIT[0])):
        parts.append((printable(piece), "bold reverse" if i % 2 else "italic dim"))
    return Content.assemble(*parts)


class ChatItem(ListItem):
    def __init__(self, conversation_id: int, title: str, updated: float, snippet: str = "") -> None:
        self.conversation_id = conversation_id
        self.message_id: Optional[int] = None  # a search hit's message: the chat opens on its version
        text = Content.assemble((printable(title), "bold"), "\n", (age(updated), "dim"))
        rows: List[Static] = [Label(text)]
        if snippet:
            rows.append(Static(snippet_content(snippet), classes="snippet"))  # wraps: the whole snippet shows
        super().__init__(*rows)


class Sidebar(Vertical):
    class Opened(Message):
        def __init__(self, conversation_id: int, message_id: Optional[int] = None) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.message_id = message_id

    def __init__(self, store_getter, **kwargs) -> None:
        super().__init__(**kwargs)
        self._store = store_getter

    def compose(self):
        yield Input(placeholder="Filter chats (full text)", id="chat-filter")
        yield ListView(id="chat-list")

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self, select: Optional[int] = None) -> None:
        store = self._store()
        if store is None:
            return
        query = self.query_one("#chat-filter", Input).value.strip()
        if query:
            items: List[ChatItem] = []
            for h in store.search(query, marks=HIT):
                items.append(ChatItem(h.conversation_id, h.title, h.updated, h.snippet))
                items[-1].message_id = h.message_id
        else:
            items = [ChatItem(c.id, c.title, c.updated) for c in store.list_conversations(limit=500)]
        view = self.query_one("#chat-list", ListView)
        view.clear()
        view.extend(items)
        if select is not None:
            for i, item in enumerate(items):
                if item.conversation_id == select:
                    view.index = i
                    break

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_list()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._to_list()

    def on_key(self, event: events.Key) -> None:
        if event.key == "down" and self.query_one("#chat-filter", Input).has_focus:
            event.stop()
            self._to_list()

    def _to_list(self) -> None:
        view = self.query_one("#chat-list", ListView)
        view.focus()
        if view.index is None and view.children:
            view.index = 0

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, ChatItem):
            self.post_message(self.Opened(event.item.conversation_id, event.item.message_id))
