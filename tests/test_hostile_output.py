"""Where `export -o` writes: through to what the user named, never replacing it by surprise."""

from __future__ import annotations

import json
import os
import threading

import pytest
from conftest import run_process

from qwqchat import cli
from qwqchat.store import Store


@pytest.fixture
def cid():
    store = Store()
    c = store.create_conversation(model="m")
    store.add_user_message(c, "question")
    store.finish_reply(store.start_reply(c), "thinking", "answer", "stop")
    return c


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_an_existing_file_needs_force(tmp_path, capsys, cid):
    f = tmp_path / "chat.md"
    f.write_text("precious")
    rc, _, err = run(capsys, "export", str(cid), "-o", str(f))
    assert rc == 2 and "--force" in err and err.count("\n") == 1
    assert f.read_text() == "precious"
    assert run(capsys, "export", str(cid), "-o", str(f), "--force")[0] == 0
    assert f.read_text().startswith("# question") and not list(tmp_path.glob("*.part"))


def test_a_symlink_is_followed_not_replaced(tmp_path, capsys, cid):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert run(capsys, "export", str(cid), "-o", str(link), "--force")[0] == 0
    assert link.is_symlink() and real.read_text().startswith("# question")


def test_a_named_pipe_is_written_through(tmp_path, capsys, cid):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text()), daemon=True)
    reader.start()
    assert run(capsys, "export", str(cid), "-o", str(pipe))[0] == 0
    reader.join(30)
    assert got and got[0].startswith("# question")
    assert pipe.exists() and not pipe.is_file()  # still a pipe


@pytest.mark.parametrize("target", ["-", "stdout-link"])
def test_stdout_is_written_through(tmp_path, cid, target):
    if target != "-":  # a link of our own to the process's stdout, like /dev/stdout (which a bug would replace)
        (tmp_path / target).symlink_to("/proc/self/fd/1")
        target = str(tmp_path / target)
    proc = run_process("export", str(cid), "-o", target, "--json")  # a real process: its own fd 1
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["conversation"]["id"] == cid
    assert target == "-" or os.path.islink(target)  # not replaced by a file


def test_export_all_refuses_to_overwrite_and_stays_in_its_folder(tmp_path, capsys, cid):
    out = tmp_path / "all"
    assert run(capsys, "export", "--all", "-o", str(out))[0] == 0
    assert [p.name for p in out.iterdir()] == [f"{cid}.md"]
    rc, _, err = run(capsys, "export", "--all", "-o", str(out))
    assert rc == 2 and "--force" in err
    assert run(capsys, "export", "--all", "-o", str(out), "--force")[0] == 0
