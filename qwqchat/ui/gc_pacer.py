"""Python's full garbage collections, kept short and moved to when nobody is waiting on the screen.

A mounted chat is hundreds of thousands of objects, and CPython's automatic
full collection walks every one of them: it stalled the UI for 50-190 ms at a
time, nine times while 60 earlier messages of a long chat were loaded
(``benchmarks/open_long_chat.py``), and made long frames in a 32,000-token
flood.  So, while the app runs, collections look only at what is new:

- everything alive at a collection's end is frozen out of later ones
  (``gc.freeze``): at launch, modules, Textual and styles; later, the
  messages on screen.  Automatic full collections are off; Python's young
  generations (milliseconds) run as before;
- once ``FEW_PENDING`` middle-generation collections have passed, the app
  collects the objects made since the last freeze (a flood's throw-away
  widgets, a load's new messages: 10-25 ms) and freezes the survivors;
- frozen objects that later become garbage (a closed chat, merged blocks of a
  finished reply) are reclaimed by a *thaw*: unfreeze, collect everything,
  freeze again.  It walks the whole heap, so it waits until nobody has used a
  key or the mouse for ``IDLE_S`` and no reply streams (on 2 cores it would
  take its 50-200 ms from the model's threads): soon after a chat is closed,
  else every ``THAW_S``; and for a user who never pauses, after
  ``MOST_COLLECTIONS`` collections, so memory stays bounded however busy they
  are.

``stop`` puts Python's own collector back as it was (tests run many apps in
one process).
"""

from __future__ import annotations

import gc
import time
from typing import Callable, Optional, Tuple

CHECK_S = 0.5  # how often the app asks whether a collection is due
IDLE_S = 1.0  # no key or mouse event for this long: a thaw now stalls nobody
THAW_S = 30.0  # while nothing asks for one sooner, the most a thaw waits (for a pause)
# Middle-generation collections since the last full one (each promotes the survivors of up to ~7,000
# allocations: 10 young collections of 700) before the new objects are collected.  Loading 60 earlier messages
# of a long chat took 94, and a 32,000-token flood 96 (156,000 objects of widgets it replaced, ~10 MB).
FEW_PENDING = 10
MOST_COLLECTIONS = 20  # collections since the last thaw past which one runs even mid-typing
NEVER = 1 << 30  # a threshold the old generation's count never reaches


class GcPacer:
    def __init__(
        self,
        last_input: Callable[[], float],
        streaming: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.last_input = last_input
        self.streaming = streaming
        self.clock = clock
        self.collections = 0  # collections of new objects since the last thaw
        self.thaws = 0  # thaws run (tests, benchmarks)
        self._thawed_at = clock()
        self._thaw_soon = False
        self._saved: Optional[Tuple[int, ...]] = None

    @property
    def running(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.freeze()  # (no collection first: it would add ~40 ms to the launch, to free a few import-time cycles)
        young, middle = self._saved[:2]
        gc.set_threshold(young, middle, NEVER)

    def stop(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        self._saved = None
        gc.unfreeze()

    def thaw_soon(self) -> None:
        """Much that is frozen may just have become garbage (a chat closed): thaw at the next pause."""
        self._thaw_soon = True

    @staticmethod
    def pending() -> int:
        """Middle-generation collections since the last full one: how much is new since then."""
        return gc.get_count()[2]

    def tick(self) -> Optional[str]:
        """Collect if it is due: "thaw", "new", or None when nothing ran."""
        if self._saved is None:
            return None
        now = self.clock()
        idle = now - self.last_input() >= IDLE_S and not self.streaming()
        wanted = self._thaw_soon or (self.collections and now - self._thawed_at >= THAW_S)
        if (idle and wanted) or self.collections >= MOST_COLLECTIONS:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.thaws += 1
            self.collections = 0
            self._thawed_at, self._thaw_soon = now, False
            return "thaw"
        if self.pending() >= FEW_PENDING:
            gc.collect()
            gc.freeze()
            self.collections += 1
            return "new"
        return None
