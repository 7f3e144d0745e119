"""The final answer, rendered as Markdown and appended a frame's worth at a time.

Its math is shown readable while it streams: ``MathStream`` holds a line back
until every expression in it is closed, then converts it (plain prose passes at
once); the whole answer is rendered again at its end only if its math then reads otherwise.

Lists grow in place: Textual re-parses the document's last top-level block on
every append and, for a list, removes and mounts the whole list again (four
widgets per item), so a 17-item answer cost 112 ms of the UI's CPU in one
frame, taken from the model's cores.  ``GrowingList`` keeps the items that can
no longer change and mounts only the last one and the new ones, and an item of
one paragraph (most are) is one ``ListRow``: a 300-token reply ending in a
17-item list took the app 0.38 s of CPU, 0.26 s with them.  A list at the
answer's end is parsed again from its last item on, not whole
(``Answer._append_to_list``): Textual's parse of a 98-item list built a widget
for each item, every frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from markdown_it import MarkdownIt
from rich.segment import Segment
from textual.await_complete import AwaitComplete
from textual.content import Content
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownBullet, MarkdownHeader, MarkdownParagraph  # (not exported)
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from ...mathtext import MathStream, render_math
from ...text import printable
from .laid_out import LaidOut, LaidOutHorizontal, LaidOutVertical, laid_out, relaid
from .shared_styles import SharedComponentStyles, shared_styles

# Textual's list blocks, through its public table of block classes (the classes themselves are private)
BulletList = Markdown.BLOCKS["bullet_list_open"]
OrderedList = Markdown.BLOCKS["ordered_list_open"]
ListItems = (Markdown.BLOCKS["list_item_ordered_open"], Markdown.BLOCKS["list_item_unordered_open"])


if TYPE_CHECKING:  # what the list classes it is mixed into offer
    _Mixin = MarkdownBlock
else:
    _Mixin = object


# every kind of block and inline the answer may hold, links of each form among them
WARM_SAMPLE = (
    "# T\n\nA **b** *c* ~~d~~ `e` [f](https://g.h) www.i.com j@k.com https://l.m/n?o=p\n\n- q\n\n1. r\n\n> s\n\n"
    "```python\nt = 1\n```\n\n| u | v |\n|---|---|\n| w | x |\n\n---\n"
)


def warm_parser() -> None:
    """Parse a sample once, off the UI thread, before the first answer: the first parse compiles the Markdown
    parser's regular expressions (linkify's), 5-35 ms that the first answer's first frame paid while the
    model decoded."""
    MarkdownIt("gfm-like").parse(WARM_SAMPLE)  # the parser Textual's Markdown builds (from Textual 6.4 to 8.2)


def width_only(size: Size) -> Size:
    """The size to lay out a Markdown container's children for, whose heights are all ``auto`` or fixed: its
    width alone.  Textual arranges them for the container's height too and keys its cached arrangements on
    both; as an answer grew, every list and code block in it missed its cache and was laid out again each frame
    (a 142-block answer: 65 ms for one more paragraph, 37 ms with this)."""
    return Size(size.width, 0)


class Hanging(Visual):
    """A list item's text with its bullet before the first line and the later lines indented under the text,
    as Textual's row of a bullet beside a column lays it out."""

    def __init__(self, bullet: str, bullet_style: Style, text: Content) -> None:
        self.bullet, self.bullet_style, self.text = bullet, bullet_style, text
        self.indent = Content(bullet).cell_length

    def render_strips(self, width: int, height, style: Style, options: RenderOptions) -> list:
        lines = self.text.render_strips(max(1, width - self.indent), height, style, options)
        head = Strip([Segment(self.bullet, (style + self.bullet_style).rich_style)], self.indent)
        pad = Strip.blank(self.indent, style.rich_style)
        return [Strip.join([head if i == 0 else pad, line]) for i, line in enumerate(lines or [Strip([])])]

    def get_optimal_width(self, rules, container_width: int) -> int:
        return self.indent + self.text.get_optimal_width(rules, max(1, container_width - self.indent))

    def get_height(self, rules, width: int) -> int:
        return self.text.get_height(rules, max(1, width - self.indent))


