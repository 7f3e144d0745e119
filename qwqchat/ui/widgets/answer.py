"""The final answer, rendered as Markdown and streamed through ``MarkdownStream``.

Its math is shown readable while it streams: ``MathStream`` holds a line back
until every expression in it is closed, then converts it (plain prose passes at
once); the whole answer is rendered again when it ends.
"""

from __future__ import annotations

from typing import List, Optional

from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from ...mathtext import MathStream, render_math
from ...text import printable


class Answer(Markdown):
    """Markdown that grows; a click on a code block copies that block."""

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(render_math(printable(text)), **kwargs)
        self._parts: List[str] = [printable(text)] if text else []
        self._stream: Optional[MarkdownStream] = None
        self._math = MathStream()

    @property
    def text(self) -> str:
        """The answer as the model wrote it (LaTeX included); the screen shows its math as Unicode."""
        return "".join(self._parts)

    async def append_text(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        self._parts.append(text)
        shown = self._math.feed(text)
        if not shown:
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
        await self._stream.write(shown)

    async def finish(self) -> None:
        """Stop streaming and re-render once: readable math, and fences that streamed in blank (textual #6518)."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        await self.update(render_math(self.text))

    def code_blocks(self) -> List[str]:
        return [fence.code for fence in self.query(MarkdownFence)]

    def on_click(self, event) -> None:
        widget = event.widget
        while widget is not None and widget is not self:
            if isinstance(widget, MarkdownFence):
                self.app.copy_to_clipboard(widget.code)
                self.app.notify("Code block copied")
                event.stop()
                return
            widget = widget.parent
