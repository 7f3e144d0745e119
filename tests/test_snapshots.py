"""SVG snapshots of the screens people judge us by (``pytest --snapshot-update`` rewrites them)."""

from uihelpers import TRACE_STATS, ANSWER_AT, Gate, finished, make_app, ready, reasoning_pieces_before, send, wait_until

WIDE = (140, 36)
NARROW = (100, 36)


def test_first_run_with_no_chats(snap_compare, qwq_home):
    async def loaded(pilot):
        await ready(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=loaded)


def test_streaming_with_reasoning_beside_the_answer(snap_compare, qwq_home):
    at = ANSWER_AT - 30
    gate = Gate(at, hold=3)
    app = make_app(pace=gate, stats=TRACE_STATS)

    async def streaming(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await gate.wait_reached()
        expected = reasoning_pieces_before(at)
        await wait_until(pilot, lambda: app.streaming_turn and app.streaming_turn.reasoning_pieces == expected)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=WIDE, run_before=streaming)


def test_finished_turn_folded(snap_compare, qwq_home):
    async def done(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await finished(pilot)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=done)


def test_narrow_layout_reasoning_above_answer(snap_compare, qwq_home):
    async def done(pilot):
        await ready(pilot)
        await send(pilot, "How do I reverse a list in Python?")
        await finished(pilot)
        await pilot.press("ctrl+t")
        pilot.app.view.scroll_home(animate=False)
        await pilot.pause(0.1)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=NARROW, run_before=done)


def test_help_screen(snap_compare, qwq_home):
    async def help_(pilot):
        await ready(pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)

    assert snap_compare(make_app(stats=TRACE_STATS), terminal_size=WIDE, run_before=help_)
