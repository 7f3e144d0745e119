import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from qwqchat import paths
from qwqchat.errors import BadInput, StoreError
from qwqchat.store import SCHEMA_VERSION, Store
from qwqchat.titles import title_from_prompt
from qwqchat.types import Stats


def test_lives_in_qwqchat_home_with_private_permissions(qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "hello")
    assert store.path == qwq_home / "qwqchat.db"
    assert stat.S_IMODE(os.stat(qwq_home).st_mode) == 0o700
    for f in qwq_home.iterdir():
        if f.is_file():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_conversation_round_trip_and_title_from_first_prompt():
    store = Store()
    cid = store.create_conversation(model="qwq", system_prompt="be brief", settings={"temperature": 0.6})
    store.add_user_message(cid, "  How do I **reverse** a list in Python?\nThanks")
    mid = store.start_reply(cid)
    store.finish_reply(mid, "they want slicing", "Use `xs[::-1]`.", "stop", Stats(reasoning_tokens=3))
    store.add_user_message(cid, "and in place?")
    conv = store.get(cid)
    assert conv.title == "How do I reverse a list in Python?"
    assert [m.role for m in conv.messages] == ["user", "assistant", "user"]
    assert conv.messages[1].reasoning == "they want slicing"
    assert conv.messages[1].stats.reasoning_tokens == 3
    assert conv.settings == {"temperature": 0.6} and conv.system_prompt == "be brief"
    with pytest.raises(BadInput):
        store.get(999)


def test_titles_are_short_and_clean():
    assert title_from_prompt("\n\n# Hello   world\n") == "Hello world"
    long = title_from_prompt("word " * 40)
    assert len(long) <= 60 and long.endswith("…")
    assert title_from_prompt("   ") == "New chat"
    # Markdown's marks go, the prompt's own brackets, underscores and arithmetic stay
    assert title_from_prompt("> **Why** is `x` [the docs](https://a.b) *slow*?") == "Why is x the docs slow?"
    assert title_from_prompt("- [bold]hi[/] and my_var_name") == "[bold]hi[/] and my_var_name"
    assert title_from_prompt("__init__ vs 2*3*4 and [3, 1, 2]") == "__init__ vs 2*3*4 and [3, 1, 2]"
    assert title_from_prompt("[link](javascript:alert(1))") == "link"
    assert title_from_prompt("see [docs](https://x.org/a(b)c) now") == "see docs now"


def test_full_text_search_over_titles_answers_and_reasoning():
    store = Store()
    a = store.create_conversation()
    store.add_user_message(a, "Tell me about zebras")
    mid = store.start_reply(a)
    store.finish_reply(mid, "striped horses, think of camouflage", "Zebras are African equids.", "stop")
    b = store.create_conversation()
    store.add_user_message(b, "Unrelated question")
    assert [h.conversation_id for h in store.search("camouflage")] == [a]  # reasoning
    assert [h.conversation_id for h in store.search("equids")] == [a]  # answer
    assert [h.conversation_id for h in store.search("unrelated")] == [b]  # title and prompt
    assert store.search('weird "query AND (') == []  # user input never breaks FTS syntax
    store.delete(a)
    assert store.search("camouflage") == []


def test_reply_left_streaming_by_a_dead_process_is_marked_interrupted(qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "q")
    mid = store.start_reply(cid)
    store.save_reply(mid, "partial thought", "")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    db = sqlite3.connect(store.path)  # as another process would: the store has no door for this
    with db:
        db.execute("UPDATE messages SET writer_pid = ? WHERE id = ?", (dead.pid, mid))
    db.close()
    store.close()
    again = Store()
    msg = again.get(cid).messages[-1]
    assert msg.finish_reason == "interrupted" and msg.reasoning == "partial thought"


def test_reply_still_streaming_in_a_live_process_is_left_alone():
    store = Store()
    cid = store.create_conversation()
    mid = store.start_reply(cid)  # written by this (live) process
    other = Store()
    assert other.get(cid).messages[-1].finish_reason is None
    store.finish_reply(mid, "", "done", "stop")


def test_corrupt_database_is_reported_and_never_overwritten(qwq_home):
    qwq_home.mkdir(parents=True, exist_ok=True)
    path = paths.db_path()
    junk = b"this is not sqlite at all" * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError) as err:
        Store()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == junk


def test_foreign_sqlite_database_is_not_touched(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE mine(x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a qwqchat database"):
        Store(path)
    assert path.read_bytes() == before


def test_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer qwqchat"):
        Store(path)


WRITER = textwrap.dedent("""
    import sys
    from qwqchat.store import Store
    store = Store(sys.argv[1])
    for i in range(40):
        cid = store.create_conversation()
        store.add_user_message(cid, f"{sys.argv[2]} prompt {i}")
        mid = store.start_reply(cid)
        store.save_reply(mid, "r" * 500, "")
        store.finish_reply(mid, "r" * 500, f"answer {i}", "stop")
""")


def test_two_processes_write_one_database(tmp_path):
    path = tmp_path / "shared.db"
    Store(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("alpha", "beta")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store(path)
    convs = store.list_conversations()
    assert len(convs) == 80
    assert len(store.search("alpha")) == 40 and len(store.search("beta")) == 40
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_multi_statement_writes_are_all_or_nothing(monkeypatch):
    store = Store()
    cid = store.create_conversation(model="qwq", system_prompt="old", settings={"temperature": 0.6})

    def fail(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(store, "touch", fail)  # the last of add_user_message's statements fails
    with pytest.raises(StoreError):
        store.add_user_message(cid, "first prompt")
    conv = store.get(cid)
    assert conv.messages == [] and conv.title == "New chat"

    real_write = store._write
    monkeypatch.setattr(store, "_write", lambda sql, args=(): fail() if "SET model" in sql else real_write(sql, args))
    with pytest.raises(StoreError):
        store.update_settings(cid, system_prompt="new", settings={"temperature": 0.1}, model="other")
    conv = store.get(cid)
    assert (conv.system_prompt, conv.settings, conv.model) == ("old", {"temperature": 0.6}, "qwq")
