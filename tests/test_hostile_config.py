"""Hostile config files, command-line values, QWQCHAT_HOME and storage faults: one clean line, nothing lost."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest
from sse_server import ScriptedServer, chunk

from qwqchat import cli, paths
from qwqchat.store import Store

CONFIGS = [
    ('ctx = "big"', "ctx"),
    ("model = 5", "model"),
    ('threads = "many"', "threads"),
    ("endpoint = 5", "endpoint"),
    ('yarn = "yes"', "yarn"),
    ("kv_cache = 3", "kv_cache"),
    ("ctx = 32768.5", "ctx"),
    ("ctx = 1e9", "ctx"),
    ('keep_reasoning_open = "no"', "keep_reasoning_open"),
    ("system_prompt = []", "system_prompt"),
    ("theme = 1", "theme"),
    ('local_models = "x.gguf"', "local_models"),
    ("local_models = [1]", "local_models"),
    ("sampling = 3", "sampling"),
    ('[sampling]\ntemperature = "hot"', "temperature"),
    ("[sampling]\ntemperature = nan", "temperature"),
    ("[sampling]\ntop_p = inf", "top_p"),
    ("[sampling]\ntop_k = 1.5", "top_k"),
    ("[sampling]\nseed = 99999999999", "seed"),
    ("profiles = 3", "profiles"),
    ("ctx = -1", "ctx"),
    ("threads = 0", "threads"),
    ("threads = 99999999999", "threads"),
    ("gpu_layers = -5", "gpu_layers"),
    ("ctx = 99999999999999", "ctx"),
    ("yarn = 1", "yarn"),
    ("remote_model = false", "remote_model"),
    ("api_key = 12", "api_key"),
    ('draft = "lots"', "draft"),
    ("draft = -1", "draft"),
    ("draft = 65", "draft"),
]
PROFILES = [
    ("[profiles.p]\nendpoint = 5", "endpoint"),
    ('[profiles.p]\nctx = "x"', "ctx"),
    ("[profiles.p]\napi_key_env = 5", "api_key_env"),
    ("[profiles.p]\nsampling = []", "sampling"),
    ('[profiles.p]\n[profiles.p.sampling]\ntemperature = "x"', "temperature"),
    ("profiles = {p = 3}", "profile"),
]
FLAGS = [
    ("--temperature", "nan"),
    ("--temperature", "inf"),
    ("--temperature", "-inf"),
    ("--top-p", "nan"),
    ("--min-p", "NaN"),
    ("--presence-penalty", "nan"),
    ("--threads", "99999999999"),
    ("--threads", "0"),
    ("--ctx", "99999999999"),
    ("--ctx", "-5"),
    ("--seed", "99999999999"),
    ("--max-tokens", "10000000000000000000000"),
    ("--gpu-layers", "-99"),
    ("--top-k", "99999999999"),
    ("--think-budget", "0"),
    ("--temperature", "1e400"),
]
IDS = [
    ("show", "100000000000000000000"),
    ("show", "0"),
    ("show", "-1"),
    ("rm", "99999999999999999999"),
    ("export", "100000000000000000000"),
    ("stats", "100000000000000000000"),
    ("list", "-n", "10000000000000000000000"),
    ("answer", "100000000000000000000"),
    ("show", "1e3"),
    ("pull", "--ctx", "1"),
]


def run(capsys, *argv):
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(rc, err, code=2):
    assert rc == code, err
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err, err


@pytest.mark.parametrize("text,key", CONFIGS + PROFILES, ids=[c[0][:30] for c in CONFIGS + PROFILES])
def test_config_values_of_the_wrong_type_are_one_line_naming_the_key(qwq_home, capsys, monkeypatch, text, key):
    monkeypatch.delenv("QWQCHAT_THREADS")  # the environment would override the file's threads
    qwq_home.mkdir(parents=True, exist_ok=True)
    (qwq_home / "config.toml").write_text(text + "\n")
    argv = ["ask", "--profile", "p", "hi"] if text.startswith(("[profiles", "profiles")) else ["ask", "hi"]
    rc, out, err = run(capsys, *argv)
    assert_one_line(rc, err)
    assert key in err, err


@pytest.mark.parametrize("flag,value", FLAGS)
def test_numeric_flags_reject_nan_inf_and_out_of_range(capsys, flag, value):
    rc, out, err = run(capsys, "ask", "--model", "/nonexistent.gguf", flag, value, "hi")
    assert_one_line(rc, err)
    assert "model file" not in err  # refused before anything was loaded


RANGE = "between 0 (off) and 64"


@pytest.mark.parametrize("value,says", [("-1", RANGE), ("65", RANGE), ("ten", "Invalid value for '--draft'")])
def test_a_bad_draft_is_one_line_saying_why(capsys, value, says):
    rc, out, err = run(capsys, "ask", "--model", "/nonexistent.gguf", "--draft", value, "hi")
    assert_one_line(rc, err)
    assert says in err and "model file" not in err, err


@pytest.mark.parametrize("argv", IDS, ids=[" ".join(a) for a in IDS])
def test_ids_and_counts_out_of_range(capsys, argv):
    Store()
    rc, out, err = run(capsys, *argv)
    assert_one_line(rc, err)


@pytest.mark.parametrize("mode", [0o1777, 0o755, 0o750])
def test_qwqchat_home_keeps_its_own_permissions(tmp_path, monkeypatch, capsys, mode):
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, mode)
    monkeypatch.setenv("QWQCHAT_HOME", str(home))
    assert run(capsys, "paths")[0] == 0
    Store()
    assert stat.S_IMODE(home.stat().st_mode) == mode
    assert stat.S_IMODE((home / "logs").stat().st_mode) == 0o700  # what qwqchat creates is private


def test_a_new_home_is_created_private(tmp_path, monkeypatch):
    home = tmp_path / "new" / "home"
    monkeypatch.setenv("QWQCHAT_HOME", str(home))
    paths.db_path()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and stat.S_IMODE(home.parent.stat().st_mode) == 0o700


def test_a_full_disk_is_not_called_an_unreadable_database(qwq_home, monkeypatch, capsys):
    Store().close()
    real = sqlite3.connect

    class Full:
        def __init__(self, *a, **k):
            self.db = real(*a, **k)

        def execute(self, sql, *a):
            if sql.startswith("PRAGMA busy_timeout"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *a)

        def close(self):
            self.db.close()

    monkeypatch.setattr(sqlite3, "connect", Full)
    rc, out, err = run(capsys, "list")
    assert_one_line(rc, err, 1)
    assert "disk is full" in err and "not a readable" not in err


def test_a_prompt_with_undecodable_argv_bytes_is_saved_not_lost(qwq_home):
    with ScriptedServer() as server:
        server.script = [chunk(content="</think>ok", finish="stop")]
        proc = subprocess.run(
            [sys.executable, "-m", "qwqchat", "ask", "--endpoint", server.url, "--json", b"caf\xe9 \xff?"],
            capture_output=True,
            env=dict(os.environ),
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    convs = Store().list_conversations()
    assert len(convs) == 1
    msgs = Store().get(convs[0].id).messages
    assert [m.role for m in msgs] == ["user", "assistant"] and "\ufffd" in msgs[0].content
    assert json.loads(proc.stdout)["answer"] == "ok"


def test_a_failed_ask_leaves_no_empty_chat(qwq_home, monkeypatch, capsys):
    # only the broken method is undone after: undo() would also drop the test's private QWQCHAT_HOME
    with ScriptedServer() as server, monkeypatch.context() as broken:
        broken.setattr(Store, "add_user_message", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "full")))
        rc, out, err = run(capsys, "ask", "--endpoint", server.url, "hi")
    assert rc == 1 and err.count("\n") == 1
    assert Store().list_conversations() == []
