"""The streamed answer's Markdown: lists grow in place and end up as Textual would render them whole."""

from __future__ import annotations

import random
import re

import pytest
from textual.app import App
from textual.geometry import Offset
from textual.selection import Selection
from textual.widgets import Label, Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from qwqchat.mathtext import MathStream
from qwqchat.ui.widgets import answer as answer_module
from qwqchat.ui.widgets.answer import Answer, GrowingBulletList, GrowingList, GrowingOrderedList, ListRow
from qwqchat.ui.widgets.conversation import ConversationView

DOC = (
    "Intro paragraph.\n\n"
    + "".join(f"{i}. Item **{i}** of the first list\n" for i in range(1, 13))  # 9 -> 10: the numbers widen
    + "\nBetween the lists.\n\n"
    + "- top a\n- top b\n  - nested one\n  - nested two\n- top c\n\n  continued paragraph of c\n- top d\n"
    + "\n* loose one\n\n* loose two\n\n* loose three\n"
    + "\n7. starts at seven\n8. eight\n9. nine\n"
    + "\nLazy numbers:\n\n"
    + "".join(f"1. lazy {i}\n" for i in range(12))  # shown 1-12 all the same
    + "\nThe end, with `code`.\n"
)


def shape(markdown: Markdown) -> list:
    """What is on screen, widget by widget: each block's type and text, each bullet's symbol, every size.
    A list item of one paragraph is one ``ListRow`` in the answer and a bullet beside a column holding the
    paragraph in Textual's Markdown: both count as one row of that symbol, text and size."""
    out: list = []

    def walk(w) -> None:
        if isinstance(w, ListRow):
            out.append(("row", w.bullet, w._content.plain, w.size))
            return
        kids = list(w.children)
        if type(w).__name__ == "Horizontal" and [type(k).__name__ for k in kids] == ["MarkdownBullet", "Vertical"]:
            inner = list(kids[1].children)
            if len(inner) == 1 and type(inner[0]).__name__ == "MarkdownParagraph" and not inner[0].children:
                out.append(("row", str(kids[0].symbol), inner[0]._content.plain, w.size))
                assert inner[0].size.width == w.size.width - kids[0].size.width  # the text's column
                return
        if type(w).__name__ == "MarkdownBullet":
            out.append(("bullet", str(w.symbol), w.size))
        elif isinstance(w, MarkdownBlock) and not w.children:
            out.append((type(w).__name__, w._content.plain, w.size))
        else:
            name = "MarkdownFence" if isinstance(w, MarkdownFence) else type(w).__name__.replace("Growing", "Markdown")
            out.append((name, w.size))  # laid out alike: rows, margins
        for k in kids:
            walk(k)

    for child in markdown.children:
        walk(child)
    return out


async def settled(pilot, answer: Answer, source: str) -> None:
    """Until the stream's task has appended everything written (it runs on its own)."""
    for _ in range(200):
        await pilot.pause()
        if answer.source == source:
            return
    raise AssertionError(f"the answer holds {len(answer.source)} of {len(source)} characters")


class Pair(App):
    def compose(self):
        yield Answer()
        yield Markdown()


async def stream_as_whole(doc: str, seed: int, longest: int, size=(80, 24)) -> None:
    """Stream ``doc`` in random pieces of up to ``longest`` characters; after each, the answer must look as
    Textual's Markdown renders the same text whole."""
    rnd = random.Random(seed)
    app = Pair()
    async with app.run_test(size=size) as pilot:
        answer, whole = app.query_one(Answer), app.query(Markdown).last()
        at, shown, math = 0, "", MathStream()  # the answer holds back a line until its inline code closes
        while at < len(doc):
            step = rnd.randint(1, longest)
            await answer.append_text(doc[at : at + step])
            shown += math.feed(doc[at : at + step])
            at += step
            await settled(pilot, answer, shown)
            await whole.update(shown)
            await pilot.pause()
            assert shape(answer) == shape(whole), f"after {at} characters: {shown!r}"
        assert any(isinstance(w, GrowingList) for w in answer.query("*"))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_list_streamed_in_pieces_looks_as_if_rendered_whole(seed: int) -> None:
    await stream_as_whole(DOC, seed, 40)


