"""Chats' KV state on disk: saved after a turn, restored by a fresh engine, ignored when it does not fit."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import List, Tuple

import pytest

from qwqchat import config
from qwqchat.chat import run_turn
from qwqchat.engines import kv_store
from qwqchat.engines.kv_store import KvDisk
from qwqchat.engines.llama import LlamaEngine
from qwqchat.errors import BadInput
from qwqchat.store import Store
from qwqchat.types import Sampling, TurnDone, TurnResult

GREEDY = Sampling(temperature=0, max_tokens=12, seed=1)
STORY = "Here is the story so far. " + " ".join(f"Line {i}: the fox went over the hill and back." for i in range(12))


def engine_for(model: Path, ctx: int = 4096, mb: int = 64) -> LlamaEngine:
    engine = LlamaEngine(model, ctx=ctx, threads=1, kv_disk_mb=mb)
    engine.load()
    return engine


def turn(engine: LlamaEngine, store: Store, cid: int, prompt: str) -> TurnResult:
    store.add_user_message(cid, prompt)
    done = [ev.result for ev in run_turn(engine, store, cid, GREEDY) if isinstance(ev, TurnDone)]
    engine.wait_saved()
    return done[0]


def saved(cid: int) -> Tuple[Path, dict]:
    state = kv_store.folder() / f"{cid}.kv"
    return state, json.loads(state.with_suffix(".json").read_text())


def first_turn(model: Path, store: Store, mb: int = 64, ctx: int = 4096) -> int:
    """A chat with one finished turn whose KV state is on disk, its engine closed (the "restart")."""
    cid = store.create_conversation("story")
    engine = engine_for(model, ctx, mb)
    turn(engine, store, cid, STORY)
    engine.close()
    return cid


def test_a_fresh_engine_evaluates_only_the_new_tokens_and_answers_the_same(qwq_model):
    store = Store()
    cid = first_turn(qwq_model, store)
    state, header = saved(cid)
    assert state.stat().st_size == header["bytes"] > 0 and len(header["tokens"]) >= kv_store.MIN_TOKENS
    assert state.stat().st_mode & 0o777 == state.with_suffix(".json").stat().st_mode & 0o777 == 0o600

    again = Store()  # the same chat continued by a fresh engine, and by one without the disk cache
    twin = again.create_conversation("twin")
    again.add_user_message(twin, STORY)
    reply = store.get(cid).messages[-1]
    again.finish_reply(again.start_reply(twin), reply.reasoning, reply.content, "stop")
    restored, cold = engine_for(qwq_model), engine_for(qwq_model, mb=0)
    warm_result = turn(restored, store, cid, "And then?")
    cold_result = turn(cold, again, twin, "And then?")
    restored.close()
    cold.close()

    warm, full = warm_result.stats, cold_result.stats
    assert warm.prompt_tokens == full.prompt_tokens == full.prompt_tokens_evaluated
    assert warm.prompt_tokens_evaluated == warm.prompt_tokens - len(header["tokens"])  # only what is new
    assert (warm_result.reasoning, warm_result.answer) == (cold_result.reasoning, cold_result.answer)


def test_the_end_of_a_turn_does_not_wait_for_the_save(qwq_model, monkeypatch):
    gate, entered = threading.Event(), threading.Event()
    real_save = KvDisk.save

    def slow_save(self, *args):
        entered.set()
        assert gate.wait(60)
        return real_save(self, *args)

    monkeypatch.setattr(KvDisk, "save", slow_save)
    store = Store()
    cid = store.create_conversation("story")
    store.add_user_message(cid, STORY)
    engine = engine_for(qwq_model)
    events = list(run_turn(engine, store, cid, GREEDY))  # returns while the save is held at the gate
    assert isinstance(events[-1], TurnDone) and not store.get(cid).messages[-1].streaming
    assert entered.wait(60) and not (kv_store.folder() / f"{cid}.kv").exists()
    gate.set()
    engine.close()  # waits for the save
    assert (kv_store.folder() / f"{cid}.kv").exists()


def evaluated_after_restart(model: Path, store: Store, cid: int, ctx: int = 4096) -> Tuple[int, int]:
    engine = engine_for(model, ctx)
    stats = turn(engine, store, cid, "And then?").stats
    engine.close()
    return stats.prompt_tokens_evaluated, stats.prompt_tokens


@pytest.mark.parametrize("other", ["ctx", "model"])
def test_a_state_saved_for_another_context_or_model_is_ignored(qwq_model, smol_model, other, caplog):
    store = Store()
    cid = first_turn(smol_model if other == "model" else qwq_model, store)  # both share one tokenizer
    caplog.set_level(logging.INFO, "qwqchat.engine")
    evaluated, prompt = evaluated_after_restart(qwq_model, store, cid, ctx=2048 if other == "ctx" else 4096)
    assert evaluated == prompt
    assert "saved for another model or context; deleted" in caplog.text


def test_a_state_of_another_conversation_is_not_loaded(qwq_model, caplog):
    store = Store()
    cid = first_turn(qwq_model, store)
    other = store.create_conversation("other")
    kv_store.folder().joinpath(f"{cid}.kv").rename(kv_store.folder() / f"{other}.kv")
    kv_store.folder().joinpath(f"{cid}.json").rename(kv_store.folder() / f"{other}.json")
    store.add_user_message(other, "A different first message, long enough to be worth a saved state. " * 3)
    caplog.set_level(logging.INFO, "qwqchat.engine")
    evaluated, prompt = evaluated_after_restart(qwq_model, store, other)
    assert evaluated == prompt and "restored" not in caplog.text


def damage_truncated(state: Path, header: dict) -> None:
    state.write_bytes(state.read_bytes()[: header["bytes"] // 2])


def damage_flipped(state: Path, header: dict) -> None:
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))


def damage_header(state: Path, header: dict) -> None:
    state.with_suffix(".json").write_text('{"format": 1, "tokens": [1, 2')


def damage_unreadable_by_llama(state: Path, header: dict) -> None:
    """Garbage that passes our own checks (its size and hash are in the header): llama.cpp must refuse it."""
    state.write_bytes(os.urandom(header["bytes"]))
    header["sha256"] = kv_store._sha256(state)
    state.with_suffix(".json").write_text(json.dumps(header))


@pytest.mark.parametrize("damage", [damage_truncated, damage_flipped, damage_header, damage_unreadable_by_llama])
def test_a_damaged_state_is_ignored_with_a_log_line(qwq_model, damage, caplog):
    store = Store()
    cid = first_turn(qwq_model, store)
    state, header = saved(cid)
    damage(state, header)
    caplog.set_level(logging.INFO, "qwqchat.engine")
    evaluated, prompt = evaluated_after_restart(qwq_model, store, cid)
    assert evaluated == prompt  # nothing reused, and the turn went on
    assert "deleted" in caplog.text and "restored" not in caplog.text
    assert not store.get(cid).messages[-1].streaming
    _, fresh = saved(cid)  # the turn saved a good state over it
    assert len(fresh["tokens"]) > len(header["tokens"])


def fake_state(where: Path, chat: int, size: int, used: float) -> None:
    for f, n in ((where / f"{chat}.kv", size), (where / f"{chat}.json", 10)):
        f.write_bytes(b"x" * n)
        os.utime(f, (used, used))


def test_the_least_recently_used_states_go_first(tmp_path):
    disk = KvDisk(cap=3000, where=tmp_path)
    for chat, used in ((1, 100.0), (2, 300.0), (3, 200.0)):
        fake_state(tmp_path, chat, 990, used)
    disk.trim(room=1000)  # 3 x 1000 bytes + 1000 more: the least recently used one goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2.json", "2.kv", "3.json", "3.kv"]
    disk.trim(room=2500)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    (tmp_path / "4.kv.part").write_bytes(b"x")
    os.utime(tmp_path / "4.kv.part", (1.0, 1.0))  # abandoned by a save that crashed long ago
    assert disk.entries() == [] and not (tmp_path / "4.kv.part").exists()


def test_a_tiny_cap_keeps_the_most_recent_chats(qwq_model):
    store = Store()
    chats: List[int] = []
    engine = engine_for(qwq_model)
    for i in range(3):
        chats.append(store.create_conversation(f"chat {i}"))
        turn(engine, store, chats[-1], f"Chat number {i}. {STORY}")
        if i == 0:
            size = sum(f.stat().st_size for f in kv_store.folder().iterdir())
            assert engine.kv_disk is not None
            engine.kv_disk.cap = int(size * 2.5)  # room for two chats
    engine.close()
    assert sorted(p.name for p in kv_store.folder().iterdir()) == sorted(
        f"{c}.{ext}" for c in chats[1:] for ext in ("kv", "json")
    )


def test_a_state_larger_than_the_cap_is_not_written(qwq_model):
    store = Store()
    cid = first_turn(qwq_model, store, mb=1)  # SmolLM2: ~23 KB a token, the chat ~2.5 MB
    assert not list(kv_store.folder().iterdir())
    assert cid


def test_deleting_a_chat_deletes_its_state():
    store = Store()
    keep, gone = store.create_conversation("keep"), store.create_conversation("gone")
    kv_store.folder().mkdir()
    for chat in (keep, gone):
        fake_state(kv_store.folder(), chat, 10, 1.0)
    store.delete(gone)
    assert sorted(p.name for p in kv_store.folder().iterdir()) == [f"{keep}.json", f"{keep}.kv"]


def test_ask_saves_the_state_before_it_exits_but_not_with_no_save(qwq_model):
    from conftest import run_process

    ask = ("ask", "--model", str(qwq_model), "--max-tokens", "4", STORY)
    result = run_process(*ask, "--no-save")
    assert result.returncode in (0, 3), result.stderr  # 3: no answer within 4 tokens
    assert not list(kv_store.folder().iterdir())  # a scratch chat's id is not a chat's
    result = run_process(*ask)
    assert result.returncode in (0, 3), result.stderr
    assert sorted(p.name for p in kv_store.folder().iterdir()) == ["1.json", "1.kv"]


def test_the_cap_is_a_config_key(qwq_home):
    qwq_home.mkdir(parents=True, exist_ok=True)
    (qwq_home / "config.toml").write_text("kv_cache_disk_mb = 0\n")
    assert config.load().kv_cache_disk_mb == 0
    (qwq_home / "config.toml").write_text("kv_cache_disk_mb = -5\n")
    with pytest.raises(BadInput, match="kv_cache_disk_mb must be 0"):
        config.load()
    assert config.Config().kv_cache_disk_mb == config.KEYS["kv_cache_disk_mb"].default > 0


def test_opening_a_chat_loads_its_state_so_the_next_turn_reads_nothing(qwq_model, caplog):
    from qwqchat.chat import history

    store = Store()
    cid = first_turn(qwq_model, store)
    engine = engine_for(qwq_model)
    try:
        caplog.set_level(logging.INFO, "qwqchat.engine")
        assert engine.warm(history(store.get(cid)), cid)  # the chat is opened: its state is read now
        assert f"chat {cid} restored" in caplog.text
        caplog.clear()
        assert not engine.warm(history(store.get(cid)), cid)  # already there: nothing read twice
        stats = turn(engine, store, cid, "And then?").stats
        assert "restored" not in caplog.text  # the turn found it in memory
        assert stats.prompt_tokens_evaluated < stats.prompt_tokens / 3
    finally:
        engine.close()


def test_warming_does_nothing_while_a_turn_holds_the_model_or_without_a_disk_cache(qwq_model):
    from qwqchat.chat import history

    store = Store()
    cid = first_turn(qwq_model, store)
    engine = engine_for(qwq_model)
    try:
        with engine._lock:  # a turn (or a save) is running
            assert not engine.warm(history(store.get(cid)), cid)
        assert not engine.warm([], cid)
    finally:
        engine.close()
    off = engine_for(qwq_model, mb=0)
    try:
        assert not off.warm(history(store.get(cid)), cid)
    finally:
        off.close()


def test_the_tui_s_engine_process_loads_the_state_when_the_chat_is_opened(qwq_model):
    import time

    from qwqchat.chat import history
    from qwqchat.engines.process import ProcessEngine

    store = Store()
    cid = first_turn(qwq_model, store)
    engine = ProcessEngine(qwq_model, ctx=4096, threads=1, kv_disk_mb=64)
    engine.load()
    try:
        engine.warm(history(store.get(cid)), cid)  # returns at once; the child reads the state meanwhile
        deadline = time.monotonic() + 30
        while not engine._lock.acquire(blocking=False):  # (the reply is read by a thread of its own)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        engine._lock.release()
        assert engine.warmed  # loaded before the turn was even asked for
        from qwqchat import paths

        log = (paths.log_dir() / "qwqchat.log").read_text()
        assert f"kv cache: chat {cid} restored" in log  # the child's lines reach the log too
        engine.warm(history(store.get(cid)), cid)
        while not engine._lock.acquire(blocking=False):
            time.sleep(0.01)
        engine._lock.release()
        assert not engine.warmed  # already in memory: not read twice
        store.add_user_message(cid, "And then?")
        done = [ev.result for ev in run_turn(engine, store, cid, GREEDY) if isinstance(ev, TurnDone)][0]
        assert done.error is None and (done.reasoning or done.answer)
        assert done.stats.prompt_tokens_evaluated < done.stats.prompt_tokens / 3
    finally:
        engine.close()


def test_a_remote_engine_process_has_nothing_to_warm():
    from qwqchat.engines.process import ProcessEngine

    engine = ProcessEngine.remote("http://127.0.0.1:9/v1", model="m")
    engine.warm([], 1)  # not loaded, and a server: nothing sent, nothing raised
    assert engine._conn is None and not engine._lock.locked()
