"""The thinking text: a column of plain-text blocks whose cost per token stays flat.

Reasoning traces are often one unbroken paragraph of tens of thousands of
tokens.  Markdown re-parses its last block on every append (cost grows with
the block), so the text goes into ``Static`` blocks instead: new text lands
in a small block capped at ``BLOCK_CHARS``, so each repaint re-wraps little
text; and every ``MERGE`` full blocks are merged into one "chapter" that never
changes again, so the number of widgets that each layout pass visits stays
small however long the trace gets (both effects measured in
``benchmarks/ui_stream.py``).

Turning points (``outline.py``) and find matches are styled spans.  They cost
nothing per token: the text is scanned once as each block fills (the block
being written shows plain text), and again only when the turn finishes or a
search changes.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import List, Tuple

from textual.containers import ScrollableContainer, Vertical
from textual.content import Content, Span
from textual.widgets import Static

from ...outline import TurningPoint, iter_turning_points
from ...text import printable
from .laid_out import LaidOut

BLOCK_CHARS = 2000
# Past BLOCK_CHARS a block waits this much longer for a line's end to be cut at: a block drawn below another starts
# a new line, and a cut inside a paragraph showed as a line break in it.  Only a line longer than this is cut at
# a word.
SLACK = 1000
MERGE = 8
MARK = "bold $accent"  # a turning point's opening phrase
HIT = "reverse"  # a find match
CURRENT_HIT = "bold reverse $warning"  # the find match the bar points at


class ReasoningBlock(LaidOut, Static):
    pass


class ReasoningPane(LaidOut, Vertical):
    def __init__(self, text: str = "", final: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self._chapters: List[str] = []
        self._blocks: List[str] = []
        self._initial = text
        self._final = final  # the text is whole: a phrase at its very end counts
        self._points: List[TurningPoint] = []  # found so far, in order
        self._scan_from = 0  # where the next scan starts (a line start, or mid-line when no phrase can start)
        self._hits: List[Tuple[int, int]] = []  # find matches: (start, end)
        self._current = -1  # the find match in focus

    def compose(self):
        text = printable(self._initial)
        self._initial = ""
        if len(text) > BLOCK_CHARS * MERGE:
            last = len(text) - BLOCK_CHARS  # the chapter ends at a line's end if one is near, else at a word
            cut = text.rfind("\n", last - SLACK, last) + 1 or text.rfind(" ", 0, last) + 1 or last
            self._chapters = [text[:cut]]
            text = text[cut:]
        self._blocks = _split(text) or [""]
        self._scan()
        for i in range(len(self._chapters)):
            yield ReasoningBlock(self._content(i), classes="chapter")
        for i in range(len(self._blocks)):
            yield ReasoningBlock(self._content(len(self._chapters) + i))

    @property
    def text(self) -> str:
        return "".join(self._chapters) + "".join(self._blocks)

    def append(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        before = len(self._blocks)
        _extend(self._blocks, text)
        closed = len(self._blocks) > before  # blocks filled up: their text is final, mark it
        if closed:
            self._scan()
        first = len(self._chapters)
        widgets = [w for w in self.query_children(ReasoningBlock) if not w.has_class("chapter")]
        if widgets:
            widgets[-1].update(self._content(first + before - 1) if closed else Content(self._blocks[before - 1]))
        last = len(self._blocks) - 1  # still being written: plain, like every update of it until it fills
        new = [
            ReasoningBlock(self._content(first + i) if i < last else Content(self._blocks[i]))
            for i in range(before, last + 1)
        ]
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
        self.mount(ReasoningBlock(self._content(len(self._chapters) - 1), classes="chapter"), before=widgets[0])
        for w in widgets[:MERGE]:
            w.remove()

    # -- turning points and find matches ----------------------------------------------
    def _segments(self) -> List[str]:
        """The text of each ReasoningBlock, in order (chapters, then blocks)."""
        return self._chapters + self._blocks

    def _start(self, index: int) -> int:
        return sum(len(t) for t in self._segments()[:index])

    def _scan(self) -> None:
        """Find the turning points in the text that came since the last scan (a phrase is kept once it is whole)."""
        text = self.text
        for p in iter_turning_points(text, self._scan_from):
            if p.end == len(text) and not self._final:
                break  # "Wait" might yet become "Waiting"
            if not self._points or p.offset > self._points[-1].offset:
                self._points.append(p)
        line = text.rfind("\n") + 1  # a phrase can still open the last line while it is short
        self._scan_from = max(self._scan_from, line if len(text) - line < 64 else len(text))

    def _content(self, index: int) -> Content:
        """Segment ``index`` with its turning points and find matches styled (without the line end it was cut
        after: the next block starts a line anyway)."""
        segments = self._segments()
        text = segments[index]
        if index < len(segments) - 1 and text.endswith("\n"):
            text = text[:-1]
        start = self._start(index)
        end = start + len(text)
        spans: List[Span] = []
        for ranges, style in (
            ([(p.offset, p.end) for p in self._points[bisect_right(self._points, start, key=lambda p: p.end) :]], MARK),
            (self._hits[bisect_right(self._hits, start, key=lambda h: h[1]) :], HIT),
        ):
            for a, b in ranges:
                if a >= end:
                    break
                if b > start:
                    spans.append(Span(max(a, start) - start, min(b, end) - start, style))
        if 0 <= self._current < len(self._hits):
            a, b = self._hits[self._current]
            if a < end and b > start:
                spans.append(Span(max(a, start) - start, min(b, end) - start, CURRENT_HIT))
        return Content(text, spans) if spans else Content(text)

    def _restyle(self) -> None:
        for i, widget in enumerate(self.query_children(ReasoningBlock)):
            widget.update(self._content(i))

    def finish(self) -> None:
        """The thinking is whole: mark the last block too."""
        self._final = True
        self._scan()
        self._restyle()

    def highlight(self, hits: List[Tuple[int, int]], current: int = -1) -> None:
        """Show find matches (``[]`` clears them); ``current`` is the one in focus."""
        self._hits, self._current = hits, current
        self._restyle()

    def turning_points(self) -> List[TurningPoint]:
        """The turning points found so far (the whole text once finished)."""
        return list(self._points)

    def scroll_to_offset(self, offset: int) -> None:
        """Scroll the conversation so the line holding ``offset`` is near the top."""
        widgets = list(self.query_children(ReasoningBlock))
        start = 0
        for text, widget in zip(self._segments(), widgets, strict=False):
            if offset < start + len(text) or widget is widgets[-1]:
                break
            start += len(text)
        width = max(1, widget.content_region.width or widget.size.width)
        line = len(Content(text[: max(0, offset - start)] + "x").wrap(width)) - 1
        scroller = next((a for a in self.ancestors if isinstance(a, ScrollableContainer)), None)
        if scroller is None:
            return
        scroller.release_anchor()
        scroller.scroll_to_widget(widget, top=True, animate=False, immediate=True)
        scroller.scroll_to(y=scroller.scroll_y + max(0, line - 1), animate=False, immediate=True)


def _extend(blocks: List[str], text: str) -> None:
    """Append to the last block; past BLOCK_CHARS start a new one after a line's end, or past SLACK more at a
    word boundary."""
    if not blocks:
        blocks.append("")
    while text:
        room = BLOCK_CHARS - len(blocks[-1])
        if room > 0:
            blocks[-1] += text[:room]
            text = text[room:]
            continue
        if blocks[-1].endswith("\n"):
            blocks.append("")
            continue
        slack = SLACK + room
        if slack > 0:
            line = text.find("\n", 0, slack)
            take = line + 1 if line >= 0 else slack
            blocks[-1] += text[:take]
            text = text[take:]
            continue
        cut = min((i for i in (text.find(" "), text.find("\n")) if i >= 0), default=-1)
        if cut < 0 and len(blocks[-1]) < BLOCK_CHARS + SLACK + 200:
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
