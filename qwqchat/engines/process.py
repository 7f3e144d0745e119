"""The TUI's engine in a process of its own, so that the TUI cannot slow the model.

In one process the UI thread and the generating thread share the GIL: each
time llama.cpp hands back a token, the generating thread waits for the UI to
let go of it (up to the 5 ms switch interval), and a busy frame cost the TUI a
third to a half of ``ask``'s decode speed (``benchmarks/tui_decode.py``).  A
remote server's stream is the same story the other way round: reading and
parsing its chunks took as much of the GIL as painting them
(``benchmarks/ui_stream.py``).  Here a child process owns the ``LlamaEngine``
(or ``RemoteEngine``, ``ProcessEngine.remote``) and runs ``stream`` exactly as
``ask`` does; its events cross a pipe.  ``run_turn`` and the store writes stay
in the caller's process.  Cancel and "answer now" cross as ``multiprocessing``
events that the child's engine checks between tokens, just as it checks the
caller's ``threading.Event`` in-process.

Events cross at most every ``COALESCE_S``: text that arrives in between is
merged into one delta (``pieces`` counts its tokens), so a flood of tokens is a
few dozen messages a second, not thousands, and the first piece and the turn's
end are never held.

The child is started with "spawn" (never fork: the TUI has threads running),
its stdout goes to /dev/null and its stderr to ``qwqchat.log``, so nothing it
prints can scribble over the screen.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from contextlib import redirect_stderr
from typing import Any, Callable, Dict, Iterator, List, Optional

from ..errors import QwqError
from ..types import AnswerDelta, Event, Message, ReasoningDelta, Sampling, TurnDone, TurnResult

CLOSE_WAIT_S = 15.0  # for the child to finish writing a chat's KV state before it is killed
POLL_S = 0.05  # how often the caller's cancel / answer-now are mirrored while waiting for the next event
# Events cross the pipe at most this often (what arrives between is merged): each message wakes a thread of the
# app, which takes a core from the model's threads.  At 0.02 s a 300-token reply was 160 messages (the thread that
# reads them used 0.046 s of CPU); the screen paints at most 30 frames a second, and only one while watched.
COALESCE_S = 0.05
# After Stop, how long the child may take to end its turn before it is killed and the turn ended here: a server
# that never sends its headers holds the child's request (and so Stop, and quitting) for its whole timeout.
STOP_GRACE_S = 3.0


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (the events below need it) with the process's own stderr.

    The tracker's child is handed ``sys.stderr.fileno()``: inside a running Textual app that is the app's print
    capture, whose fileno is -1, and the spawn fails ("bad value(s) in fds_to_keep").  A model chosen on the
    first-run screen is the first engine made after the app started: the app died with a traceback."""
    from multiprocessing import resource_tracker

    real = sys.__stderr__
    if real is None or sys.stderr is real:
        resource_tracker.ensure_running()
        return
    with redirect_stderr(real):  # (a moment: the tracker is started once per process)
        resource_tracker.ensure_running()


