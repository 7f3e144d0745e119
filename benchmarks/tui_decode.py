"""Decode speed in the TUI against ``qwqchat ask`` and a bare ``Llama.generate`` loop.

The test model with QwQ's chat template (it thinks, then the engine ends the
thinking at ``--think-budget`` tokens and it answers), the same prompt, seed
and token limit for all three, alternated in one run so the machine's noise
hits each alike, at 1 and 2 llama.cpp threads.

The TUI is the real app in a pseudo-terminal of 150x45 that this script keeps
draining, so Textual paints every frame as it would in a terminal (a headless
``App.run_test`` renders no output at all, which would hide the painting cost).
The script types the prompt once the status line says "ready", waits for the
reply to be finished in the store, then quits the app.  ``ask`` runs as a
subprocess too.  Both rates are the stats the app and ``ask`` stored with the
reply (decode tokens/s over reasoning and answer); the bare loop is timed here.
"app CPU" is the CPU time the app's own process (not its engine child) used from
the Enter to the reply saved: what painting takes from the model's cores.  The
script reads the store only once the status line shows the reply's end, so
that its own polling does not take the cores while the TUI's model decodes.

    python benchmarks/tui_decode.py [--threads 1 2] [--rounds 2] [--tokens 300] [--think-budget 150]
                                    [--model PATH] [--ctx 2048]

``--model`` takes another GGUF with a thinking template (on a GPU machine, say,
where the test model's package is not installed).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Think about how bridges carry weight, then write a long, detailed essay about the history of bridges."
SEED = 42
ENDED = tuple(f"{reason} \N{MIDDLE DOT} ".encode() for reason in ("length", "stop", "error", "cancelled"))


def qwq_model() -> Path:
    from tests.conftest import qwq_path  # builds the QwQ-template copy of the test model once per checkout

    return qwq_path()


def env_for(home: str) -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # (llama_cpp may be there)
    env = dict(os.environ, QWQCHAT_HOME=home, PYTHONPATH=path)
    env.pop("QWQCHAT_THREADS", None)
    return env


CTX = 2048


def flags(model: Path, threads: int, tokens: int, budget: int) -> list:
    return [
        "--model", str(model), "--ctx", str(CTX), "--threads", str(threads), "--seed", str(SEED),
        "--max-tokens", str(tokens), "--think-budget", str(budget),
    ]  # fmt: skip


def stored_stats(home: str):
    """The stats of the last reply saved under ``home`` (None until it is finished)."""
    from qwqchat.store import Store

    db = Path(home) / "qwqchat.db"
    if not db.exists():
        return None
    store = Store(db)
    try:
        convs = store.list_conversations()
        if not convs:
            return None
        msgs = store.get(convs[0].id).messages
        last = msgs[-1] if msgs else None
        if last is None or last.role != "assistant" or last.finish_reason is None or last.streaming:
            return None
        return last.stats
    finally:
        store.close()


def run_ask(model: Path, threads: int, tokens: int, budget: int) -> tuple:
    home = tempfile.mkdtemp(prefix="tui-decode-ask-")
    cmd = [sys.executable, "-m", "qwqchat", *flags(model, threads, tokens, budget), "ask", PROMPT]
    # (exit status 1 when the model stopped while thinking: its rate is stored all the same)
    done = subprocess.run(cmd, env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    s = stored_stats(home)
    if s is None:
        raise SystemExit(f"ask stored no reply (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return s.decode_tokens_per_s, s.reasoning_tokens + s.answer_tokens


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its own threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_tui(model: Path, threads: int, tokens: int, budget: int, cols: int = 150, rows: int = 45) -> tuple:
    home = tempfile.mkdtemp(prefix="tui-decode-app-")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real app on a terminal
        env = env_for(home)
        env["TERM"] = "xterm-256color"
        env["COLUMNS"], env["LINES"] = str(cols), str(rows)
        os.execve(sys.executable, [sys.executable, "-m", "qwqchat", *flags(model, threads, tokens, budget)], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    seen = b""
    painted = 0

    def drain(seconds: float) -> None:
        nonlocal seen, painted
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return
                painted += len(data)
                seen = (seen + data)[-20000:]

    try:
        deadline = time.monotonic() + 60
        while b"ready" not in seen:
            if time.monotonic() > deadline:
                raise SystemExit("the app did not load the model in 60 s")
            drain(0.05)
        os.write(fd, PROMPT.encode())
        drain(0.2)
        os.write(fd, b"\r")
        cpu_at_send = cpu_s(pid)
        seen = b""
        deadline = time.monotonic() + 120
        stats = None
        polled = time.monotonic()
        while stats is None:
            if time.monotonic() > deadline:
                raise SystemExit("the reply did not finish in 120 s")
            drain(0.1)
            # the status line's "length · 95.1 tok/s" says the reply is stored; the store is read then (and every
            # 5 s in case the screen said it another way), not while the model decodes, which ask does not pay for
            if any(m in seen for m in ENDED) or time.monotonic() - polled > 5:
                stats, polled = stored_stats(home), time.monotonic()
        app_cpu = cpu_s(pid) - cpu_at_send
        os.write(fd, b"\x11")  # ctrl+q
        drain(1.0)
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return stats.decode_tokens_per_s, stats.reasoning_tokens + stats.answer_tokens, painted, app_cpu


def run_bare(llm, tokens_in: list, n: int) -> tuple:
    import llama_cpp

    llm.reset()
    llm.set_seed(SEED)
    vocab = llm._model.vocab
    first = last = 0.0
    count = 0
    for tok in llm.generate(tokens_in, top_k=40, top_p=0.95, min_p=0.0, temp=0.6, repeat_penalty=1.0):
        last = time.perf_counter()
        first = first or last
        count += 1
        if llama_cpp.llama_vocab_is_eog(vocab, tok) or count >= n:
            break
    return (count - 1) / (last - first), count


def main() -> None:
    global CTX
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--think-budget", type=int, default=150)
    ap.add_argument("--model", type=Path, help="a GGUF with a thinking template (default: the test model)")
    ap.add_argument("--ctx", type=int, default=CTX)
    args = ap.parse_args()
    CTX = args.ctx
    model = args.model or qwq_model()
    from qwqchat.engines.llama import LlamaEngine
    from qwqchat.types import Message

    summary = []
    for threads in args.threads:
        engine = LlamaEngine(model, ctx=CTX, threads=threads)
        engine.load()
        _, prompt_tokens = engine.render([Message("user", PROMPT)])
        rates: dict = {"bare": [], "ask": [], "tui": []}
        for r in range(args.rounds):
            bare, n_bare = run_bare(engine.llm, prompt_tokens, args.tokens)
            ask, n_ask = run_ask(model, threads, args.tokens, args.think_budget)
            tui, n_tui, painted, app_cpu = run_tui(model, threads, args.tokens, args.think_budget)
            for k, v in (("bare", bare), ("ask", ask), ("tui", tui)):
                rates[k].append(v)
            print(
                f"{threads} thread(s) round {r + 1}: bare {bare:6.1f} tok/s ({n_bare})  ask {ask:6.1f} ({n_ask})  "
                f"TUI {tui:6.1f} ({n_tui}; {painted / 1024:.0f} KiB painted, app CPU {app_cpu:.2f} s)  "
                f"TUI/ask {tui / ask:.2f}",
                flush=True,
            )
        desc = engine.describe()
        engine.close()
        b, a, t = (statistics.median(rates[k]) for k in ("bare", "ask", "tui"))
        each = ", ".join(f"{x / y:.2f}" for x, y in zip(rates["tui"], rates["ask"], strict=True))
        summary.append(
            f"{threads} thread(s): median bare {b:.1f}, ask {a:.1f}, TUI {t:.1f} tok/s; "
            f"TUI/ask {t / a:.2f} (each round {each}); ask/bare {a / b:.2f}"
        )
    print("\n".join(summary))
    print(f"engine: {desc}")
    print("target: TUI/ask >= 0.95 at each thread count")


if __name__ == "__main__":
    main()