EVERY_BLOCK = (
    "# Title\n\nA paragraph with a [link](https://example.com).\n\n"
    "> a quote\n> on two lines\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n"
    "```python\ndef f(x):\n    return x * 2\n```\n\n"
    "---\n\n"
    "1. one\n   ```\n   code in an item\n   ```\n2. two\n   - nested\n\n"
    "    indented code\n\n"
    "## Done\n"
)


async def test_every_kind_of_block_streamed_is_laid_out_as_textual_lays_it_out_whole() -> None:
    """The answer and its lists are laid out for their width alone (``width_only``): no block may come out
    another size than in Textual's own Markdown."""
    app = Pair()
    async with app.run_test(size=(90, 60)) as pilot:
        answer, whole = app.query_one(Answer), app.query(Markdown).last()
        for at in range(0, len(EVERY_BLOCK), 23):
            await answer.append_text(EVERY_BLOCK[at : at + 23])
            await pilot.pause()
        await answer.finish()
        await whole.update(EVERY_BLOCK)
        await pilot.pause()
        await pilot.pause()
        # every widget the same size (a table's cells are Statics when they streamed in: Textual's own doing)
        assert [w[-1] for w in shape(answer)] == [w[-1] for w in shape(whole)]
        kinds = [type(b).__name__.replace("Growing", "Markdown") for b in answer.children]
        assert [k if k != "Fence" else "MarkdownFence" for k in kinds] == [type(b).__name__ for b in whole.children]
        assert answer.size.height == whole.size.height > 20


async def test_a_growing_list_mounts_only_its_new_items() -> None:
    app = Pair()
    async with app.run_test() as pilot:
        answer = app.query_one(Answer)
        first = "".join(f"- item {i}\n" for i in range(20))
        await answer.append_text(first)
        await settled(pilot, answer, first)
        rows = list(app.query_one(GrowingBulletList).children)
        await answer.append_text("- item 20\n- item 21\n")
        await settled(pilot, answer, first + "- item 20\n- item 21\n")
        now = list(app.query_one(GrowingBulletList).children)
        assert len(now) == 22
        assert now[:19] == rows[:19]  # the same widgets: kept, not mounted again


async def test_the_end_keeps_what_streamed_unless_something_needs_fixing() -> None:
    app = Pair()
    async with app.run_test() as pilot:
        answer = app.query_one(Answer)
        text = "A paragraph.\n\n- one\n- two\n\nThe square: $x^2"
        await answer.append_text(text)
        held = MathStream().feed(text)
        assert held.startswith("A paragraph.") and not held.endswith("x^2")  # the math waits for its "$"
        await settled(pilot, answer, held)
        blocks = list(answer.children)
        await answer.append_text("$.")
        await answer.finish()
        assert list(answer.children)[:2] == blocks[:2]  # kept, not rebuilt
        assert "The square: x²." in [b._content.plain for b in answer.children]

        fenced = Answer()
        await app.mount(fenced)
        await fenced.append_text("```python\nprint(1)\n")
        await pilot.pause()
        await fenced.append_text("print(2)\n")
        await pilot.pause()
        before = list(fenced.children)
        await fenced.finish()
        assert fenced.code_blocks() == ["print(1)\nprint(2)"]  # what a click copies: all of it, not the first chunk
        assert list(fenced.children) == before  # kept, not rebuilt
        fence = fenced.query_one(MarkdownFence)
        await fence.recompose()  # as a theme change does (textual #6518: it showed the first chunk, or nothing)
        await pilot.pause()
        assert "print(2)" in fence.query_one(Label).content.plain


