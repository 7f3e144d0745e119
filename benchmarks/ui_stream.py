"""Stream a 32,000-token reasoning trace plus a 2,000-token Markdown answer into the real app.

Headless, with the replay engine, at the app's real frame rate (30 batches a
second).  The replay runs as fast as the app takes it: it hands over
``--batch`` tokens (default 200, a 6,000 tokens/s ceiling) and waits until
the app has taken them, so whenever applying and painting a batch costs more
than a frame, tokens/s drops and the last quarter takes longer than the first.  Two shapes of
reasoning: realistic paragraphs, and one unbroken paragraph (the shape that
makes Markdown-based chat views slow down quadratically).

Prints, per shape: tokens/s overall, the time the last quarter of the tokens
took divided by the first quarter's (1.0 = flat cost per token), and key
latency during streaming (a key event posted every 100 ms; time until its
action runs; p50/p95).

    python benchmarks/ui_stream.py [--reasoning 32000] [--answer 2000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time

WORDS = (
    "the so if we then check whether each value fits because wait maybe let me recount carefully "
    "that means x equals three hmm actually no the sum is twelve so far alright"
).split()


def reasoning_tokens(n: int, paragraphs: bool, rng: random.Random) -> list:
    out = []
    for i in range(n):
        word = rng.choice(WORDS)
        if paragraphs and i % 60 == 59:
            out.append(word + ".\n\n")
        else:
            out.append(word + " ")
    return out


def answer_tokens(n: int, rng: random.Random) -> list:
    out = []
    while len(out) < n:
        out += ["## ", "Step ", f"{len(out)}\n\n"]
        out += [rng.choice(WORDS) + " " for _ in range(40)] + ["\n\n"]
        out += ["- ", "item ", "one\n", "- ", "item ", "two\n\n"]
        out += ["```python\n", "def ", "f(x):\n", "    return ", "x * 2\n", "```\n\n"]
    return out[:n]


async def run_shape(paragraphs: bool, n_reasoning: int, n_answer: int, batch: int) -> dict:
    from textual import events
    from textual.binding import Binding

    from qwqchat import config
    from qwqchat.engines.replay import ReplayEngine
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

    rng = random.Random(1)
    chunks = reasoning_tokens(n_reasoning, paragraphs, rng) + ["</think>\n\n"] + answer_tokens(n_answer, rng)
    total = len(chunks)
    marks = {}
    app_box = {}

    def pace(index: int) -> None:
        if index % batch == 0 and index:
            stream = app_box["app"].stream
            stream.taken.wait(10)  # the app took the previous batch
            stream.taken.clear()
        for q in (0, total // 4, 3 * total // 4, total - 1):
            if index == q:
                marks[q] = time.perf_counter()

    class BenchApp(QwqChatApp):
        BINDINGS = QwqChatApp.BINDINGS + [Binding("f20", "ping", show=False)]
        pings: list = []

        def action_ping(self) -> None:
            self.pings.append(time.perf_counter())

    engine = ReplayEngine(chunks, name="bench", pace=pace)
    app = BenchApp(config.load(), Store(), engine, save_theme=False)
    app_box["app"] = app
    latencies = []
    async with app.run_test(size=(140, 40)) as pilot:
        while not app.engine_ready:
            await pilot.pause(0.01)
        app.prompt.text = "benchmark"
        await pilot.press("enter")
        started = time.perf_counter()
        next_ping = started + 0.1
        while app.stream is not None:
            await asyncio.sleep(0.005)
            if time.perf_counter() >= next_ping:
                sent = time.perf_counter()
                before = len(app.pings)
                app.post_message(events.Key("f20", None))
                while len(app.pings) == before and app.stream is not None:
                    await asyncio.sleep(0.001)
                if len(app.pings) > before:
                    latencies.append(app.pings[-1] - sent)
                next_ping = time.perf_counter() + 0.1
        turn = app.view.last_turn()
        while not app.turns_finished:  # the final batch is being applied
            await asyncio.sleep(0.001)
        finished = time.perf_counter()
        assert len(turn.answer.text) >= n_answer and not turn.streaming
    first_q = marks[total // 4] - marks[0]
    last_q = marks[total - 1] - marks[3 * total // 4]
    latencies.sort()
    return {
        "tokens": total,
        "seconds": finished - started,
        "tokens_per_s": total / (finished - started),
        "quarter_ratio": last_q / first_q,
        "key_p50_ms": 1000 * statistics.median(latencies),
        "key_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "keys": len(latencies),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reasoning", type=int, default=32000)
    ap.add_argument("--answer", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    os.environ["QWQCHAT_HOME"] = tempfile.mkdtemp()
    for name, paragraphs in (("paragraphs", True), ("one unbroken paragraph", False)):
        r = asyncio.run(run_shape(paragraphs, args.reasoning, args.answer, args.batch))
        print(
            f"{name:>24}: {r['tokens']:,} tokens in {r['seconds']:.1f} s = {r['tokens_per_s']:,.0f} tokens/s"
            f" | last/first quarter {r['quarter_ratio']:.2f}"
            f" | key latency p50 {r['key_p50_ms']:.1f} ms, p95 {r['key_p95_ms']:.1f} ms ({r['keys']} keys)"
        )
    print("targets: >= 2,000 tokens/s, quarter ratio <= 1.5, key p95 <= 50 ms")


if __name__ == "__main__":
    main()
