"""The thinking's outline in the app: turning points marked and listed, find in the thinking, copy it."""

from textual.widgets import Input, OptionList
from uihelpers import CHUNKS, Gate, finished, make_app, ready, send, wait_until

from qwqchat.engines.replay import ReplayEngine, tokens_of
from qwqchat.reasoning import REASONING as THINKING
from qwqchat.reasoning import ReasoningSplitter
from qwqchat.ui.screens.outline import JumpList
from qwqchat.ui.widgets.find_bar import FindBar
from qwqchat.ui.widgets.reasoning_pane import CURRENT_HIT, HIT, MARK, ReasoningBlock

REASONING = "\n\n".join(
    f"Wait, paragraph {i} rethinks the sum." if i % 10 == 7 else f"Paragraph {i}: " + "we add the numbers " * 9
    for i in range(60)
)
LONG = tokens_of(REASONING + "\n</think>\n\nThe answer is 12.")
POINTS = [f"Wait, paragraph {i} rethinks the sum." for i in (7, 17, 27, 37, 47, 57)]


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def styled(turn, style: str) -> list:
    """The text under ``style`` in the turn's reasoning pane, span by span."""
    out = []
    for block in turn.fold.pane.query(ReasoningBlock):
        content = block.content
        out += [content.plain[s.start : s.end] for s in content.spans if s.style == style]
    return out


async def test_jump_list_lists_the_turning_points_and_a_jump_unfolds_and_scrolls(qwq_home):
    app = make_app(ReplayEngine(LONG, name="m"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        await app.open_conversation(app.conversation.id)  # from the store: folded, its pane not built yet
        turn = app.view.last_turn()
        assert turn.fold.collapsed and turn.fold.pane is None
        await pilot.press("f11")
        await wait_until(pilot, lambda: isinstance(app.screen, JumpList), what="the jump list")
        options = app.screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == POINTS
        assert "6 turning points" in screen_text(app)
        options.highlighted = 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, JumpList), what="the jump list to close")
        assert not turn.fold.collapsed
        await wait_until(pilot, lambda: POINTS[1] in screen_text(app), what="paragraph 17 on screen")
        assert POINTS[4] not in screen_text(app)  # it scrolled there, it did not just show everything
        await pilot.press("f11")
        await wait_until(pilot, lambda: isinstance(app.screen, JumpList), what="the jump list")
        app.screen.query_one(OptionList).highlighted = 4
        await pilot.press("enter")
        await wait_until(pilot, lambda: POINTS[4] in screen_text(app), what="paragraph 47 on screen")
        assert POINTS[1] not in screen_text(app)
        assert styled(turn, MARK) == ["Wait"] * 6  # every turning point marked in the pane


async def test_turning_points_are_marked_block_by_block_while_streaming(qwq_home):
    at = (REASONING.find(POINTS[-1]) + 40) // 4  # past the last point: several blocks are full, one is open
    gate = Gate(at)
    app = make_app(ReplayEngine(LONG, name="m", pace=gate))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        turn = app.streaming_turn
        splitter = ReasoningSplitter(True)
        expected = sum(1 for c in LONG[:at] for kind, _ in splitter.feed(c) if kind == THINKING)
        await wait_until(pilot, lambda: turn.reasoning_pieces == expected, what="the thinking so far")
        pane = turn.fold.pane
        open_block = pane._blocks[-1]
        shown = len(styled(turn, MARK))
        assert "Wait," in open_block and 0 < shown < 6
        assert shown == turn.fold.text[: -len(open_block)].count("Wait,")  # all but the block still being written
        gate.release()
        await finished(pilot)
        turn.fold.collapsed = False
        await wait_until(pilot, lambda: len(styled(turn, MARK)) == 6, what="the last block marked at the end")


