"""Run the whole test suite N times while other CPU-bound processes run beside it.

    python benchmarks/suite_under_load.py [--runs 5] [--busy 2] [-- PYTEST ARGS]

Starts ``--busy`` processes that each spin a core (a plain busy loop), runs
``python -m pytest`` ``--runs`` times in a row, then stops them.  Prints one line
per run (exit code, pytest's summary, seconds) and the load average seen, so the
suite's robustness on a busy 2-core machine is a number, not a hope.
``--busy 0`` times the suite on an idle machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spin() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the suite")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # killed: still stop the busy loops (finally)
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for h in hogs:
        h.start()
    results = []
    try:
        for i in range(1, args.runs + 1):
            start = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            took = time.monotonic() - start
            lines = [line for line in proc.stdout.splitlines() if line.strip()]
            summary = lines[-1] if lines else proc.stderr.strip()[-200:]
            failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
            results.append(proc.returncode)
            print(
                f"run {i}: exit {proc.returncode} · {summary} · {took:.0f} s · load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for line in failed:
                print(f"    {line}", flush=True)
    finally:
        for h in hogs:
            h.terminate()
    passed = sum(1 for rc in results if rc == 0)
    print(f"{passed}/{len(results)} runs passed with {args.busy} busy process(es) beside the suite")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