class ProcessEngine:
    """A ``LlamaEngine`` (built from ``kwargs``) that runs in a child process; same contract.
    ``ProcessEngine.remote(endpoint, ...)`` is the same for a ``RemoteEngine``."""

    can_end_thinking = True
    can_skip_thinking = True

    def __init__(self, model_path: str | os.PathLike, **kwargs: Any) -> None:
        from pathlib import Path

        path = Path(model_path).expanduser()
        self._setup("llama", path.stem, dict(kwargs, model_path=str(path)))

    @classmethod
    def remote(cls, endpoint: str, **kwargs: Any) -> "ProcessEngine":
        """A ``RemoteEngine(endpoint, **kwargs)`` in a child process; a malformed URL is refused here, at once."""
        from .remote import RemoteEngine

        named = RemoteEngine(endpoint, **kwargs)
        engine = cls.__new__(cls)
        engine._setup("remote", named.name, dict(kwargs, endpoint=endpoint))
        engine.can_end_thinking, engine.can_skip_thinking = named.can_end_thinking, named.can_skip_thinking
        engine.endpoint = named.endpoint  # a server: the app says "connecting…", and may try it again
        return engine

    def _setup(self, kind: str, name: str, kwargs: Dict[str, Any]) -> None:
        self.name = name
        self.endpoint: Optional[str] = None
        self._kind = kind
        self._kwargs = kwargs
        self._ctx = multiprocessing.get_context("spawn")
        start_resource_tracker()
        self._cancel = self._ctx.Event()
        self._end_thinking = self._ctx.Event()
        self._conn: Any = None
        self._proc: Any = None
        self._backend = "CPU"
        self._context_size = 0
        self._lock = threading.Lock()  # one turn at a time on one pipe
        self.warmed = False  # whether the last warm() loaded a state (tests)

    def load(self) -> None:
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve,
            args=(theirs, self._kind, self._kwargs, self._cancel, self._end_thinking),
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
        _, self.name, self._backend, self._context_size, self.can_end_thinking, self.can_skip_thinking = reply

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

    def _child_gone(self) -> bool:
        """The child died between turns (killed, out of memory): forget it; the next turn starts another."""
        if self._proc is not None and not self._proc.is_alive():
            self._kill()
        return self._conn is None

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens by the model's tokenizer, asked of the child; None (the caller estimates) while a turn runs
        or when there is no child."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._child_gone():
                return None
            self._conn.send(("count", text))
            reply = self._receive()
            if reply[0] == "error":
                self._conn = None
            return reply[1] if reply[0] == "count" else None
        except (OSError, ValueError):  # the pipe broke under us
            self._kill()
            return None
        finally:
            self._lock.release()

    def warm(self, messages: List[Message], chat_id: int) -> None:
        """Have the child load the chat's saved KV state now (``LlamaEngine.warm``: the user opened the chat).
        The caller never waits: a thread of its own sends the request and reads the reply.  Skipped while a
        turn runs; a turn that starts meanwhile waits for it, as it would for the load it does itself."""
        if self._kind != "llama" or self._conn is None or not self._lock.acquire(blocking=False):
            return

        def run() -> None:
            try:
                if not self._child_gone():
                    self._conn.send(("warm", messages, chat_id))
                    reply = self._receive()
                    self.warmed = reply[0] == "warmed" and reply[1]
                    if reply[0] == "error":
                        self._conn = None
            except (OSError, ValueError, AttributeError):  # the pipe broke, or the app closed it meanwhile
                self._kill()
            finally:
                self._lock.release()

        threading.Thread(target=run, daemon=True, name="qwqchat-warm").start()

    def _stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event],
        end_thinking: Optional[threading.Event],
        prefill_reasoning: Optional[str],
        options: Dict[str, Any],
    ) -> Iterator[Event]:
        if self._child_gone():  # never loaded, or the child died in or after an earlier turn: start it (again)
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
        stopped_at: Optional[float] = None
        try:
            while not done:
                while True:  # mirror the caller's events while the child works
                    self._mirror(cancel, end_thinking)
                    if cancel is not None and cancel.is_set():
                        stopped_at = stopped_at or time.monotonic()
                        if time.monotonic() - stopped_at > STOP_GRACE_S:  # it does not hear the stop: end it
                            done = True
                            self._kill()
                            yield _ended(said, "cancelled")
                            return
                    if self._conn.poll(POLL_S):
                        break
                reply = self._receive()
                if reply[0] != "events":  # the child died or failed: end the turn keeping what it said
                    done = True
                    if reply[0] == "error":
                        self._conn = None
                    yield _ended(said, "error", reply[1])
                    return
                for event in reply[1]:
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
                    if reply[0] != "events" or any(isinstance(e, TurnDone) for e in reply[1]):
                        break

    def _kill(self) -> None:
        """End the child now (the next turn starts another)."""
        conn, proc, self._conn, self._proc = self._conn, self._proc, None, None
        if proc is not None:
            proc.kill()
            proc.join()
        if conn is not None:
            conn.close()

    def _mirror(self, cancel: Optional[threading.Event], end_thinking: Optional[threading.Event]) -> None:
        if cancel is not None and cancel.is_set():
            self._cancel.set()
        if end_thinking is not None and end_thinking.is_set():
            self._end_thinking.set()


def _ended(said: Dict[type, List[str]], reason: str, error: Optional[str] = None) -> TurnDone:
    """The end of a turn the child did not end itself, with the text it had sent."""
    reasoning, answer = ("".join(said[k]) for k in (ReasoningDelta, AnswerDelta))
    return TurnDone(TurnResult(reasoning, answer, reason, error=error))