class ListRow(SharedComponentStyles, LaidOut, MarkdownParagraph):
    """A list item that is one paragraph (most are), drawn as one widget instead of Textual's four (a row, the
    bullet, a column, the paragraph): each widget mounted costs the UI 1-2 ms, and a list streams in an item
    at a time while the model decodes on the same cores."""

    COMPONENT_CLASSES = MarkdownParagraph.COMPONENT_CLASSES | {"list-row--bullet"}
    DEFAULT_CSS = """
    ListRow > .list-row--bullet {
        color: $text-primary;
    }
    ListRow:light > .list-row--bullet {
        color: $text-secondary;
    }
    """

    def __init__(self, paragraph: MarkdownParagraph, bullet: str) -> None:
        super().__init__(paragraph._markdown, paragraph._token, source_range=paragraph.source_range)
        self.bullet = bullet
        self._inline_token = paragraph._inline_token
        self.set_content(paragraph._content)

    def render(self) -> Hanging:
        return Hanging(self.bullet, self.get_visual_style("list-row--bullet", partial=True), self._content)

    def get_selection(self, selection):
        """The selected text; with the bullet when the selection starts above the row (as Textual's bullet
        widget gives its symbol then)."""
        text = selection.extract(self._content.plain)
        return (self.bullet + text if selection.start is None else text), "\n"


Paragraph = shared_styles(laid_out(MarkdownParagraph))
Bullet = laid_out(MarkdownBullet)


class GrowingList(LaidOut, _Mixin):
    """For a list block: updated from its re-parsed self, it keeps the rows of the items before its last.

    While the source only grows, every item before the last one is closed: its lines are whole and the
    same.  An item counts as kept when its line range is unchanged; anything else (fewer items, another
    list type, an ordered list whose numbers need another width) rebuilds the list as Textual does.
    A plain class mixed in first: Textual takes a widget's CSS type (and Textual's list styles) from its
    first widget base, which is then the Textual list class.
    """

    _item_lines: list = []
    _layout: tuple = ()

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        return super().arrange(width_only(size), optimal)

    def compose(self):
        items = [b for b in self._blocks if isinstance(b, ListItems)]
        self._item_lines = self._lines(self, items)
        self._layout = self._numbering(items)
        yield from self._rows(items)
        self._blocks.clear()

    @staticmethod
    def _lines(block: MarkdownBlock, items: list) -> list:
        """Each item's range of lines, counted from the list's first line."""
        first = block._token.map[0] if block._token.map else 0
        return [[b._token.map[0] - first, b._token.map[1] - first] for b in items]

    @property
    def last_item_line(self) -> Optional[int]:
        """Where the last item starts, in lines from the list's first: streaming changes nothing above it.
        None while there is no item before it to keep."""
        if len(self._item_lines) < 2 or len(self.children) != len(self._item_lines):
            return None
        return self._item_lines[-1][0]

    def _rows(self, items):
        """The rows Textual's list classes compose (a bullet beside a column of the item's blocks, an ordered
        list's numbers right-aligned to the widest), with an item of one paragraph as one ``ListRow``."""
        for number, item in enumerate(items, self._layout[0] if self._layout else 1):
            symbol = f"{number}. ".rjust(self._layout[1] + 3) if self._layout else item.bullet
            blocks = item._blocks
            if len(blocks) == 1 and type(blocks[0]) is Paragraph:
                yield ListRow(blocks[0], symbol)
                continue
            bullet = Bullet()
            bullet.symbol = symbol
            yield LaidOutHorizontal(bullet, LaidOutVertical(*blocks))

    def _numbering(self, items) -> tuple:
        """What every row's bullet depends on: an ordered list's first number and widest number."""
        if not isinstance(self, OrderedList) or not items:
            return ()
        try:
            start = int(items[0].bullet)
        except ValueError:
            start = 1
        return start, len(str(start + len(items) - 1))

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        old = self._item_lines
        items = [b for b in block._blocks if isinstance(b, ListItems)]
        lines = self._lines(block, items)
        keep = len(old) - 1 if old else 0
        if (
            type(block) is not type(self)
            or keep < 1
            or len(self.children) != len(old)
            or lines[:keep] != old[:keep]
            or len(items) <= keep
            or self._numbering(items) != self._layout
        ):
            await super()._update_from_block(block)
            return
        self._token = block._token
        await self._grow(block, items[keep:], lines)

    async def extend(self, block: MarkdownBlock, offset: int) -> bool:
        """Update from ``block``: this list parsed again from its last item on (``offset`` lines below its first
        line).  False, with nothing done, where the whole list is to be parsed: its numbers need another width."""
        items = [b for b in block._blocks if isinstance(b, ListItems)]
        keep = len(self._item_lines) - 1
        if type(block) is not type(self) or not items or keep < 1 or len(self.children) != keep + 1:
            return False
        lines = self._item_lines[:keep] + [[a + offset, b + offset] for a, b in self._lines(block, items)]
        if self._layout and len(str(self._layout[0] + len(lines) - 1)) != self._layout[1]:
            return False
        await self._grow(block, items, lines)
        return True

    async def _grow(self, block: MarkdownBlock, tail: list, lines: list) -> None:
        """Rows for ``tail`` (the last item again, then the new ones) in place of the last row: building a row
        for every item cost as much as the parse.  ``lines``: every item's lines."""
        self._item_lines = lines
        if self._layout:  # an ordered list: its numbers go on from the kept rows' (the source may say "1." each time)
            tail[0].bullet = str(self._layout[0] + len(lines) - len(tail))
        block._blocks = tail
        await self.children[-1].remove()
        await self.mount_all(list(block.compose()))


