"""The headless command line, run in-process through click (subprocesses for Ctrl+C and kill -9)."""

import codecs
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from conftest import run_cli

from qwqchat import paths

LONG = ["--temperature", "1.5", "--top-k", "0", "--top-p", "1.0", "--seed", "3", "--max-tokens", "3000"]


def test_ask_json_saves_a_conversation(smol_model):
    proc = run_cli(
        "ask",
        "--model",
        str(smol_model),
        "--json",
        "--seed",
        "1",
        "--max-tokens",
        "20",
        "What is the capital of France?",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"conversation_id", "reasoning", "answer", "finish_reason", "stats"}
    assert set(out["stats"]) >= {
        "prompt_tokens",
        "prompt_tokens_evaluated",
        "reasoning_tokens",
        "answer_tokens",
        "ttft_s",
        "thinking_s",
        "total_s",
        "decode_tokens_per_s",
    }
    assert out["answer"] and out["finish_reason"] in ("stop", "length")
    listed = json.loads(run_cli("list", "--json").stdout)
    assert [c["id"] for c in listed] == [out["conversation_id"]]
    assert listed[0]["title"] == "What is the capital of France?"


def test_ask_streams_reasoning_to_stderr_and_answer_to_stdout(qwq_model):
    proc = run_cli("ask", "--model", str(qwq_model), "--seed", "1", "--max-tokens", "30", "Why is the sky blue?")
    assert proc.returncode == 3, proc.stderr  # no answer: its own exit code
    assert proc.stdout.strip() == ""  # the small model never finishes thinking
    assert len(proc.stderr) > 40 and "<think>" not in proc.stderr
    assert "stopped while thinking" in proc.stderr
    hidden = run_cli("ask", "--model", str(qwq_model), "--seed", "1", "--max-tokens", "30", "--hide-reasoning", "Hi")
    assert hidden.stderr.splitlines() == [
        "qwqchat: the model stopped while thinking — no answer",
        "qwqchat: to let the model answer from its thinking so far: qwqchat answer 2",
    ]


def test_prompt_from_stdin_continue_and_no_save(smol_model):
    first = run_cli("ask", "--model", str(smol_model), "--json", "--max-tokens", "10", input="Hello from stdin\n")
    cid = json.loads(first.stdout)["conversation_id"]
    second = run_cli("ask", "--model", str(smol_model), "--json", "--max-tokens", "10", "--chat", str(cid), "Again")
    assert json.loads(second.stdout)["conversation_id"] == cid
    scratch = run_cli(
        "ask", "--model", str(smol_model), "--json", "--max-tokens", "10", "--no-save", "--chat", str(cid), "Not saved"
    )
    assert scratch.returncode == 0 and json.loads(scratch.stdout)["conversation_id"] is None
    shown = run_cli("show", str(cid)).stdout
    assert shown.count("## You") == 2 and "Not saved" not in shown and "Hello from stdin" in shown


