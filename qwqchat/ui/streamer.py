"""Run one turn in a worker thread; the UI collects what arrived at a steady frame rate.

The worker only appends events to a shared batch under a lock: it never
waits for the UI and sends no message per token.  The app takes the batch
``FRAME_S`` apart while the user types or moves the mouse, ``IDLE_FRAME_S``
apart while they only watch (``take``; the Enter that sent the prompt is not
"using"), so painting cost is per frame, not per token, a busy UI simply
receives bigger batches, and a reply that is only being watched leaves the
CPU to the model.  A frame takes no more than a few kilobytes of text, though:
a bigger batch is spread over the next frames, one a tick, so that no single
frame keeps a key waiting.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional, Tuple

from ..chat import run_turn
from ..engines.base import Engine
from ..store import Store
from ..types import AnswerDelta, HistoryTrimmed, LoopDetected, ReasoningDelta, Sampling, TurnDone, TurnResult
from .messages import Batch

FRAME_S = 1 / 30
# While nobody touches a key or the mouse: each frame's layout takes a core from llama.cpp's threads.  At 2 threads
# on 2 cores (benchmarks/tui_decode.py, TUI/ask): 0.55-0.70 at 5 frames/s with the Enter counted as use; with it not
# counted, 0.71-0.83 at 2 frames/s, 0.81-0.94 at 1, 0.87-0.91 at 0.5, and 0.94-0.99 with no frame between the first
# piece and the end (what the app process does besides painting).
IDLE_FRAME_S = 1.0
INTERACTIVE_S = 1.0  # back to FRAME_S for this long after any key or mouse event
# Even then a frame waits until the UI thread has been busy (painting, keys) for at most this share of the time
# since the last one, so a flood of tokens slows the frames, not the stream: the UI shares the GIL with the
# thread reading a remote server, and frames that each re-render the screen took 6 of 8.5 s of a 32,000-token
# stream (benchmarks/ui_stream.py).  MIN_FRAME_S keeps a frame a second however busy it is (no fewer than while
# watching): a floor of 4 frames/s let frames that each cost 0.3-0.7 s (a 1,000-item list answer, which Textual
# parses again whole on every append) take the whole CPU, and keys waited seconds.
MAX_BUSY = 0.3
MIN_FRAME_S = 1.0
# While only watched, frames also wait until the UI thread has been busy for at most WATCH_BUSY of the time since the
# last one, but no longer than WATCH_MAX_S: a frame's cost grows with what is on screen (a 200-item list answer:
# 100-200 ms a frame, reflowing every row), and at a frame a second an 800-token list answer took 10-20 % of a core
# from the model's threads (2 threads on 2 cores: TUI/ask 0.82-0.97, median 0.90).  Cheap frames (the thinking, a
# short answer: 10-80 ms) still come once a second; at 3 % a 40-line answer was redrawn only every 2-3 s.  Once a
# frame of a 98-item list answer cost 25-45 ms (a list parsed from its last item, one layout pass a frame), 8 % still
# took 4 % of the model's speed on 800-token list answers (TUI/ask 0.95 against 0.99 with no frames at all); at 4 %
# such frames come every 1-1.2 s.  A 150-item list answer's late frames (15-30 new items each, ~110 ms) came every
# 2.9 s in a user's run at a 3-s limit: too long to watch a list grow; 2 s now.
WATCH_BUSY = 0.04
WATCH_MAX_S = 2.0
# At most this much text is applied in one frame, so that no frame keeps a key waiting long: a fast server's
# whole 2,000-token answer in one frame mounted 142 Markdown blocks (130 ms) and laid them out (190 ms); 25 KB of
# thinking took 60 ms to wrap.  What is held back goes to the next frames, one a tick (``behind``), before any
# new text.
REASONING_FRAME_CHARS = 4000
ANSWER_FRAME_CHARS = 1500


class TurnStream:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        conversation_id: int,
        sampling: Sampling,
        answer_from_thinking: bool = False,
        think: bool = True,
        new_version: bool = False,
    ) -> None:
        self.engine = engine
        self.think = think  # False: a Quick answer
        self.answer_from_thinking = answer_from_thinking
        self.new_version = new_version  # a new version of the last reply, beside it
        self.end_thinking = threading.Event()
        self.store = store
        self.conversation_id = conversation_id
        self.sampling = sampling
        self.cancel = threading.Event()
        self.taken = threading.Event()  # set each time the UI takes a batch (benchmarks pace on it)
        self._lock = threading.Lock()
        self._batch = Batch()
        self.behind = False  # the last take left text for the next one
        # called (from the worker's thread) when what it just added is to be shown at once: the first piece, the end
        self.on_news: Callable[[], object] = lambda: None
        # all taken so far (UI thread): a reply shown again after a chat switch starts from it, and from its clock
        self.started: Optional[float] = None
        self.answered_at: Optional[float] = None
        self.loop_repeats = 0  # the last loop warning's count (0: none)
        self.taken_reasoning: List[str] = []
        self.taken_answer: List[str] = []
        # counted by the UI as batches are applied
        self.first_piece_at: Optional[float] = None
        self.reasoning_pieces = 0
        self.answer_pieces = 0

    def stop(self) -> None:
        self.cancel.set()

    @property
    def ended(self) -> bool:
        """The worker's result is waiting: the UI applies it at once, whatever the frame rate."""
        return self._batch.result is not None

    def take(self) -> Batch:
        """What arrived since the last call (UI thread), but no more than ``REASONING_FRAME_CHARS`` of the
        thinking and ``ANSWER_FRAME_CHARS`` of the answer: the rest, and the turn's end, stay for the next call
        (all of it once the turn is stopped)."""
        with self._lock:
            batch, self._batch = self._batch, Batch()
            # after Stop, what is left is shown at once: the user is waiting for the reply to end
            self.behind = not self.cancel.is_set() and _hold_back(
                batch, self._batch, REASONING_FRAME_CHARS, ANSWER_FRAME_CHARS
            )
        self.taken_reasoning += batch.reasoning
        self.taken_answer += batch.answer
        self.taken.set()
        return batch

    def run(self) -> None:
        """The worker thread's body: drive the turn to its end, whatever happens."""
        result: Optional[TurnResult] = None
        reasoning: List[str] = []
        answer: List[str] = []
        try:
            for event in run_turn(
                self.engine,
                self.store,
                self.conversation_id,
                self.sampling,
                self.cancel,
                self.end_thinking,
                answer_from_thinking=self.answer_from_thinking,
                think=self.think,
                new_version=self.new_version,
            ):
                first = not (reasoning or answer)
                with self._lock:
                    b = self._batch
                    if isinstance(event, ReasoningDelta):
                        b.reasoning.append(event.text)
                        b.reasoning_pieces += event.pieces
                        reasoning.append(event.text)
                    elif isinstance(event, AnswerDelta):
                        b.answer.append(event.text)
                        b.answer_pieces += event.pieces
                        answer.append(event.text)
                    elif isinstance(event, HistoryTrimmed):
                        b.dropped_turns = event.dropped_turns
                    elif isinstance(event, LoopDetected):
                        b.loop = event
                    elif isinstance(event, TurnDone):
                        result = event.result
                if first and (reasoning or answer):
                    self.on_news()
        except Exception as exc:  # the store or the engine broke: still end the turn on screen
            result = TurnResult("".join(reasoning), "".join(answer), "error", error=str(exc) or exc.__class__.__name__)
        if result is None:
            result = TurnResult("".join(reasoning), "".join(answer), "cancelled")
        with self._lock:
            self._batch.result = result
        self.on_news()