def serve(conn: Any, kind: str, kwargs: Dict[str, Any], cancel: Any, end_thinking: Any) -> None:
    """The child process: load the model (or reach the server), then run one turn per request until told to stop."""
    _quiet()
    from .. import logs

    logs.setup()  # the kv cache's lines ("restored", "saved") reach qwqchat.log from this process too
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True, name="qwqchat-orphan").start()
    engine: Any = None
    try:
        if kind == "remote":
            from .remote import RemoteEngine

            engine = RemoteEngine(kwargs.pop("endpoint"), **kwargs)
        else:
            from .llama import LlamaEngine

            engine = LlamaEngine(kwargs.pop("model_path"), **kwargs)
        engine.load()
    except QwqError as exc:
        conn.send(("error", str(exc)))
        return
    except Exception as exc:  # never a traceback on the user's screen
        conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
        return
    can = (engine.can_end_thinking, engine.can_skip_thinking)
    conn.send(("loaded", engine.name, engine.describe(), engine.context_size, *can))
    counter = getattr(engine, "count_tokens", None)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the app is gone
            break
        if request[0] == "count":
            conn.send(("count", counter(request[1]) if counter is not None else None))
            continue
        if request[0] == "warm":
            warm = getattr(engine, "warm", None)
            conn.send(("warmed", bool(warm(*request[1:])) if warm is not None else False))
            continue
        if request[0] != "stream":
            break
        _, messages, sampling, prefill, options = request
        out = Coalescer(conn.send)
        try:
            for event in engine.stream(messages, sampling, cancel, end_thinking, prefill_reasoning=prefill, **options):
                out.put(event)
            out.close()
        except (EOFError, OSError):  # the app is gone
            break
        except Exception as exc:  # a bug below: the caller ends the turn with what it has, and the reason
            out.close()
            conn.send(("failed", f"{exc.__class__.__name__}: {exc}"))
    closing = getattr(engine, "close", None)
    if closing is not None:
        closing()


class Coalescer:
    """Sends events as ``("events", [...])`` at most every ``COALESCE_S``, merging the text deltas in between.

    The first event, and any that is not text (the turn's end above all), go at once with what is held; text
    that comes sooner is held, and a helper thread sends it when its time comes, so a slow model's last token
    before a pause is never kept waiting for the next one.  The helper only wakes while something is held.
    """

    def __init__(self, send: Callable[[Any], None]) -> None:
        self._send = send
        self._lock = threading.Lock()  # one sender at a time on the pipe
        self._held: List[Event] = []
        self._sent_at = -COALESCE_S
        self._due = threading.Event()
        self._closed = False
        self._failed: Optional[BaseException] = None
        self._helper = threading.Thread(target=self._send_when_due, daemon=True, name="qwqchat-coalesce")
        self._helper.start()

    def put(self, event: Event) -> None:
        with self._lock:
            if self._failed is not None:
                raise self._failed
            held = self._held[-1] if self._held else None
            if isinstance(event, (ReasoningDelta, AnswerDelta)) and type(held) is type(event):
                self._held[-1] = type(event)(held.text + event.text, held.pieces + event.pieces)
            else:
                self._held.append(event)
            if not isinstance(event, (ReasoningDelta, AnswerDelta)) or time.monotonic() - self._sent_at >= COALESCE_S:
                self._flush()
            else:
                self._due.set()

    def close(self) -> None:
        """Send what is held and stop the helper."""
        with self._lock:
            self._closed = True
            if self._failed is None:
                self._flush()
            self._due.set()
        self._helper.join()
        if self._failed is not None:
            raise self._failed

    def _flush(self) -> None:  # with the lock held
        if self._held:
            events, self._held = self._held, []
            self._send(("events", events))
            self._sent_at = time.monotonic()

    def _send_when_due(self) -> None:
        while True:
            self._due.wait()
            with self._lock:
                wait = self._sent_at + COALESCE_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._lock:
                self._due.clear()
                if self._closed:
                    return
                try:
                    self._flush()
                except (EOFError, OSError) as exc:  # the app is gone: the generating loop hears it on its next put
                    self._failed = exc


def _end_with_parent(parent: int) -> None:
    """The app was killed (SIGTERM, SIGKILL: no close): end too, even while a request or the model holds the child."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


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
