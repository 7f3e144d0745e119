"""One line: Think or Quick, model, what it is doing (with live tokens/s), context used, where it runs.

In a narrow terminal the least useful parts go first (where it runs, then the
context), so what the model is doing right now is never cut off.
"""

from __future__ import annotations

from typing import List, Optional

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
        self.attached = 0  # tokens of the files attached to the prompt, counted before it is sent
        self.activity = ""
        self.mode = "Think"  # or "Quick" (F6): how the next message is answered
        self.error: Optional[str] = None

    def show(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        self._render_line()

    def on_resize(self) -> None:
        self._render_line()

    def _parts(self, keep_where: bool, keep_context: bool, model_chars: int = 10_000) -> List[str]:
        model = shown(self.model)
        model = model if len(model) <= model_chars else model[: max(1, model_chars - 1)] + "…"
        parts = [p for p in (shown(self.mode), model, shown(self.where) if keep_where else "") if p]
        if self.context_size and keep_context:
            files = f" (📎 {self.attached:,})" if self.attached else ""
            parts.append(f"{self.context_used + self.attached:,} / {self.context_size:,} tokens{files}")
        if self.activity:
            parts.append(self.activity)
        return parts

    def _render_line(self) -> None:
        width = self.content_region.width or 10_000  # not laid out yet: everything
        error = "  ✗ " + shown(self.error) if self.error else ""
        for keep in ((True, True), (False, True), (False, False)):
            line = " · ".join(self._parts(*keep))
            if len(line) + len(error) <= width:
                break
        else:  # a long model name goes short before what it is doing is cut off
            over = len(line) + len(error) - width
            line = " · ".join(self._parts(False, False, max(8, len(shown(self.model)) - over)))
        text = Content(line)
        if error:
            text = Content.assemble(text, (error, "bold $error"))
        self.update(text, layout=False)  # one row the width of the screen: its text never changes its size
