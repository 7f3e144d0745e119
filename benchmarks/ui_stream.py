"""UI ingest: a 32,000-token reasoning trace plus a 2,000-token Markdown answer from a local server, into the
real app, against a bare ``openai`` client reading the same stream.

A scripted OpenAI-compatible server (``tests/sse_server.py``, in its own
process) sends one token per chunk, reasoning in ``reasoning_content`` as
llama-server does, as fast as the reader takes it.  Alternated in one run, each
in a fresh process: the bare client reads the whole stream; the app (headless,
through Pilot: the state it reports is what the next frame paints) gets the
prompt, and the clock stops when the reply is finished on screen (the answer
re-rendered as Markdown).  Two shapes of reasoning: realistic paragraphs, and
one unbroken paragraph (the shape that makes Markdown-based chat views slow
down quadratically).

Prints, per shape: the app's time and the bare client's, their ratio (target
< 2x), the peak RSS of the app's process and of its engine process (the TUI
reads the server in a child process: target <= 150 MB together), and key latency while
streaming (a key event posted every 100 ms; time until its action runs;
p50/p95, target p95 <= 50 ms).

    python benchmarks/ui_stream.py [--reasoning 32000] [--answer 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def serve(paragraphs: bool, n_reasoning: int, n_answer: int) -> None:
    """The server process: print its URL, serve the trace to every request until killed."""
    from tests.sse_server import ScriptedServer, chunk

    rng = random.Random(1)
    script = [chunk(reasoning_content=t) for t in reasoning_tokens(n_reasoning, paragraphs, rng)]
    script += [chunk(t) for t in answer_tokens(n_answer, rng)] + [chunk(finish="stop")]
    with ScriptedServer() as server:
        server.script = script
        print(server.url, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin


def bare(url: str) -> dict:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none")
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="qwq", messages=[{"role": "user", "content": "benchmark"}], stream=True
    )
    pieces = 0
    for c in stream:
        delta = c.choices[0].delta if c.choices else None
        if delta is not None and (delta.content or getattr(delta, "reasoning_content", None)):
            pieces += 1
    return {"seconds": time.perf_counter() - started, "pieces": pieces}


async def app_run(url: str, n_answer: int) -> dict:
    from textual import events
    from textual.binding import Binding

    from qwqchat import config
    from qwqchat.engines.process import ProcessEngine
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

    class BenchApp(QwqChatApp):
        BINDINGS = QwqChatApp.BINDINGS + [Binding("f20", "ping", show=False)]
        pings: list = []

        def action_ping(self) -> None:
            self.pings.append(time.perf_counter())

    # as the TUI builds it (engines.factory, own_process): the server is read in a child process
    app = BenchApp(config.load(), Store(), ProcessEngine.remote(url, model="qwq"), save_theme=False)
    latencies = []
    async with app.run_test(size=(140, 40)) as pilot:
        while not app.engine_ready:
            if app.engine_error:
                raise SystemExit(f"the app could not reach the server: {app.engine_error}")
            await pilot.pause(0.01)
        app.prompt.text = "benchmark"
        # the Enter posted as a terminal's would be: Pilot's press() waits for the app to go idle, which it
        # does not while the reply streams (it returned ~2 s in, and the clock started late)
        started = time.perf_counter()
        app.post_message(events.Key("enter", "\r"))
        next_ping = started + 0.1
        finished = None

        def ended() -> bool:
            nonlocal finished
            if finished is None and app.turns_finished:
                finished = time.perf_counter()
            return finished is not None

        while not ended():
            await asyncio.sleep(0.005)
            if time.perf_counter() >= next_ping:
                sent = time.perf_counter()
                before = len(app.pings)
                app.post_message(events.Key("f20", None))
                # each key is waited for, even past the reply's end: one left in the queue as the app closed
                # reached a screen stack already taken down
                while len(app.pings) == before and time.perf_counter() - sent < 5:
                    ended()
                    await asyncio.sleep(0.001)
                if len(app.pings) > before:
                    latencies.append(app.pings[-1] - sent)
                next_ping = time.perf_counter() + 0.1
        engine_rss_mb = peak_rss_mb(app.engine._proc.pid)
        turn = app.view.last_turn()
        assert len(turn.answer.text) >= n_answer // 2 and not turn.streaming, "the answer did not arrive whole"
    latencies.sort()
    return {
        "seconds": finished - started,
        "key_p50_ms": 1000 * statistics.median(latencies),
        "key_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "keys": len(latencies),
        "engine_rss_mb": engine_rss_mb,
    }


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, url: str, n_answer: int) -> None:
    os.environ["QWQCHAT_HOME"] = tempfile.mkdtemp(prefix="ui-stream-")
    r = bare(url) if mode == "bare" else asyncio.run(app_run(url, n_answer))
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r))


def run_child(mode: str, url: str, n_answer: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--answer", str(n_answer)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reasoning", type=int, default=32000)
    ap.add_argument("--answer", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--shapes", nargs="+", default=["paragraphs", "one"], choices=["paragraphs", "one"])
    ap.add_argument("--child", choices=["bare", "app"], help=argparse.SUPPRESS)
    ap.add_argument("--serve", choices=["paragraphs", "one"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve == "paragraphs", args.reasoning, args.answer)
    if args.child:
        return child(args.child, args.url, args.answer)
    for shape in args.shapes:
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                shape,
                "--reasoning",
                str(args.reasoning),
                "--answer",
                str(args.answer),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = server.stdout.readline().strip()
            name = "paragraphs" if shape == "paragraphs" else "one unbroken paragraph"
            ratios = []
            for r in range(args.rounds):
                b = run_child("bare", url, args.answer)
                a = run_child("app", url, args.answer)
                ratios.append(a["seconds"] / b["seconds"])
                print(
                    f"{name:>22} round {r + 1}: app {a['seconds']:.2f} s vs bare openai {b['seconds']:.2f} s"
                    f" = {ratios[-1]:.2f}x | app peak RSS {a['peak_rss_mb']:.0f} MB"
                    f" + its engine process {a['engine_rss_mb']:.0f} MB"
                    f" | key latency p50 {a['key_p50_ms']:.1f} ms, p95 {a['key_p95_ms']:.1f} ms ({a['keys']} keys)",
                    flush=True,
                )
            print(f"{name:>22}: median {statistics.median(ratios):.2f}x")
        finally:
            server.stdin.close()
            server.wait()
    print(
        f"targets: < 2x the bare client, peak RSS <= 150 MB (the app and its engine process together),"
        f" key p95 <= 50 ms"
        f" ({args.reasoning:,} + {args.answer:,} tokens)"
    )


if __name__ == "__main__":
    main()
