"""Open a long chat in the real app, headless, and scroll to its first message: before and after.

Each turn: a prompt, ~2,000 tokens of reasoning and a ~600-token Markdown answer.  For each way of
loading earlier messages, measured side by side in one run on the same chat:

- open: time from asking to open the chat until the first painted frame that shows its last turn
  (target <= 0.5 s for 200 turns);
- stall: the longest event-loop stall while scrolling up page by page (until ``--loads`` loads of
  earlier messages have run, or the first message is reached); a 5 ms timer records how late each
  tick runs (target < 50 ms);
- kept: whether the message at the top of the view stays at the same place on screen through each load.

"before" is the loading of the first long-chat release (all 6 messages mounted in one go, the scroll
offset left alone) under Python's automatic garbage collection; "after" is ``ConversationView.load_earlier`` as it is
now (``STEP`` messages a frame: all six) with the app's ``GcPacer``, once with Python's automatic collections instead,
and once with one message a frame.  Each page-up counts as a key (``app.last_input``), as it would from the keyboard.

    python benchmarks/open_long_chat.py [--turns 200] [--loads 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time


async def legacy_load_earlier(view) -> None:
    """The load this benchmark compares with: every message of the batch mounted at once, no scroll kept."""
    from textual.widgets import Button

    from qwqchat.ui.widgets.conversation import EARLIER

    if not view._hidden:
        return
    batch, view._hidden = view._hidden[-EARLIER:], view._hidden[:-EARLIER]
    button = view.query_one("#load-earlier", Button)
    await view.mount_all([view._widget_for(m) for m in batch], after=button)
    if view._hidden:
        button.label = f"↑ {len(view._hidden)} earlier messages"
    else:
        await button.remove()


def top_message(view):
    """The first message whose bottom is below the top of the view, and its screen row."""
    top = view.content_region.y
    for child in view.children:
        if child.id != "load-earlier" and child.region.bottom > top:
            return child, child.region.y
    return None, 0


async def measure(cid: int, store, variant: str, most_loads: int, paced_gc: bool = True) -> dict:
    from qwqchat import config
    from qwqchat.engines.replay import ReplayEngine
    from qwqchat.ui.app import QwqChatApp

    app = QwqChatApp(config.load(), store, ReplayEngine([], name="bench"), save_theme=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.2)
        if not paced_gc:
            app.gc_pacer.stop()  # Python's automatic full collections, as before ui/gc_pacer.py
        view = app.view
        start = time.perf_counter()
        app.last_input = time.monotonic()  # the click or key that opens it
        await app.open_conversation(cid)
        last = view.last_turn()
        while not (last.region.height and view.region.overlaps(last.region)):
            await pilot.pause()
        opened = time.perf_counter() - start

        shifts, loads = [], []
        current = view.load_earlier if variant == "after" else (lambda: legacy_load_earlier(view))

        async def measured_load() -> None:
            await view._next_frame()  # screen regions as painted (a page-up may not have been laid out yet)
            widget, row = top_message(view)
            t = time.perf_counter()
            await current()
            loads.append(time.perf_counter() - t)
            await view._next_frame()  # laid out and painted (pilot.pause would wait on this very handler)
            if widget is not None:
                shifts.append(widget.region.y - row)

        view.load_earlier = measured_load  # what the button, the scroll watch and this loop call
        late, interval = [0.0], 0.005
        expected = [time.perf_counter() + interval]

        def tick() -> None:
            now = time.perf_counter()
            late.append(now - expected[0])
            expected[0] = now + interval

        app.set_interval(interval, tick)
        steps = 0
        while steps < 400 and len(loads) < most_loads:
            steps += 1
            app.last_input = time.monotonic()  # what the page-up key would do: the user is busy
            view.scroll_page_up(animate=False)
            await pilot.pause()
            while view.loading_earlier:
                await pilot.pause()
            if view.scroll_y == 0:
                if not view.query("#load-earlier"):
                    break
                await view.load_earlier()
        late_ms = sorted(x * 1000 for x in late)
        mounted = len(view.children)
    return {
        "open_s": opened,
        "steps": steps,
        "loads": len(loads),
        "stall_ms": late_ms[-1],
        "p99_ms": late_ms[int(0.99 * (len(late_ms) - 1))],
        "load_ms": statistics.median(loads) * 1000 if loads else 0.0,
        "kept": sum(1 for s in shifts if s == 0),
        "moved": max((abs(s) for s in shifts), default=0),
        "mounted": mounted,
        "shifts": shifts,
    }


async def run(turns: int, most_loads: int) -> None:
    from qwqchat.store import Store

    store = Store()
    cid = store.create_conversation()
    reasoning = "Let me check the next case carefully, because the sum changes when x grows. " * 130
    answer = (
        "## Result\n\n" + ("The value is **42** because each step doubles. " * 40) + "\n\n```python\nprint(42)\n```\n"
    )
    for i in range(turns):
        store.add_user_message(cid, f"Question {i}: what happens next?")
        mid = store.start_reply(cid)
        store.finish_reply(mid, reasoning, answer, "stop")
    from qwqchat.ui.widgets import conversation

    step = conversation.STEP
    variants = (
        ("before", step, False),
        ("after, Python's automatic GC", step, False),
        ("after", step, True),
        ("after, one message a frame", 1, True),
    )
    for variant, conversation.STEP, paced in variants:
        r = await measure(cid, store, variant.split(",")[0], most_loads, paced_gc=paced)
        print(
            f"{variant}: open {turns} turns {r['open_s'] * 1000:.0f} ms to the last turn on screen (target <= 500); "
            f"scrolled to the top in {r['steps']} page-ups and {r['loads']} loads "
            f"(median {r['load_ms']:.0f} ms each): longest stall {r['stall_ms']:.0f} ms (target < 50), "
            f"p99 {r['p99_ms']:.0f} ms; top message kept in place through {r['kept']}/{r['loads']} loads "
            f"(moved by up to {r['moved']} rows); {r['mounted']} widgets mounted"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--loads", type=int, default=10, help="stop scrolling up after this many loads")
    args = ap.parse_args()
    os.environ["QWQCHAT_HOME"] = tempfile.mkdtemp()
    asyncio.run(run(args.turns, args.loads))


if __name__ == "__main__":
    main()
