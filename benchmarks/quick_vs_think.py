"""Time to the first answer token, Quick against Think, on a model with QwQ's chat template.

Same engine, prompt, sampling and seed; the two modes alternate in one run so the machine's noise hits
both alike, and the KV cache is cleared before each run so both evaluate the whole prompt.  Prints, per
mode, the median time to the first answer token and the reasoning tokens, then the ratio Think / Quick.
Quick must generate 0 reasoning tokens.  A Think run whose thinking does not end within --max-tokens has
no answer at all: it counts as its whole run time, and is reported (">").

    python benchmarks/quick_vs_think.py [MODEL.gguf] [--rounds 5] [--max-tokens 400] [--threads 1]

The default model is the QwQ-template copy of SmolLM2-135M that the test suite builds in .test-models/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Optional, Tuple

from qwqchat.engines.llama import LlamaEngine
from qwqchat.types import AnswerDelta, Message, Sampling, TurnDone

PROMPT = "What is the capital of France?"
ROOT = Path(__file__).resolve().parent.parent


def default_model() -> Path:
    found = sorted((ROOT / ".test-models").glob("smollm2-qwq-template-*.gguf"))
    if not found:
        sys.exit("no QwQ-template test model: pass a model path, or run tests/test_quick.py once (it builds one)")
    return found[-1]


def run(engine: LlamaEngine, sampling: Sampling, think: bool) -> Tuple[float, bool, int, int]:
    """(seconds to the first answer token or to the end, whether an answer came, reasoning and answer tokens)"""
    engine.llm.reset()  # both modes evaluate the whole prompt
    started = time.perf_counter()
    first: Optional[float] = None
    for ev in engine.stream([Message("user", PROMPT)], sampling, think=think):
        if isinstance(ev, AnswerDelta) and first is None:
            first = time.perf_counter() - started
        elif isinstance(ev, TurnDone):
            s = ev.result.stats
            return (first if first is not None else s.total_s), first is not None, s.reasoning_tokens, s.answer_tokens
    raise AssertionError("the stream ended without TurnDone")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    engine = LlamaEngine(args.model or default_model(), ctx=4096, threads=args.threads)
    engine.load()
    times = {True: [], False: []}
    reasoning = {True: [], False: []}
    unanswered = 0
    for r in range(args.rounds):
        sampling = Sampling(seed=100 + r, max_tokens=args.max_tokens)
        line = []
        for think in (r % 2 == 0, r % 2 != 0):  # alternate which mode goes first
            t, answered, n_reasoning, n_answer = run(engine, sampling, think)
            times[think].append(t)
            reasoning[think].append(n_reasoning)
            unanswered += think and not answered
            mark = "" if answered else ">"
            line.append(f"{'Think' if think else 'Quick'} {mark}{t:.3f} s ({n_reasoning} reasoning, {n_answer} answer)")
        print(f"round {r + 1}: " + "   ".join(sorted(line)))
    quick_s, think_s = statistics.median(times[False]), statistics.median(times[True])
    none = f" ({unanswered} Think run(s) had no answer within {args.max_tokens} tokens: their whole time)"
    print(
        f"median time to the first answer token: Quick {quick_s:.3f} s, Think {think_s:.3f} s, "
        f"ratio Think/Quick {think_s / quick_s:.1f}x" + (none if unanswered else "")
    )
    think_median = statistics.median(reasoning[True])
    print(f"reasoning tokens: Quick max {max(reasoning[False])} (must be 0), Think median {think_median:.0f}")
    if max(reasoning[False]):
        sys.exit("Quick generated reasoning tokens")


if __name__ == "__main__":
    main()
