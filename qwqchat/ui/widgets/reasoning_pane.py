"""The thinking text: a column of plain-text blocks whose cost per token stays flat.

Reasoning traces are often one unbroken paragraph of tens of thousands of
tokens.  Markdown re-parses its last block on every append (cost grows with
the block), so the text goes into ``Static`` blocks instead: new text lands
in a small block capped at ``BLOCK_CHARS``, so each repaint re-wraps little
text; and every ``MERGE`` full blocks are merged into one "chapter" that never
changes again, so the number of widgets that each layout pass visits stays
small however long the trace gets (both effects measured in
``benchmarks/ui_stream.py``).
"""

from __future__ import annotations

from typing import List

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ...text import printable

BLOCK_CHARS = 2000
MERGE = 8


class ReasoningBlock(Static):
    pass


class ReasoningPane(Vertical):
    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._chapters: List[str] = []
        self._blocks: List[str] = []
        self._initial = text

    def compose(self):
        text = printable(self._initial)
        self._initial = ""
        if len(text) > BLOCK_CHARS * MERGE:
            cut = text.rfind(" ", 0, len(text) - BLOCK_CHARS) + 1 or len(text) - BLOCK_CHARS
            self._chapters = [text[:cut]]
            text = text[cut:]
        self._blocks = _split(text) or [""]
        for chapter in self._chapters:
            yield ReasoningBlock(Content(chapter), classes="chapter")
        for block in self._blocks:
            yield ReasoningBlock(Content(block))

    @property
    def text(self) -> str:
        return "".join(self._chapters) + "".join(self._blocks)

    def append(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        before = len(self._blocks)
        _extend(self._blocks, text)
        widgets = [w for w in self.query_children(ReasoningBlock) if not w.has_class("chapter")]
        if widgets:
            widgets[-1].update(Content(self._blocks[before - 1]))
        new = [ReasoningBlock(Content(b)) for b in self._blocks[before:]]
        if new:
            self.mount_all(new)
            widgets += new
        if len(self._blocks) > MERGE:
            self._merge(widgets)

    def _merge(self, widgets: List[ReasoningBlock]) -> None:
        """Fold the oldest full blocks into one chapter that is laid out once and cached."""
        chapter = "".join(self._blocks[:MERGE])
        self._chapters.append(chapter)
        self._blocks = self._blocks[MERGE:]
        self.mount(ReasoningBlock(Content(chapter), classes="chapter"), before=widgets[0])
        for w in widgets[:MERGE]:
            w.remove()


def _extend(blocks: List[str], text: str) -> None:
    """Append to the last block; past BLOCK_CHARS start a new one at a word boundary."""
    if not blocks:
        blocks.append("")
    while text:
        room = BLOCK_CHARS - len(blocks[-1])
        if room > 0:
            blocks[-1] += text[:room]
            text = text[room:]
            continue
        cut = min((i for i in (text.find(" "), text.find("\n")) if i >= 0), default=-1)
        if cut < 0 and len(blocks[-1]) < BLOCK_CHARS + 200:
            blocks[-1] += text  # finish the word first
            return
        cut = cut + 1 if cut >= 0 else 0
        blocks[-1] += text[:cut]
        text = text[cut:]
        blocks.append("")
    if not blocks[-1] and len(blocks) > 1:
        blocks.pop()


def _split(text: str) -> List[str]:
    blocks: List[str] = []
    _extend(blocks, text)
    return [b for b in blocks if b]
