"""Versions of a reply and branches of a prompt: the store, what the model sees, show, export and import."""

import json
import sqlite3

import pytest

from qwqchat import export
from qwqchat.chat import history, run_turn
from qwqchat.engines.replay import ReplayEngine
from qwqchat.errors import BadInput
from qwqchat.schema import APPLICATION_ID, MIGRATIONS, statements
from qwqchat.store import Store
from qwqchat.types import Sampling, Stats


def _reply(store: Store, cid: int, answer: str, reasoning: str = "hmm") -> int:
    mid = store.start_reply(cid)
    store.finish_reply(mid, reasoning, answer, "stop", Stats(reasoning_tokens=2))
    return mid


def _chat(store: Store) -> tuple:
    """Q1 A1 Q2 A2, a plain linear chat: (cid, [q1, a1, q2, a2])."""
    cid = store.create_conversation(model="qwq")
    ids = []
    for n in (1, 2):
        ids.append(store.add_user_message(cid, f"question {n}"))
        ids.append(_reply(store, cid, f"answer {n}"))
    return cid, ids


def _texts(store: Store, cid: int) -> list:
    return [m.content for m in store.get(cid).messages]


def _v1_database(path) -> None:
    """A database as qwqchat wrote it before versions existed (schema v1), with one linear chat."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO conversations VALUES (1, 'Zebras', 100.0, 200.0, 'qwq', 'be brief', '{}')")
    db.execute("INSERT INTO conversations VALUES (2, 'Other', 100.0, 150.0, NULL, NULL, '{}')")
    rows = [
        (1, 1, "user", "tell me about zebras", "", None, None, None, None, 101.0),
        (2, 2, "user", "other chat", "", None, None, None, None, 102.0),
        (3, 1, "assistant", "Zebras are striped.", "stripes…", '{"reasoning_tokens": 5}', "stop", None, None, 103.0),
        (4, 1, "user", "why?", "", None, None, None, None, 104.0),
        (5, 1, "assistant", "", "thinking only", None, "cancelled", None, None, 105.0),
    ]
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


# -- the store -----------------------------------------------------------------------------
def test_old_database_migrates_to_one_linear_path_and_loses_nothing(tmp_path):
    path = tmp_path / "old.db"
    _v1_database(path)
    store = Store(path)
    conv = store.get(1)
    assert [(m.id, m.role, m.content, m.reasoning) for m in conv.messages] == [
        (1, "user", "tell me about zebras", ""),
        (3, "assistant", "Zebras are striped.", "stripes…"),
        (4, "user", "why?", ""),
        (5, "assistant", "", "thinking only"),
    ]
    assert [m.parent_id for m in conv.messages] == [None, 1, 3, 4]  # the other chat's row 2 is not in between
    assert all((m.version, m.versions, m.chosen) == (1, 1, True) for m in conv.messages)
    assert conv.messages[1].stats.reasoning_tokens == 5 and conv.messages[3].finish_reason == "cancelled"
    assert (conv.title, conv.model, conv.system_prompt) == ("Zebras", "qwq", "be brief")
    assert [m.content for m in store.get(2).messages] == ["other chat"]
    assert [h.conversation_id for h in store.search("striped")] == [1]
    store.add_user_message(1, "go on")  # a new prompt follows the path's last message
    assert store.get(1).messages[-1].parent_id == 5


def test_a_new_version_of_a_reply_keeps_the_old_one_and_is_chosen():
    store = Store()
    cid, (q1, a1, q2, a2) = _chat(store)
    v2 = store.add_version(a2)
    store.finish_reply(v2, "again", "answer 2, second take", "stop")
    conv = store.get(cid)
    assert _texts(store, cid) == ["question 1", "answer 1", "question 2", "answer 2, second take"]
    assert (conv.messages[-1].version, conv.messages[-1].versions) == (2, 2)
    assert [m.content for m in store.siblings(a2)] == ["answer 2", "answer 2, second take"]
    assert [(m.version, m.chosen) for m in store.siblings(v2)] == [(1, False), (2, True)]
    assert len(conv.all_messages) == 5
    store.choose(a2)
    assert _texts(store, cid)[-1] == "answer 2" and store.get(cid).messages[-1].version == 1
    with pytest.raises(BadInput):
        store.choose(9999)


def test_a_branch_of_an_earlier_prompt_keeps_the_old_continuation_reachable():
    store = Store()
    cid, (q1, a1, q2, a2) = _chat(store)
    b1 = store.add_version(q1, "question 1, edited")
    assert _texts(store, cid) == ["question 1, edited"]
    _reply(store, cid, "answer to the edit")
    assert _texts(store, cid) == ["question 1, edited", "answer to the edit"]
    first = store.get(cid).messages[0]
    assert (first.id, first.version, first.versions) == (b1, 2, 2)
    store.choose(q1)  # paging back: the old prompt brings its whole continuation, as last chosen
    assert _texts(store, cid) == ["question 1", "answer 1", "question 2", "answer 2"]
    store.choose(b1)
    assert _texts(store, cid) == ["question 1, edited", "answer to the edit"]
    store.choose(a2, path=True)  # a message deep in a branch, with its branch (a search hit opens it)
    assert _texts(store, cid)[-1] == "answer 2"
    assert store.get(cid).title == "question 1"  # a branch of the first prompt does not retitle the chat


def test_history_follows_the_chosen_path_only():
    store = Store()
    cid, (q1, a1, q2, a2) = _chat(store)
    v2 = store.add_version(a2)
    store.finish_reply(v2, "", "the new answer", "stop")
    store.add_user_message(cid, "question 3")
    said = [(m.role, m.content) for m in history(store.get(cid))]
    assert said == [
        ("user", "question 1"),
        ("assistant", "answer 1"),
        ("user", "question 2"),
        ("assistant", "the new answer"),
        ("user", "question 3"),
    ]


def test_run_turn_new_version_answers_the_same_prompt_beside_the_old_reply():
    store = Store()
    cid, (q1, a1, q2, a2) = _chat(store)
    engine = ReplayEngine(["<think>", "again", "</think>", "fresh answer"], name="replay")
    seen = []

    def stream(messages, sampling, *args, **kwargs):
        seen.append([m.content for m in messages])
        yield from ReplayEngine.stream(engine, messages, sampling, *args, **kwargs)

    engine.stream = stream  # type: ignore[method-assign]
    list(run_turn(engine, store, cid, Sampling(), new_version=True))
    assert seen == [["question 1", "answer 1", "question 2"]]  # the old reply is not in what the model sees
    conv = store.get(cid)
    assert [m.content for m in store.siblings(a2)] == ["answer 2", "fresh answer"]
    assert (conv.messages[-1].content, conv.messages[-1].version, conv.messages[-1].versions) == ("fresh answer", 2, 2)
    store.add_user_message(cid, "question 3")
    with pytest.raises(BadInput):
        list(run_turn(engine, store, cid, Sampling(), new_version=True))  # the last message is a prompt


def test_search_finds_text_in_any_version_and_names_the_message():
    store = Store()
    cid, (q1, a1, q2, a2) = _chat(store)
    v2 = store.add_version(a2)
    store.finish_reply(v2, "", "a different answer", "stop")
    hits = store.search("answer 2")
    assert [(h.conversation_id, h.message_id) for h in hits] == [(cid, a2)]  # not on the chosen path, still found


# -- show, export and import -------------------------------------------------------------
def _branched(store: Store) -> int:
    cid, (q1, a1, q2, a2) = _chat(store)
    for text in ("answer 2b", "answer 2c"):
        v = store.add_version(a2)
        store.finish_reply(v, "r", text, "stop")
    store.choose(store.siblings(a2)[1].id)
    store.add_version(q2, "question 2, edited")
    _reply(store, cid, "answer to the edit")
    store.choose(q2)
    return cid


def test_markdown_shows_the_chosen_path_and_how_many_versions():
    store = Store()
    cid = _branched(store)
    md = export.to_markdown(store.get(cid))
    assert "answer 2b" in md and "answer 2c" not in md and "answer to the edit" not in md
    assert "(version 2 of 3)" in md and "(version 1 of 2)" in md
    assert md.count("(version") == 2  # the messages with one version carry no note


def _without_ids(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["conversation"].pop("id")
    return doc


def test_json_export_holds_every_version_and_import_round_trips_it():
    store = Store()
    cid = _branched(store)
    first = export.to_json(store.get(cid))
    messages = first["conversation"]["messages"]
    assert len(messages) == 8
    assert [m["content"] for m in messages if m["chosen"]][:4] == ["question 1", "answer 1", "question 2", "answer 2b"]
    new = export.import_json(store, json.loads(export.dumps(store.get(cid))))
    assert new != cid
    assert _without_ids(export.to_json(store.get(new))) == _without_ids(first)
    assert _texts(store, new) == _texts(store, cid)


def test_old_linear_json_still_imports():
    doc = {
        "format": "qwqchat-conversation",
        "version": 1,
        "conversation": {
            "title": "old",
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "finish_reason": "stop"},
                {"role": "user", "content": "q2"},
            ],
        },
    }
    store = Store()
    cid = export.import_json(store, doc)
    conv = store.get(cid)
    assert [m.content for m in conv.messages] == ["q", "a", "q2"]
    assert [m.versions for m in conv.messages] == [1, 1, 1]


@pytest.mark.parametrize(
    "parent, why",
    [(5, "earlier message"), (2, "earlier message"), ("x", "whole number"), (True, "whole number")],
)
def test_import_refuses_a_parent_that_is_not_an_earlier_message(parent, why):
    doc = {
        "format": "qwqchat-conversation",
        "version": 2,
        "conversation": {
            "title": "bad",
            "messages": [
                {"id": 1, "role": "user", "content": "q", "parent": None, "chosen": True},
                {"id": 2, "role": "assistant", "content": "a", "parent": parent, "chosen": True},
            ],
        },
    }
    store = Store()
    with pytest.raises(BadInput, match=why):
        export.import_json(store, doc)
    assert store.list_conversations() == []


def test_cli_show_export_import_keep_every_version(tmp_path):
    from conftest import run_cli

    store = Store()
    cid = _branched(store)
    shown = run_cli("show", str(cid))
    assert shown.returncode == 0 and "(version 2 of 3)" in shown.stdout and "answer 2c" not in shown.stdout
    first = tmp_path / "first.json"
    assert run_cli("export", str(cid), "--json", "-o", str(first)).returncode == 0
    new = int(run_cli("import", str(first)).stdout)
    second = tmp_path / "second.json"
    assert run_cli("export", str(new), "--json", "-o", str(second)).returncode == 0
    assert _without_ids(json.loads(second.read_text())) == _without_ids(json.loads(first.read_text()))
    assert run_cli("show", str(new)).stdout == shown.stdout
    assert "answer 2c" in first.read_text()  # every version, not only the chosen path


def test_a_conversation_made_by_hand_exports_as_one_line():
    from qwqchat.records import Conversation, StoredMessage

    conv = Conversation(1, "t", 0.0, 0.0, messages=[StoredMessage(7, "user", "q"), StoredMessage(9, "assistant", "a")])
    assert [(m["id"], m["parent"]) for m in export.to_json(conv)["conversation"]["messages"]] == [(1, None), (2, 1)]