async def test_no_turning_points_says_so_and_the_recorded_trace_has_one(qwq_home):
    app = make_app(ReplayEngine(tokens_of("Just thinking.\n</think>\nAnswer."), name="m"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        await pilot.press("f11")
        await wait_until(pilot, lambda: "No turning points in this thinking" in app.notified, what="the notice")
        assert not isinstance(app.screen, JumpList)
    app = make_app(ReplayEngine(CHUNKS, name="m"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        await pilot.press("f11")
        await wait_until(pilot, lambda: isinstance(app.screen, JumpList), what="the jump list")
        assert app.screen.query_one(OptionList).option_count == 1 and "1 turning point" in screen_text(app)


async def test_find_in_the_thinking_highlights_steps_and_escape_clears(qwq_home):
    app = make_app(ReplayEngine(LONG, name="m"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        turn = app.view.last_turn()
        await pilot.press("f12")
        await wait_until(pilot, lambda: app.screen.query(FindBar), what="the find bar")
        bar = app.screen.query_one(FindBar)
        await wait_until(pilot, lambda: bar.display and app.focused is bar.query_one(Input), what="the find bar")
        assert not turn.fold.collapsed  # searching shows the thinking
        box = bar.query_one(Input)  # the box gets the room, not the count
        await wait_until(pilot, lambda: box.size.width > 0, what="the find bar laid out")
        assert box.size.width > bar.size.width // 2
        await pilot.press(*"RETHINKS")  # case-insensitive: one match per turning point
        count = bar.query_one("#find-count")
        await wait_until(pilot, lambda: str(count.content) == "1/6", what="1/6")
        assert styled(turn, CURRENT_HIT) == ["rethinks"] and len(styled(turn, HIT)) == 6
        await pilot.press("enter")
        await pilot.press("enter")
        await wait_until(pilot, lambda: str(count.content) == "3/6", what="3/6")
        await wait_until(pilot, lambda: POINTS[2] in screen_text(app), what="the third match on screen")
        await pilot.press("up")
        assert str(count.content) == "2/6"
        await pilot.press("up", "up")
        assert str(count.content) == "6/6"  # wraps round
        await pilot.press("f12")  # the find key again, in the bar: next
        assert str(count.content) == "1/6"
        await pilot.press("backspace", "x")
        await wait_until(pilot, lambda: str(count.content) == "no match", what="no match")
        assert styled(turn, HIT) == styled(turn, CURRENT_HIT) == []
        await pilot.press("backspace", "s")
        await wait_until(pilot, lambda: str(count.content) == "1/6", what="1/6 again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not bar.display, what="the bar to close")
        assert styled(turn, HIT) == styled(turn, CURRENT_HIT) == [] and styled(turn, MARK) == ["Wait"] * 6
        assert app.focused is app.prompt and app.stream is None


async def test_copy_the_thinking(qwq_home):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+backslash")
        assert "No thinking to copy" in app.notified
        await send(pilot, "q")
        await finished(pilot)
        await pilot.press("ctrl+backslash")
        reasoning = "".join(CHUNKS).split("</think>")[0]
        assert app.clipboard == reasoning.rstrip("\n") and "Let me also double-check" in app.clipboard
        assert "Thinking copied" in app.notified


async def test_math_in_the_answer_is_converted_while_it_streams(qwq_home):
    text = "Thinking.\n</think>\n\nThe area is $\\pi r^2$ exactly.\n\nThen $\\frac{1}{2}$ more.\n"
    chunks = tokens_of(text)
    at = (text.index("\\frac{1}") + 8) // 4  # the replay stops in the middle of the second expression
    gate = Gate(at)
    app = make_app(ReplayEngine(chunks, name="m", pace=gate))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        answer = app.streaming_turn.answer
        await wait_until(pilot, lambda: "Then " in answer.source, what="the answer up to the open expression")
        assert "The area is π r² exactly." in answer.source and "$" not in answer.source  # converted mid-stream
        assert "\\frac" not in answer.source and "1/2" not in answer.source  # never half an expression
        assert "$\\pi r^2$" in answer.text  # the text as written is kept
        gate.release()
        await finished(pilot)
        assert "Then 1/2 more." in answer.source
