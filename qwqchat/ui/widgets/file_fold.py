"""A file attached to a prompt, folded to one line ("📎 main.py · 120 lines") that opens on a click or Enter."""

from __future__ import annotations

from typing import Optional

from textual.content import Content
from textual.widgets import Collapsible, Static

from ...attachments import Attachment, summary
from ...text import printable


class FileFold(Collapsible):
    """The file's text is only made into a widget when first opened: a chat of many files opens at once."""

    def __init__(self, attachment: Attachment) -> None:
        self.attachment = attachment
        self.body: Optional[Static] = None
        title = Content(printable(summary(attachment)))  # a Content: a str title would be parsed as markup
        super().__init__(title=title, collapsed=True)  # type: ignore[arg-type]

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        if event.collapsible is self and self.body is None:
            self.body = Static(Content(printable(self.attachment.text)), classes="file-text")
            self.query_one(Collapsible.Contents).mount(self.body)
