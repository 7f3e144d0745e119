"""Run one turn in a worker thread and hand the UI coalesced batches.

The engine never waits for the UI: events pile up in the current batch while
the UI paints, and the next batch goes out once the UI has applied the last
one and at most ~30 times a second.  ``post_message`` does not block, unlike
``call_from_thread``, so generation speed is independent of painting.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from ..chat import run_turn
from ..engines.base import AnswerDelta, Engine, HistoryTrimmed, ReasoningDelta, Sampling, TurnDone
from ..store import Store
from .messages import Batch, StreamBatch

FRAME_S = 1 / 30


class TurnStream:
    def __init__(self, app, engine: Engine, store: Store, conversation_id: int, sampling: Sampling) -> None:
        self.app = app
        self.engine = engine
        self.store = store
        self.conversation_id = conversation_id
        self.sampling = sampling
        self.cancel = threading.Event()
        self.applied = threading.Event()
        self.applied.set()
        self.started = time.monotonic()
        # counted by the UI as batches are applied
        self.first_piece_at: Optional[float] = None
        self.reasoning_pieces = 0
        self.answer_pieces = 0

    def stop(self) -> None:
        self.cancel.set()

    def mark_applied(self) -> None:
        """The UI has painted the last batch: the next one may go."""
        self.applied.set()

    def run(self) -> None:
        batch = Batch()
        last_post = 0.0
        try:
            for event in run_turn(self.engine, self.store, self.conversation_id, self.sampling, self.cancel):
                if isinstance(event, ReasoningDelta):
                    batch.reasoning.append(event.text)
                    batch.reasoning_pieces += 1
                elif isinstance(event, AnswerDelta):
                    batch.answer.append(event.text)
                    batch.answer_pieces += 1
                elif isinstance(event, HistoryTrimmed):
                    batch.dropped_turns = event.dropped_turns
                elif isinstance(event, TurnDone):
                    batch.result = event.result
                    break
                now = time.monotonic()
                if self.applied.is_set() and now - last_post >= FRAME_S:
                    self._post(batch)
                    batch, last_post = Batch(), now
        except Exception as exc:  # the store or engine broke: the UI still gets a final batch
            from ..engines.base import TurnResult

            batch.result = TurnResult("".join(batch.reasoning), "".join(batch.answer), "error",
                                      error=str(exc) or exc.__class__.__name__)
        self._post(batch)

    def _post(self, batch: Batch) -> None:
        self.applied.clear()
        self.app.post_message(StreamBatch(self, batch))