class GrowingBulletList(GrowingList, BulletList):  # type: ignore[misc,valid-type]
    pass


class GrowingOrderedList(GrowingList, OrderedList):  # type: ignore[misc,valid-type]
    pass


class Fence(LaidOut, MarkdownFence):
    """A code block that keeps what streamed into it.  Textual before 8.2.6 (textual #6518) updated only the
    shown label as a fence grew: its ``code`` stayed the first chunk's, so a click copied that, and a later
    recompose (a theme change) showed it.  The answer was rebuilt whole at its end to fix that: with 35 code
    blocks, 11 MB of the app's peak memory and its largest frame."""

    def compose(self):
        for widget in super().compose():
            yield relaid(widget)  # the code's text: it grows as the code streams

    def _copy_context(self, block: MarkdownBlock) -> None:
        if isinstance(block, MarkdownFence):
            self.code, self._highlighted_code = block.code, block._highlighted_code
        super()._copy_context(block)


class Answer(LaidOut, Markdown):
    """Markdown that grows; a click on a code block copies that block."""

    BLOCKS = {
        **{name: shared_styles(laid_out(block)) for name, block in Markdown.BLOCKS.items()},
        "paragraph_open": Paragraph,
        "bullet_list_open": GrowingBulletList,
        "ordered_list_open": GrowingOrderedList,
        "fence": Fence,
        "code_block": Fence,
    }

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        return super().arrange(width_only(size), optimal)

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(render_math(printable(text)), **kwargs)
        self._parts: List[str] = [printable(text)] if text else []
        self._math = MathStream()

    @property
    def text(self) -> str:
        """The answer as the model wrote it (LaTeX included); the screen shows its math as Unicode."""
        return "".join(self._parts)

    def append(self, markdown: str) -> AwaitComplete:
        return AwaitComplete(self._append(markdown))

    async def _append(self, markdown: str) -> None:
        async with self.lock:
            if await self._append_to_list(markdown):
                return
        await super().append(markdown)

    async def _append_to_list(self, markdown: str) -> bool:
        """Where the answer ends in a list, parse it again from its last item on; False where it does not.
        Textual parses the last block whole on every append and builds a widget for each of its items: the
        frames of a 98-item list answer each spent 20 ms on it, from the model's cores."""
        blocks = [b for b in self.children if isinstance(b, MarkdownBlock)]
        last = blocks[-1] if blocks else None
        if not isinstance(last, GrowingList) or last.source_range[0] != self._last_parsed_line:
            return False
        offset = last.last_item_line
        if offset is None:
            return False
        source, at = self.source + markdown, self._last_parsed_line + offset
        parser = MarkdownIt("gfm-like") if self._parser_factory is None else self._parser_factory()
        tokens = parser.parse("".join(source.splitlines(keepends=True)[at:]))
        new = list(self._parse_markdown(tokens))
        if not new:
            return False
        for block in new:  # (counted from the list's last item: from the document's start, as Textual keeps them)
            block.source_range = (block.source_range[0] + at, block.source_range[1] + at)
        with self.app.batch_update():
            if not await last.extend(new[0], offset):
                return False
            self._markdown = source
            last.source_range = (last.source_range[0], new[0].source_range[1])
            top = [t.map[0] for t in tokens if t.map is not None and t.level == 0][-1]
            if top:  # the last block is a new one: later appends parse from there
                self._last_parsed_line = at + top
            if new[1:]:
                await self.mount_all(new[1:])
        if any(isinstance(b, MarkdownHeader) for b in new):
            self._table_of_contents = None
            self.post_message(Markdown.TableOfContentsUpdated(self, self.table_of_contents).set_sender(self))
        return True

    async def append_text(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        self._parts.append(text)
        shown = self._math.feed(text)
        if shown:
            # parsed and mounted now, not through Textual's MarkdownStream: that one gathers what is written
            # while it works and appends it all at once, and the pump already sends a frame's worth at a time
            await self.append(shown)

    async def finish(self) -> None:
        """Stop streaming; re-render once only where streaming left something to fix: math that reads otherwise
        in the whole text.  Else what was held back is appended: rebuilding every block of a long answer took
        50-100 ms of the UI just as the next prompt is typed."""
        final, shown = render_math(self.text), self.source
        if final.startswith(shown):
            if final != shown:
                await self.append(final[len(shown) :])
            return
        await self.update(final)

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