LISTS = (
    "Intro.\n\n"
    + "".join(
        f"{i}. Item **{i}** with [a link](https://example.com/{i}) and `code`, long enough to wrap twice "
        f"in the narrow column of this test\n"
        for i in range(1, 13)
    )
    + "\n- top a\n- top b\n  - nested one\n  - nested two\n- top c\n\n  continued paragraph of c\n- top d\n\n"
    "3. starts at three\n4. four\n\nEnd.\n"
)


class One(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self):
        yield self.widget


async def screenshot(widget, theme: str) -> str:
    app = One(widget)
    async with app.run_test(size=(46, 90)) as pilot:
        app.theme = theme
        await pilot.pause()
        await pilot.pause()
        shot = app.export_screenshot()
    return re.sub(r"terminal-\d+", "terminal", shot)  # the ids Textual draws at random


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_list_item_of_one_paragraph_is_one_widget_drawn_exactly_as_textual_draws_its_four(theme) -> None:
    """``ListRow``: the bullet or number in Textual's colours, the text wrapped under itself, links and inline
    styles kept; items of more than a paragraph stay Textual's rows."""
    ours, textuals = await screenshot(Answer(LISTS), theme), await screenshot(Markdown(LISTS), theme)
    assert ours == textuals
    app = One(Answer(LISTS))
    async with app.run_test(size=(46, 90)) as pilot:
        await pilot.pause()
        rows = list(app.query(ListRow))
        assert [r.bullet for r in rows][:3] == ["  1. ", "  2. ", "  3. "] and rows[11].bullet == " 12. "
        assert len(rows) == 12 + 4 + 2  # all but "top b" (a nested list under it) and "top c" (two paragraphs)
        assert rows[0].size.height == 3  # wrapped


async def test_a_link_in_a_list_row_opens_and_its_text_selects() -> None:
    clicked: list = []

    class Watch(One):
        def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
            clicked.append(event.href)

    app = Watch(Answer("- see [the docs](https://example.com/docs) here\n", open_links=False))
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        row = app.query_one(ListRow)
        await pilot.click(row, offset=(len(row.bullet) + len("see ") + 2, 0))
        await pilot.pause()
        assert clicked == ["https://example.com/docs"]
        assert row.get_selection(Selection(None, None)) == ("• see the docs here", "\n")
        assert row.get_selection(Selection(Offset(4, 0), Offset(12, 0))) == ("the docs", "\n")


class Chat(App):
    def compose(self):
        yield ConversationView()


FRAMES = [  # (thinking, answer) applied per frame
    ("Let me think about this. " * 40 + "\n", ""),
    ("Then more thinking, on a new line.\n" * 3, ""),
    ("", "The answer:\n\n"),
    ("", "1. one\n2. two\n"),
    ("", "3. three, a longer item that wraps onto a second row at this width " * 2 + "\n4. four\n"),
    ("", "\nA paragraph after the list.\n\n# A header\n\n- a\n- b\n  - nested\n"),
    ("", "\n> quoted\n\n```python\nx = 1\n"),
    ("", "y = 2\nz = 3\n```\n"),  # a code block that grows
]


async def test_a_frame_that_grows_the_reply_is_laid_out_once(monkeypatch) -> None:
    """Textual laid out each frame that grew the reply twice: the widgets that changed size asked for a second
    pass (their virtual size), and so did new blocks, whose text was set before they were mounted; the second
    pass found the same sizes.  It cost 9 of 30 ms of a long list's frame, taken from the model's threads."""
    app = Chat()
    async with app.run_test(size=(100, 60)) as pilot:
        view = app.query_one(ConversationView)
        turn = await view.add_reply()
        await pilot.pause(0.1)
        passes: list = []
        refresh_layout = app.screen._refresh_layout

        def counting(*args, **kwargs):
            passes.append(1)
            return refresh_layout(*args, **kwargs)

        monkeypatch.setattr(app.screen, "_refresh_layout", counting)
        counts = []
        for reasoning, answer in FRAMES:
            passes.clear()
            await turn.add(reasoning, answer, 1)
            for _ in range(4):
                await pilot.pause(0.05)
            counts.append(len(passes))
        assert counts == [1] * len(FRAMES)
        assert "A header" in turn.answer.source and turn.answer.size.height > 10