def test_show_search_export_import_rm(smol_model, tmp_path):
    cid = json.loads(
        run_cli("ask", "--model", str(smol_model), "--json", "--max-tokens", "10", "Tell me about pelicans").stdout
    )["conversation_id"]
    assert "pelicans" in run_cli("search", "pelican").stdout
    assert run_cli("search", "nothing-like-this").returncode == 1
    md = tmp_path / "chat.md"
    assert run_cli("export", str(cid), "-o", str(md)).returncode == 0
    assert md.read_text().startswith("# Tell me about pelicans")
    js = tmp_path / "chat.json"
    run_cli("export", str(cid), "--json", "-o", str(js))
    new = int(run_cli("import", str(js)).stdout)
    assert new != cid and run_cli("show", str(new)).stdout == run_cli("show", str(cid)).stdout
    out = tmp_path / "all"
    assert run_cli("export", "--all", "-o", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [
        f"{cid:04d}-tell-me-about-pelicans.md",
        f"{new:04d}-tell-me-about-pelicans.md",
    ]
    assert run_cli("rm", str(cid)).returncode == 0
    assert run_cli("show", str(cid)).returncode == 2


def test_errors_are_one_line_with_exit_codes(tmp_path, smol_model):
    cases = [
        (("ask", "hi"), 2, "no model configured"),
        (("ask", "--model", str(tmp_path / "missing.gguf"), "hi"), 2, "model file not found"),
        (("ask", "--model", str(tmp_path), "hi"), 2, "is a directory"),
        (("ask", "--model", str(smol_model), "--presence-penalty", "3", "hi"), 2, "presence penalty"),
        (("ask", "--model", str(smol_model), "--temperature", "warm", "hi"), 2, "invalid float"),
        (("show", "12345"), 2, "no conversation with id 12345"),
        (("import", str(tmp_path / "none.json")), 2, "no such file"),
        (("bogus",), 2, "invalid choice"),
    ]
    for args, code, text in cases:
        proc = run_cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert text in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_model_from_environment_and_config(smol_model, qwq_home):
    env = run_cli("ask", "--json", "--max-tokens", "5", "hi", env_extra={"QWQCHAT_MODEL": str(smol_model)})
    assert env.returncode == 0, env.stderr
    qwq_home.mkdir(exist_ok=True)
    (qwq_home / "config.toml").write_text(f'model = "{smol_model}"\n[sampling]\ntemperature = 0.3\n')
    cfg = run_cli("ask", "--json", "--max-tokens", "5", "hi")
    assert cfg.returncode == 0, cfg.stderr
    (qwq_home / "config.toml").write_text("model = [broken\n")
    bad = run_cli("ask", "hi")
    assert bad.returncode == 2 and "not valid TOML" in bad.stderr


def _wait_for_partial(db, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            con = sqlite3.connect(db)
            row = con.execute(
                "SELECT length(content) + length(reasoning) FROM messages WHERE role='assistant'"
                " ORDER BY id DESC LIMIT 1"
            ).fetchone()
            con.close()
            if row and row[0] and row[0] > 200:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    raise AssertionError("no partial reply was saved")


def _start_long_ask(model):
    return subprocess.Popen(
        [sys.executable, "-m", "qwqchat", "ask", "--model", str(model), *LONG, "Tell a story"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_keeps_the_partial_reply_and_exits_130(smol_model):
    proc = _start_long_ask(smol_model)
    _wait_for_partial(paths.db_path())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "partial reply was kept" in err
    shown = run_cli("show", "1").stdout
    assert "Reply cancelled before it finished" in shown
    assert out.strip()[:50] in shown


def test_kill_9_loses_at_most_a_second_and_marks_the_reply_interrupted(smol_model):
    """What kill -9 loses is measured in time, not characters, so a slow (loaded) machine cannot fail it."""
    proc = _start_long_ask(smol_model)
    seen = []  # (monotonic time, characters streamed so far)

    def read() -> None:
        decoder, total = codecs.getincrementaldecoder("utf-8")("replace"), 0
        while chunk := os.read(proc.stdout.fileno(), 65536):
            total += len(decoder.decode(chunk))
            seen.append((time.monotonic(), total))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _wait_for_partial(paths.db_path())
    first = len(seen)
    deadline = time.monotonic() + 60
    while len(seen) < first + 30 and time.monotonic() < deadline:  # stream on past a save or two
        time.sleep(0.05)
    proc.kill()
    killed_at = time.monotonic()
    proc.wait()
    reader.join(10)
    con = sqlite3.connect(paths.db_path())
    saved = con.execute("SELECT length(content) FROM messages WHERE role='assistant'").fetchone()[0]
    con.close()
    assert saved > 0
    # when the stream had printed what was saved: all it printed after that is what the kill lost
    saved_by = next(t for t, total in seen if total >= saved)
    assert killed_at - saved_by < 1.5, (killed_at - saved_by, saved, seen[-1])
    shown = run_cli("show", "1").stdout
    assert "Reply interrupted before it finished" in shown


def test_a_flag_means_the_same_before_and_after_the_command(qwq_home, tmp_path):
    """``qwqchat --temperature 0.1 ask hi`` once lost the temperature to the subcommand's default."""
    from sse_server import ScriptedServer, chunk

    with ScriptedServer() as server:
        for where in (["--temperature", "0.1", "--top-k", "7", "ask"], ["ask", "--temperature", "0.1", "--top-k", "7"]):
            server.script = [chunk(reasoning_content="r"), chunk(content="ok", finish="stop")]
            proc = run_cli(*where, "--endpoint", server.url, "--json", "hi")
            assert proc.returncode == 0, proc.stderr
            assert (server.requests[-1]["temperature"], server.requests[-1]["top_k"]) == (0.1, 7), where
    # engine flags too: a bad --ctx before the command is refused as it is after it
    for where in (["--ctx", "100", "ask"], ["ask", "--ctx", "100"]):
        proc = run_cli(*where, "--model", str(tmp_path / "none.gguf"), "hi")
        assert proc.returncode == 2 and "ctx must be between" in proc.stderr, (where, proc.stderr)


def test_on_loop_takes_only_its_choices(qwq_home):
    for command in (["ask", "hi"], ["answer", "1"]):
        proc = run_cli(*command, "--on-loop", "panic")
        assert proc.returncode == 2 and "panic" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_help_of_every_command_describes_every_option_and_argument():
    import click

    from qwqchat.cli import cli

    for name, command in [("qwqchat", cli), *cli.commands.items()]:
        text = run_cli(*([] if command is cli else [name]), "--help").stdout
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (name, param.name)
            else:
                names = {str(param.name).upper(), param.human_readable_name.strip("[]")}
                assert any(n in (command.help or "") for n in names), (name, param.name)
        assert text.startswith("Usage: qwqchat"), text


def test_models_lists_ggufs_used_before_and_marks_the_missing(smol_model, qwq_home, tmp_path):
    gone = tmp_path / "gone.gguf"
    gone.write_bytes(smol_model.read_bytes())
    smol, gone_path = str(smol_model.resolve()), str(gone.resolve())
    for model in (smol_model, gone):
        asked = run_cli("ask", "--model", str(model), "--max-tokens", "1", "--no-save", "hi")
        assert asked.returncode == 0, asked.stderr
    rows = json.loads(run_cli("models", "--json").stdout)
    assert [r["path"] for r in rows] == [gone_path, smol] and all(r["used"] for r in rows)  # last used first
    gone.unlink()
    rows = json.loads(run_cli("models", "--json").stdout)
    assert [(r["path"], r.get("missing", False)) for r in rows] == [(smol, False), (gone_path, True)]
    table = run_cli("models").stdout.splitlines()
    assert table[1].startswith("  1 ") and "just now" in table[1] and table[1].endswith(smol)
    assert table[2].split() == ["-", "missing", "just", "now", gone_path]
    assert run_cli("models", "--use", "2").returncode == 2  # a missing file cannot be chosen
