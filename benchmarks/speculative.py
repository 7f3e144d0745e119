"""Decode speed with and without prompt-lookup drafting (``--draft N``), through qwqchat's engine.

Two engines on the same model file, one drafting and one not, alternated round by round in one
run on each prompt (reasoning, code, math, prose), so the machine's noise hits both alike.
Prints tokens/s for each, the ratio, the acceptance rate (drafted tokens the model kept / drafted)
and whether the output is identical with and without drafting at temperature 0 with a fixed seed
(the speed rounds use QwQ's sampling, temperature 0.6, same seed for both).

    python benchmarks/speculative.py [MODEL.gguf] [--draft 10] [--tokens 250] [--rounds 2] [--threads 1]

The default model is the QwQ-template test model (SmolLM2-135M, built into .test-models/ by the tests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Dict, Tuple

from qwqchat.engines.llama import LlamaEngine
from qwqchat.types import Message, Sampling, TurnDone, TurnResult

CODE = """def merge_intervals(intervals):
    intervals = sorted(intervals, key=lambda interval: interval[0])
    merged = []
    for interval in intervals:
        if merged and interval[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], interval[1])
        else:
            merged.append(list(interval))
    return merged
"""

PROMPTS: Dict[str, str] = {
    "reasoning": (
        "Alice, Bob and Carol share 120 marbles. Alice has twice as many marbles as Bob, and Carol has "
        "15 more marbles than Bob. How many marbles do Alice, Bob and Carol each have? Check the answer."
    ),
    "code": "Add type hints and a docstring to this Python function, and explain each line:\n\n" + CODE,
    "math": "Please reason step by step, and put your final answer within \\boxed{}. Compute 37 * 43 + 37 * 57.",
    "prose": "Write a short story about a lighthouse keeper who finds a message in a bottle.",
}


def default_model() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from conftest import qwq_path  # builds .test-models/smollm2-qwq-template-*.gguf once

    return qwq_path()


def run(engine: LlamaEngine, prompt: str, sampling: Sampling) -> TurnResult:
    engine.llm.reset()  # each run evaluates its prompt afresh
    for ev in engine.stream([Message("user", prompt)], sampling):
        if isinstance(ev, TurnDone):
            return ev.result
    raise AssertionError("no TurnDone")


def text(r: TurnResult) -> str:
    return r.reasoning + "\x00" + r.answer


def compare(plain: LlamaEngine, drafting: LlamaEngine, prompt: str, args: argparse.Namespace) -> Tuple:
    speed = Sampling(seed=42, max_tokens=args.tokens)
    rates: Dict[str, list] = {"plain": [], "draft": []}
    drafted = accepted = tokens = 0
    same_sampled = True
    for _ in range(args.rounds):
        a, b = run(plain, prompt, speed), run(drafting, prompt, speed)
        rates["plain"].append(a.stats.decode_tokens_per_s or 0.0)
        rates["draft"].append(b.stats.decode_tokens_per_s or 0.0)
        drafted, accepted = drafted + b.stats.drafted, accepted + b.stats.draft_accepted
        tokens = a.stats.reasoning_tokens + a.stats.answer_tokens
        same_sampled = same_sampled and text(a) == text(b)
    greedy = Sampling(temperature=0.0, seed=42, max_tokens=args.tokens)
    same_greedy = text(run(plain, prompt, greedy)) == text(run(drafting, prompt, greedy))
    p, d = statistics.median(rates["plain"]), statistics.median(rates["draft"])
    return tokens, p, d, drafted, accepted, same_greedy, same_sampled


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--draft", type=int, default=10, help="tokens drafted a step")
    ap.add_argument("--tokens", type=int, default=250)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kv-cache", default="f16", help="f16 (CPU: flash attention only when drafting) or q8_0 (both)")
    ap.add_argument("--prompts", default=",".join(PROMPTS), help="comma-separated: " + ", ".join(PROMPTS))
    args = ap.parse_args()
    model = args.model or default_model()
    plain = LlamaEngine(model, ctx=4096, threads=args.threads, kv_cache=args.kv_cache)
    drafting = LlamaEngine(model, ctx=4096, threads=args.threads, kv_cache=args.kv_cache, draft=args.draft)
    plain.load()
    drafting.load()
    print(
        f"{model.name}, {args.threads} thread(s), kv {args.kv_cache}, draft {args.draft}, "
        f"{args.tokens} tokens, {args.rounds} round(s)"
    )
    head = f"{'prompt':<10} {'tokens':>6} {'plain':>8} {'draft':>8} {'ratio':>6} {'accepted':>12} {'rate':>5}"
    print(head + "  same@T0 same@T0.6")
    for name in args.prompts.split(","):
        n, p, d, drafted, accepted, same0, same6 = compare(plain, drafting, PROMPTS[name], args)
        rate = f"{100 * accepted / drafted:.0f}%" if drafted else "-"
        print(
            f"{name:<10} {n:>6} {p:>8.1f} {d:>8.1f} {d / p:>5.2f}x {accepted:>5}/{drafted:<6} {rate:>5}  "
            f"{'yes' if same0 else 'NO':<7} {'yes' if same6 else 'NO'}"
        )


if __name__ == "__main__":
    main()
