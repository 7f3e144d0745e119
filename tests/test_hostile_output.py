"""Where `export -o` writes: through to what the user named, never replacing it by surprise."""

from __future__ import annotations

import json
import os
import re
import threading

import pytest
from conftest import run_process

from qwqchat import cli, export
from qwqchat.store import Store
from qwqchat.text import printable


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
    assert [p.name for p in out.iterdir()] == [f"{cid:04d}-question.md"]
    rc, _, err = run(capsys, "export", "--all", "-o", str(out))
    assert rc == 2 and "--force" in err
    assert run(capsys, "export", "--all", "-o", str(out), "--force")[0] == 0


HOSTILE_TITLES = [
    "../../escape",
    "..\\..\\windows\\path",
    "line one\nline two\r\n",
    "nul\x00byte",
    "x" * 5000,
    "!!!???...",
    "",
    "CON",
    "lpt1",
    "Ünïcödé café — déjà vu",
    "日本語のタイトル",
    ".hidden",
    "same title",
    "same title",
    "SAME TITLE",
]


def test_export_all_names_carry_a_safe_title_and_never_collide(tmp_path, capsys):
    store = Store()
    ids = []
    for title in HOSTILE_TITLES:
        c = store.create_conversation(model="m")
        store.add_user_message(c, "q")
        store.rename(c, title)
        ids.append(c)
    out = tmp_path / "exports" / "all"
    assert run(capsys, "export", "--all", "-o", str(out))[0] == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == len(HOSTILE_TITLES) and os.listdir(tmp_path / "exports") == ["all"]
    for name in names:
        assert re.fullmatch(r"\d{4,}-[a-z0-9]+(-[a-z0-9]+)*\.md", name) and len(name) <= 4 + 1 + 40 + 3, name
        assert name.split("-", 1)[1].split(".")[0] not in ("con", "prn", "aux", "nul", "lpt1", "com1")
    got = {int(n.split("-", 1)[0]): n.split("-", 1)[1] for n in names}
    assert got[ids[0]] == "escape.md" and got[ids[3]] == "nul-byte.md" and got[ids[9]] == "unicode-cafe-deja-vu.md"
    assert got[ids[5]] == got[ids[10]] == "chat.md" and got[ids[6]] == "new-chat.md" and got[ids[7]] == "con-chat.md"
    assert got[ids[4]] == "x" * 40 + ".md" and got[ids[12]] == got[ids[14]] == "same-title.md"
    for cid in ids:  # each file holds its own chat
        assert (out / f"{cid:04d}-{got[cid]}").read_text() == printable(export.to_markdown(store.get(cid)))
