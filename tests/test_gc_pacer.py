"""The app's garbage collections look only at new objects; whole-heap ones wait for a pause (ui/gc_pacer.py)."""

from __future__ import annotations

import gc
import weakref

import pytest

from qwqchat.ui import gc_pacer
from qwqchat.ui.gc_pacer import IDLE_S, NEVER, THAW_S, GcPacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Node:
    """An object in a reference cycle: only a collection frees it."""

    def __init__(self) -> None:
        self.me = self


def promote_some() -> list:
    """Allocate until a middle-generation collection has happened since the last full one."""
    kept = []
    while GcPacer.pending() == 0:
        kept.append([[] for _ in range(1000)])
    return kept


@pytest.fixture
def pacer(monkeypatch):
    monkeypatch.setattr(gc_pacer, "FEW_PENDING", 1)  # one middle-generation collection is enough here
    clock = Clock()
    last = [clock.now]
    streaming = [False]
    p = GcPacer(lambda: last[0], lambda: streaming[0], clock=clock)
    p.streaming_now = streaming
    p.start()
    yield p, clock, last
    p.stop()


def test_start_freezes_the_app_and_turns_automatic_full_collections_off_stop_puts_them_back():
    before = gc.get_threshold()
    p = GcPacer(lambda: 0.0)
    p.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        assert gc.get_freeze_count() > 0
    finally:
        p.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    p.stop()  # twice: harmless
    assert gc.get_threshold() == before


def test_new_garbage_is_collected_while_the_user_types_and_what_lives_is_frozen(pacer):
    p, clock, last = pacer
    node = weakref.ref(Node())  # garbage, made after the last freeze
    kept = promote_some()
    frozen = gc.get_freeze_count()
    last[0] = clock.now  # a key just now
    assert p.tick() == "new"
    assert GcPacer.pending() == 0 and node() is None
    assert gc.get_freeze_count() > frozen  # what survived is frozen: the next collection skips it
    assert p.tick() is None  # nothing new: nothing runs
    del kept


def test_frozen_garbage_waits_for_a_pause_after_a_chat_closes(pacer):
    p, clock, last = pacer
    strong = Node()
    node = weakref.ref(strong)
    gc.freeze()  # it was on screen at a collection
    del strong  # the chat closed
    p.thaw_soon()
    last[0] = clock.now  # typing
    assert p.tick() != "thaw" and node() is not None  # no whole-heap walk while the user types
    clock.now += IDLE_S
    p.streaming_now[0] = True
    assert p.tick() != "thaw" and node() is not None  # nor while a reply streams (it takes the model's cores)
    p.streaming_now[0] = False
    assert p.tick() == "thaw" and node() is None
    assert gc.get_freeze_count() > 0  # frozen again after it
    assert p.tick() is None


def test_without_a_closed_chat_a_thaw_comes_every_thaw_s_at_a_pause(pacer):
    p, clock, last = pacer
    kept = promote_some()
    assert p.tick() == "new"
    clock.now += THAW_S / 2
    assert p.tick() is None  # idle, but too soon
    clock.now += THAW_S
    last[0] = clock.now
    assert p.tick() is None  # due, but the user types
    clock.now += IDLE_S
    assert p.tick() == "thaw"
    del kept


def test_a_user_who_never_pauses_still_gets_thaws(pacer, monkeypatch):
    p, clock, last = pacer
    monkeypatch.setattr(gc_pacer, "MOST_COLLECTIONS", 2)
    kinds = []
    kept = []
    for _ in range(3):
        kept += promote_some()
        last[0] = clock.now  # typing right now
        kinds.append(p.tick())
    assert kinds == ["new", "new", "thaw"]
    del kept


def test_while_a_reply_streams_new_objects_wait_for_more_collections(pacer, monkeypatch):
    """The model's threads share the cores with this one: while a reply streams, a collection of new objects waits
    for ``STREAMING_PENDING`` middle-generation collections, not ``FEW_PENDING``."""
    p, clock, last = pacer
    monkeypatch.setattr(gc_pacer, "STREAMING_PENDING", 3)
    p.streaming_now[0] = True
    assert p.tick() is None  # (the reply's start: what came before it is frozen)
    kept = [promote_some()]
    assert p.tick() is None  # one is enough when not streaming (the fixture's FEW_PENDING)
    assert GcPacer.pending() > 0  # (a full collection sets it to 0)
    while GcPacer.pending() < 3:
        kept.append([[] for _ in range(1000)])
    assert p.tick() == "new" and GcPacer.pending() == 0
    p.streaming_now[0] = False
    kept.append(promote_some())
    assert p.tick() == "new"
    del kept


