"""The streamed answer's Markdown: lists grow in place and end up as Textual would render them whole."""

from __future__ import annotations

import random

import pytest
from textual.app import App
from textual.widgets import Label, Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from qwqchat.mathtext import MathStream
from qwqchat.ui.widgets.answer import Answer, GrowingBulletList, GrowingList

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
    """What is on screen, widget by widget: each block's type and text, each bullet's symbol, every size."""
    out = []
    for w in markdown.query("*"):
        if type(w).__name__ == "MarkdownBullet":
            out.append(("bullet", str(w.symbol), w.size))
        elif isinstance(w, MarkdownBlock) and not w.children:
            out.append((type(w).__name__, w._content.plain, w.size))
        else:
            out.append((type(w).__name__.replace("Growing", "Markdown"), w.size))  # laid out alike: rows, margins
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


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_list_streamed_in_pieces_looks_as_if_rendered_whole(seed: int) -> None:
    rnd = random.Random(seed)
    app = Pair()
    async with app.run_test() as pilot:
        answer, whole = app.query_one(Answer), app.query(Markdown).last()
        at, shown, math = 0, "", MathStream()  # the answer holds back a line until its inline code closes
        while at < len(DOC):
            step = rnd.randint(1, 40)
            await answer.append_text(DOC[at : at + step])
            shown += math.feed(DOC[at : at + step])
            at += step
            await settled(pilot, answer, shown)
            await whole.update(shown)
            await pilot.pause()
            assert shape(answer) == shape(whole), f"after {at} characters"
        assert any(isinstance(w, GrowingList) for w in answer.query("*"))


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
