"""The thinking text: a column of small plain-text blocks.

Reasoning traces are often one unbroken paragraph of tens of thousands of
tokens.  Markdown re-parses its last block on every append (cost grows with
the block), so instead the text goes into ``Static`` blocks capped at
``BLOCK_CHARS``: each repaint touches one small block and the cost per token
stays flat however long the trace gets.
"""

from __future__ import annotations

from typing import List

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ...text import printable

BLOCK_CHARS = 2000


class ReasoningBlock(Static):
    pass


class ReasoningPane(Vertical):
    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._blocks: List[str] = []
        self._initial = text

    def compose(self):
        self._blocks = _split(printable(self._initial)) or [""]
        for text in self._blocks:
            yield ReasoningBlock(Content(text))

    @property
    def text(self) -> str:
        return "".join(self._blocks)

    def append(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        before = len(self._blocks)
        _extend(self._blocks, text)
        widgets = list(self.query_children(ReasoningBlock))
        if widgets:
            widgets[-1].update(Content(self._blocks[before - 1]))
        new = [ReasoningBlock(Content(b)) for b in self._blocks[before:]]
        if new:
            self.mount_all(new)


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
