"""Open a conversation of 50 long turns in the real app, headless, and scroll through it.

Each turn: a prompt, ~2,000 tokens of reasoning and a ~600-token Markdown
answer.  Prints the time from asking to open it until the next frame is
painted (target < 0.5 s), then the time per page-up while scrolling to the
top, loading earlier turns on the way (no stutter: p95 well under 50 ms).

    python benchmarks/open_long_chat.py [--turns 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time


async def run(turns: int) -> None:
    from qwqchat import config
    from qwqchat.engines.replay import ReplayEngine
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

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
    app = QwqChatApp(config.load(), store, ReplayEngine([], name="bench"), save_theme=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.2)
        start = time.perf_counter()
        await app.open_conversation(cid)
        await pilot.pause()  # wait for the next painted frame
        opened = time.perf_counter() - start
        steps = []
        view = app.view
        for _ in range(400):
            t = time.perf_counter()
            view.scroll_page_up(animate=False)
            if view.scroll_y == 0 and app.view.query("#load-earlier"):
                await view.load_earlier()
            await pilot.pause()
            steps.append(time.perf_counter() - t)
            if view.scroll_y == 0 and not app.view.query("#load-earlier"):
                break
        mounted = len(view.children)
    steps.sort()
    print(f"open {turns} turns: {opened * 1000:.0f} ms to the next frame (target < 500 ms)")
    print(
        f"scrolled to the top in {len(steps)} page-ups: p50 {statistics.median(steps) * 1000:.1f} ms, "
        f"p95 {steps[int(0.95 * (len(steps) - 1))] * 1000:.1f} ms, max {steps[-1] * 1000:.1f} ms; "
        f"{mounted} widgets mounted at the end"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=50)
    args = ap.parse_args()
    os.environ["QWQCHAT_HOME"] = tempfile.mkdtemp()
    asyncio.run(run(args.turns))


if __name__ == "__main__":
    main()