def _hold_back(batch: Batch, rest: Batch, reasoning_chars: int, answer_chars: int) -> bool:
    """Move what ``batch`` has past either limit into ``rest``, in order: the thinking's excess, all of the
    answer if the thinking was cut, the answer's excess, the result."""
    if split := _split(batch.reasoning, batch.reasoning_pieces, reasoning_chars):
        batch.reasoning, rest.reasoning, batch.reasoning_pieces, rest.reasoning_pieces = split
        batch.answer, rest.answer = [], batch.answer
        batch.answer_pieces, rest.answer_pieces = 0, batch.answer_pieces
    elif split := _split(batch.answer, batch.answer_pieces, answer_chars):
        batch.answer, rest.answer, batch.answer_pieces, rest.answer_pieces = split
    else:
        return False
    batch.result, rest.result = None, batch.result
    return True


def _split(parts: List[str], pieces: int, chars: int) -> Optional[Tuple[List[str], List[str], int, int]]:
    """The text of ``parts`` cut at ``chars`` (after a line where one ends), with the pieces shared alike;
    None when it fits."""
    text = "".join(parts)
    if len(text) <= chars:
        return None
    cut = text.rfind("\n", 0, chars) + 1 or chars
    share = pieces * cut // len(text)
    return [text[:cut]], [text[cut:]], share, pieces - share