TRICKY = (
    "- a\n- b\n* c, another marker: another list\n* d\n"
    + "\n1. one\n2) two, another delimiter\n3) three\n"
    + "\n- item\n- item with a lazy\ncontinuation line\n- item\n\n  its second paragraph\n- last\n"
    + "# a header right after a list\n"
    + "- x\n- y\n---\n"
    + "- p\n- q\n```\ncode after a list\n```\n"
    + "".join(f"{i}. n{i}\n" for i in range(95, 103))  # 99 -> 100: the numbers widen
    + "\n- deep\n  - deeper\n    - deepest\n  - back\n- out\n"
    + "\nThe end.\n"
)


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
async def test_lists_that_change_as_they_stream_look_as_if_rendered_whole(seed: int) -> None:
    """Each frame re-parses a list from its last item on: another marker, a header or a rule right after it,
    numbers that widen, a lazy line, nesting; every step must look as Textual's Markdown renders it whole."""
    await stream_as_whole(TRICKY, seed, 12, size=(70, 80))


async def test_a_growing_list_parses_only_its_last_item_and_the_new_ones(monkeypatch) -> None:
    """Textual parsed the whole list again on every append and built a widget for every item."""
    app = Pair()
    async with app.run_test() as pilot:
        answer = app.query_one(Answer)
        first = "".join(f"{i}. item {i}\n" for i in range(1, 41))
        await answer.append_text(first)
        await settled(pilot, answer, first)
        built: list = []
        init = answer_module.Paragraph.__init__

        def counting(self, *args, **kwargs) -> None:
            built.append(self)
            init(self, *args, **kwargs)

        monkeypatch.setattr(answer_module.Paragraph, "__init__", counting)
        await answer.append_text("41. item 41\n42. item 42\n")
        await settled(pilot, answer, first + "41. item 41\n42. item 42\n")
        assert len(built) == 3  # items 40, 41 and 42
        rows = app.query_one(GrowingOrderedList).children
        assert [row.bullet.strip() for row in rows[-3:]] == ["40.", "41.", "42."] and len(rows) == 42


async def test_streamed_rows_share_their_inline_styles_and_follow_a_theme_change(monkeypatch) -> None:
    """As a widget mounts, Textual matches the whole stylesheet once for each of its component classes (em,
    strong, s, code, a row's bullet): five times for every row of a list answer, a third of the UI's CPU while one
    streamed.  Rows of a list take the first row's styles: the same styles Textual works out for each, before and
    after a theme change."""
    from textual.css.stylesheet import Stylesheet
    from textual.dom import DOMNode

    matched: list = []
    apply = Stylesheet.apply

    def counting(self, node, **kwargs):
        matched.append(type(node) is DOMNode)  # a component class's virtual node
        return apply(self, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", counting)
    doc = "Some *em* and `code`.\n\n" + "".join(f"{i}. item **{i}** with `x{i}` and ~~old~~\n" for i in range(1, 41))
    app = Pair()
    async with app.run_test(size=(80, 60)) as pilot:
        answer = app.query_one(Answer)
        for at in range(0, len(doc), 90):
            await answer.append_text(doc[at : at + 90])
            await pilot.pause()
        await settled(pilot, answer, doc)
        rows = list(answer.query(ListRow))
        assert len(rows) == 40 and sum(matched) < 2 * 5 * 4  # (was 5 a row, 200 for these rows alone)

        def as_textual_styles_it(block) -> bool:
            names = set(block._component_styles)
            for name in names:
                virtual = DOMNode(classes=name)
                virtual._attach(block)
                app.stylesheet.apply(virtual)
                if virtual.styles != block._component_styles[name]:
                    return False
            return names == set(type(block).COMPONENT_CLASSES) | ({"em", "strong", "s", "code_inline"})

        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            await pilot.pause()
            assert all(as_textual_styles_it(row) for row in rows), theme
            assert as_textual_styles_it(answer.query(answer_module.Paragraph).first())
