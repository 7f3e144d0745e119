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
- when a reply starts streaming, what the app made before it is frozen
  uncollected: its first collection walked everything since the last one
  (launch, typing, the chat's widgets), 90-120 ms of the UI thread taken from
  the model's threads in an 800-token reply;
- once ``FEW_PENDING`` middle-generation collections have passed (more while
  a reply streams: ``STREAMING_PENDING``), the app
  collects the objects made since the last freeze (a flood's throw-away
  widgets, a load's new messages: 10-25 ms) and freezes the survivors;
- frozen objects that later become garbage (a closed chat, merged blocks of a
  finished reply) are reclaimed by a *thaw*: unfreeze, collect everything,
  freeze again.  It walks the whole heap, so it waits for a pause: nobody has
  used a key or the mouse for ``IDLE_S``, no reply streams (on 2 cores it
  would take its 50-200 ms from the model's threads) and the UI thread is not
  busy; soon after a chat is closed, else every ``THAW_S``.  It runs at once,
  whatever the user does, when the process has grown by ``GROWTH_MB`` since
  the last one, or after ``MOST_COLLECTIONS`` collections, so memory stays
  bounded however busy the user is;
- while a chat is switched (``collecting``), Python's own collector runs and
  ours waits, and a thaw follows: the closed chat is freed while the next is
  built.  Frozen, it was not: switching between chats of thousands of widgets
  grew the app to 1.2 GB.

``stop`` puts Python's own collector back as it was (tests run many apps in
one process).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from typing import AsyncIterator, Callable, Optional, Tuple

CHECK_S = 0.5  # how often the app asks whether a collection is due
IDLE_S = 1.0  # no key or mouse event for this long: a thaw now stalls nobody
THAW_S = 30.0  # while nothing asks for one sooner, the most a thaw waits (for a pause)
# Middle-generation collections since the last full one (each promotes the survivors of up to ~7,000
# allocations: 10 young collections of 700) before the new objects are collected.  Loading 60 earlier messages
# of a long chat took 94, and a 32,000-token flood 96 (156,000 objects of widgets it replaced, ~10 MB).
FEW_PENDING = 10
# While a reply streams, three times as many: a 300-token reply reached 10 and its collection took 15-25 ms of
# the UI thread (on 2 cores, from the model's threads); a flood still collects every ~30.
STREAMING_PENDING = 30
MOST_COLLECTIONS = 20  # collections since the last thaw past which one runs even mid-typing
GROWTH_MB = 128  # resident memory grown since the last thaw past which one runs even mid-typing
BUSY = 0.5  # the UI thread's share of the time since the last check above which it is not idle
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
        self._streaming = False  # a reply streamed at the last check
        self._unswept = False  # frozen without a collection (a reply's start): a thaw is due in THAW_S
        self._switching = 0  # chat switches under way (``collecting``)
        self._rss_at_thaw = resident_mb()
        self._checked = (time.monotonic(), time.thread_time())  # when the last check ended, and the CPU then
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

    def thaw(self) -> None:
        """Unfreeze, collect everything, freeze again: frees what became garbage while frozen."""
        if self._saved is None:
            return
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.thaws += 1
        self.collections = 0
        self._unswept = False
        self._thawed_at, self._thaw_soon = self.clock(), False
        self._rss_at_thaw = resident_mb()

    @contextlib.asynccontextmanager
    async def collecting(self) -> AsyncIterator[None]:
        """Python's own collector for the time of a chat switch, then a thaw: the closed chat's widgets
        are freed while the next chat is built (its allocations trigger the collections), so memory never
        holds both at once (frozen, they did: 500 MB against 350 MB after six switches between chats of
        thousands of widgets).  The user asked for this pause."""
        if self._saved is None:
            yield
            return
        gc.unfreeze()
        gc.set_threshold(*self._saved)
        self._switching += 1  # no collection of ours meanwhile: it would freeze the closed chat again
        try:
            yield
        finally:
            self._switching -= 1
            if self._saved is not None and not self._switching:
                gc.set_threshold(self._saved[0], self._saved[1], NEVER)
                self.thaw()
                self.thaw_soon()  # what Textual still held of the closed chat a moment ago, at the next pause

    def thaw_soon(self) -> None:
        """Much that is frozen may just have become garbage (a chat closed): thaw at the next pause."""
        self._thaw_soon = True

    @staticmethod
    def pending() -> int:
        """Middle-generation collections since the last full one: how much is new since then."""
        return gc.get_count()[2]

    def tick(self) -> Optional[str]:
        """Collect if it is due: "thaw", "new", or None when nothing ran."""
        if self._saved is None or self._switching:
            return None
        try:
            return self._collect_if_due()
        finally:
            self._checked = (time.monotonic(), time.thread_time())

    def _collect_if_due(self) -> Optional[str]:
        now = self.clock()
        streaming = self.streaming()
        started, self._streaming = streaming and not self._streaming, streaming
        if started:
            gc.freeze()
            self._unswept = True
        wall, cpu = time.monotonic() - self._checked[0], time.thread_time() - self._checked[1]
        quiet = cpu <= BUSY * max(wall, 1e-3) and not streaming
        idle = quiet and now - self.last_input() >= IDLE_S
        wanted = self._thaw_soon or ((self.collections or self._unswept) and now - self._thawed_at >= THAW_S)
        grown = resident_mb() - self._rss_at_thaw >= GROWTH_MB
        if (idle and wanted) or grown or self.collections >= MOST_COLLECTIONS:
            self.thaw()
            return "thaw"
        if self.pending() >= (STREAMING_PENDING if streaming else FEW_PENDING):
            gc.collect()
            gc.freeze()
            self.collections += 1
            return "new"
        return None


def resident_mb() -> float:
    """This process's resident memory (0 where /proc cannot tell: the growth rule is then off)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0
