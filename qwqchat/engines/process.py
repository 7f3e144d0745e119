"""The local engine in a process of its own, so that the TUI cannot slow the model.

In one process the UI thread and the generating thread share the GIL: each
time llama.cpp hands back a token, the generating thread waits for the UI to
let go of it (up to the 5 ms switch interval), and a busy frame cost the TUI a
third to a half of ``ask``'s decode speed (``benchmarks/tui_decode.py``).
Here a child process owns the ``LlamaEngine`` and runs ``stream`` exactly as
``ask`` does; its events cross a pipe, one pickled event each.  ``run_turn``
and the store writes stay in the caller's process.  Cancel and "answer now"
cross as ``multiprocessing`` events that the child's engine checks between
tokens, just as it checks the caller's ``threading.Event`` in-process.

The child is started with "spawn" (never fork: the TUI has threads running),
its stdout goes to /dev/null and its stderr to ``qwqchat.log``, so nothing it
prints can scribble over the screen.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, Dict, Iterator, List, Optional

from ..errors import QwqError
from ..types import AnswerDelta, Event, Message, ReasoningDelta, Sampling, TurnDone, TurnResult

CLOSE_WAIT_S = 15.0  # for the child to finish writing a chat's KV state before it is killed
POLL_S = 0.05  # how often the caller's cancel / answer-now are mirrored while waiting for the next event


class ProcessEngine:
    """A ``LlamaEngine`` (built from ``kwargs``) that runs in a child process; same contract."""

    can_end_thinking = True
    can_skip_thinking = True

    def __init__(self, model_path: str | os.PathLike, **kwargs: Any) -> None:
        from pathlib import Path

        self.path = Path(model_path).expanduser()
        self.name = self.path.stem
        self._kwargs: Dict[str, Any] = dict(kwargs, model_path=str(self.path))
        self._ctx = multiprocessing.get_context("spawn")
        self._cancel = self._ctx.Event()
        self._end_thinking = self._ctx.Event()
        self._conn: Any = None
        self._proc: Any = None
        self._backend = "CPU"
        self._context_size = 0
        self._lock = threading.Lock()  # one turn at a time on one pipe

    def load(self) -> None:
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve,
            args=(theirs, self._kwargs, self._cancel, self._end_thinking),
            name="qwqchat-engine",
            daemon=True,  # ends with the app
        )
        proc.start()
        theirs.close()
        self._conn, self._proc = ours, proc
        reply = self._receive()
        if reply[0] == "error":
            self.close()
            raise QwqError(reply[1])
        _, self.name, self._backend, self._context_size = reply

    def describe(self) -> str:
        return self._backend

    @property
    def context_size(self) -> int:
        return self._context_size

    def close(self) -> None:
        conn, proc, self._conn, self._proc = self._conn, self._proc, None, None
        if conn is not None:
            try:
                conn.send(("close",))
            except (OSError, ValueError):
                pass
            conn.close()
        if proc is not None:
            proc.join(CLOSE_WAIT_S)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def _receive(self) -> tuple:
        """The child's next message; its death becomes a one-line error."""
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.exitcode if self._proc is not None else None
            if code is None and self._proc is not None:
                self._proc.join(1)
                code = self._proc.exitcode
            return ("error", f"the model process ended unexpectedly (exit code {code})")

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,
        think: bool = True,
    ) -> Iterator[Event]:
        options = {"chat_id": chat_id, "think": think}  # to the child's LlamaEngine.stream as they are
        with self._lock:
            yield from self._stream(messages, sampling, cancel, end_thinking, prefill_reasoning, options)

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens by the model's tokenizer, asked of the child; None (the caller estimates) while a turn runs."""
        if self._conn is None or not self._lock.acquire(blocking=False):
            return None
        try:
            self._conn.send(("count", text))
            reply = self._receive()
            if reply[0] == "error":
                self._conn = None
            return reply[1] if reply[0] == "count" else None
        finally:
            self._lock.release()

    def _stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event],
        end_thinking: Optional[threading.Event],
        prefill_reasoning: Optional[str],
        options: Dict[str, Any],
    ) -> Iterator[Event]:
        if self._conn is None:  # never loaded, or the child died in an earlier turn: start it (again)
            try:
                self.load()
            except QwqError as exc:
                yield TurnDone(TurnResult(finish_reason="error", error=str(exc)))
                return
        self._cancel.clear()
        self._end_thinking.clear()
        self._conn.send(("stream", messages, sampling, prefill_reasoning, options))
        said: Dict[type, List[str]] = {ReasoningDelta: [prefill_reasoning or ""], AnswerDelta: []}
        done = False
        try:
            while not done:
                while not self._conn.poll(POLL_S):  # mirror the caller's events while the child works
                    self._mirror(cancel, end_thinking)
                self._mirror(cancel, end_thinking)
                reply = self._receive()
                if reply[0] != "event":  # the child died or failed: end the turn keeping what it said
                    done = True
                    if reply[0] == "error":
                        self._conn = None
                    reasoning, answer = ("".join(said[k]) for k in (ReasoningDelta, AnswerDelta))
                    yield TurnDone(TurnResult(reasoning, answer, "error", error=reply[1]))
                    return
                event = reply[1]
                if isinstance(event, (ReasoningDelta, AnswerDelta)):
                    said[type(event)].append(event.text)
                done = isinstance(event, TurnDone)
                yield event
        finally:
            if not done and self._conn is not None:  # the caller stopped early: stop the child, keep the pipe in step
                self._cancel.set()
                while True:
                    reply = self._receive()
                    if reply[0] == "error":
                        self._conn = None
                    if reply[0] != "event" or isinstance(reply[1], TurnDone):
                        break

    def _mirror(self, cancel: Optional[threading.Event], end_thinking: Optional[threading.Event]) -> None:
        if cancel is not None and cancel.is_set():
            self._cancel.set()
        if end_thinking is not None and end_thinking.is_set():
            self._end_thinking.set()


def serve(conn: Any, kwargs: Dict[str, Any], cancel: Any, end_thinking: Any) -> None:
    """The child process: load the model, then run one turn per request until told to stop."""
    _quiet()
    from .llama import LlamaEngine

    try:
        engine = LlamaEngine(kwargs.pop("model_path"), **kwargs)
        engine.load()
    except QwqError as exc:
        conn.send(("error", str(exc)))
        return
    except Exception as exc:  # never a traceback on the user's screen
        conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
        return
    conn.send(("loaded", engine.name, engine.describe(), engine.context_size))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the app is gone
            break
        if request[0] == "count":
            conn.send(("count", engine.count_tokens(request[1])))
            continue
        if request[0] != "stream":
            break
        _, messages, sampling, prefill, options = request
        try:
            for event in engine.stream(messages, sampling, cancel, end_thinking, prefill_reasoning=prefill, **options):
                conn.send(("event", event))
        except (EOFError, OSError):  # the app is gone
            break
        except Exception as exc:  # a bug below: the caller ends the turn with what it has, and the reason
            conn.send(("failed", f"{exc.__class__.__name__}: {exc}"))
    engine.close()


def _quiet() -> None:
    """Nothing the child prints may reach the terminal the TUI paints on: stdout to /dev/null, stderr to the log."""
    from .. import paths

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        log = paths.open_log(paths.log_dir() / "qwqchat.log")
        os.dup2(log.fileno(), 2)
    except OSError:
        os.dup2(devnull, 2)
