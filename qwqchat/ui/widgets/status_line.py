"""One line: model, where it runs, context used, live tokens/s."""

from __future__ import annotations

from typing import Optional

from textual.content import Content
from textual.widgets import Static

from ...text import shown


class StatusLine(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.model = ""
        self.where = ""
        self.context_used = 0
        self.context_size = 0
        self.activity = ""
        self.error: Optional[str] = None

    def show(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        parts = [shown(p) for p in (self.model, self.where) if p]
        if self.context_size:
            parts.append(f"{self.context_used:,} / {self.context_size:,} tokens")
        if self.activity:
            parts.append(self.activity)
        text = Content(" · ".join(parts))
        if self.error:
            text = Content.assemble(text, ("  ✗ " + shown(self.error), "bold $error"))
        self.update(text)