def test_when_a_reply_starts_what_came_before_is_frozen_uncollected_and_thawed_later_at_a_pause(pacer):
    """A reply's first collection walked every object made since the last one (the chat's widgets, the typing):
    90-120 ms of the UI thread taken from the model's threads.  At the reply's start they are frozen instead, and
    the garbage among them waits for a thaw at a pause, as after a collection."""
    p, clock, last = pacer
    strong = Node()
    node = weakref.ref(strong)
    kept = promote_some()
    frozen = gc.get_freeze_count()
    p.streaming_now[0] = True
    assert p.tick() is None  # the start: no collection...
    assert gc.get_freeze_count() > frozen and GcPacer.pending() == 0  # ...a freeze, from which the count starts
    del strong  # (it was on screen before the reply: garbage now)
    kept.append(promote_some())
    assert p.tick() is None and node() is not None
    p.streaming_now[0] = False
    clock.now += IDLE_S
    assert p.tick() != "thaw" and node() is not None  # a pause, but a thaw so soon is not due
    clock.now += THAW_S
    assert p.tick() == "thaw" and node() is None
    del kept


def test_a_pacer_not_started_never_collects(monkeypatch):
    monkeypatch.setattr(gc_pacer, "FEW_PENDING", 1)
    p = GcPacer(lambda: 0.0)
    p.thaw_soon()
    kept = promote_some()
    assert p.tick() is None and GcPacer.pending() > 0
    del kept


async def test_the_app_paces_collections_while_it_runs_and_restores_python_s_after(tmp_path):
    from qwqchat import config
    from qwqchat.engines.replay import ReplayEngine
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

    before = gc.get_threshold()
    store = Store(tmp_path / "q.db")
    cid = store.create_conversation()
    app = QwqChatApp(config.Config(), store, ReplayEngine([]), save_theme=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.gc_pacer.running and gc.get_threshold()[2] == NEVER
        app.gc_pacer._thaw_soon = False
        await app.open_conversation(cid)  # an empty chat replaces an empty screen: nothing to reclaim
        assert not app.gc_pacer._thaw_soon
        store.add_user_message(cid, "hello")
        await app.open_conversation(cid)
        await app.open_conversation(None)  # the chat on screen is replaced: a thaw at the next pause
        assert app.gc_pacer._thaw_soon
    assert not app.gc_pacer.running and gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_a_chat_switch_runs_python_s_collector_then_a_thaw(pacer):
    p, clock, last = pacer
    before = gc.get_threshold()
    closed = Node()
    gc.freeze()  # the closed chat's widgets, frozen while they were on screen
    ref = weakref.ref(closed)
    async with p.collecting():
        assert gc.get_freeze_count() == 0 and gc.get_threshold()[2] != NEVER  # Python's own, meanwhile
        del closed  # Textual lets go of the closed chat while the next one is built
        promote_some()
        assert p.tick() is None  # ours waits: it would freeze what is being let go
    assert ref() is None  # freed by the end of the switch, not left frozen
    assert gc.get_threshold() == (before[0], before[1], NEVER) and gc.get_freeze_count() > 0
    assert p.thaws == 1 and p._thaw_soon  # and once more at the next pause, for what Textual still held


async def test_switching_chats_in_the_app_goes_through_the_pacer(tmp_path):
    from qwqchat import config
    from qwqchat.engines.replay import ReplayEngine
    from qwqchat.store import Store
    from qwqchat.ui.app import QwqChatApp

    store = Store(tmp_path / "q.db")
    chats = []
    for title in ("one", "two"):
        cid = store.create_conversation(title)
        store.add_user_message(cid, f"question in {title}")
        store.finish_reply(store.start_reply(cid), "thinking", f"answer in {title}", "stop")
        chats.append(cid)
    app = QwqChatApp(config.Config(), store, ReplayEngine([]), save_theme=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        await app.open_conversation(chats[0])  # from the empty chat at launch: nothing to free
        assert app.gc_pacer.thaws == 0
        await app.open_conversation(chats[1])
        assert app.gc_pacer.thaws == 1 and not app.gc_pacer._switching
