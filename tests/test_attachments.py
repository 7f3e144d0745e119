"""Files in prompts: reading (what is refused, with one line), the fenced block, and reading it back."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from conftest import run_cli

from qwqchat import attachments
from qwqchat.attachments import (
    Attachment,
    block,
    check_fits,
    count_tokens,
    language,
    read_file,
    split,
    with_files,
)
from qwqchat.errors import BadInput


@pytest.mark.parametrize(
    "name, lang",
    [("main.py", "python"), ("lib.rs", "rust"), ("README.md", "markdown"), ("a/b/App.TSX", "tsx"),
     ("Makefile", "makefile"), ("Dockerfile", "dockerfile"), ("notes", ""), ("data.csv", "csv")],
)  # fmt: skip
def test_language_from_the_extension(name, lang):
    assert language(name) == lang


def test_a_file_is_read_as_text(tmp_path):
    path = tmp_path / "main.py"
    path.write_bytes(b"\xef\xbb\xbfprint('hi')\r\nx = 1\r\n")  # a BOM and CRLF newlines
    a = read_file(str(path), 256)
    assert a.text == "print('hi')\nx = 1" and a.lines == 2 and a.name == str(path)
    assert block(a).startswith(f"📎 {path} · 2 lines\n```python\nprint('hi')\n")


def test_backticks_inside_cannot_close_the_fence(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("Example:\n```\ncode\n```\nand ````` five\n")
    text = with_files("Summarise", [read_file(str(path), 256)])
    fence = "`" * 6
    assert f"\n{fence}markdown\nExample:\n```\ncode\n```\nand ````` five\n{fence}" in text
    prompt, files = split(text)
    assert prompt == "Summarise" and files[0].text == "Example:\n```\ncode\n```\nand ````` five"


def test_split_reads_back_what_with_files_wrote():
    files = [
        Attachment("a.py", "x = 1\n\n📎 b.py · 1 line\n```python\ny\n```", 10),  # a header quoted in a file
        Attachment("empty.txt", "", 0),
        Attachment("blank", "\n", 2),
        Attachment("odd · 3 lines", "one line", 8),
    ]
    prompt = "Look\n\n📎 fake.py · 9 lines\n```\nnot closed"  # a prompt that quotes a header
    got_prompt, got = split(with_files(prompt, files))
    assert got_prompt == prompt
    assert [(a.name, a.text) for a in got] == [(a.name, a.text) for a in files]
    assert split("just a prompt") == ("just a prompt", [])
    lying = "Q\n\n📎 a.py · 5 lines\n```python\nonly one\n```"  # the count does not match: not ours
    assert split(lying) == (lying, [])


@pytest.mark.parametrize("data, words", [(b"ab\0cd", "is a binary file"), (b"caf\xe9", "is not UTF-8 text")])
def test_binary_files_are_refused(tmp_path, data, words):
    path = tmp_path / "blob"
    path.write_bytes(data)
    with pytest.raises(BadInput, match=words):
        read_file(str(path), 256)


def test_a_directory_a_missing_file_and_an_unreadable_one(tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="is a directory"):
        read_file(str(tmp_path), 256)
    with pytest.raises(BadInput, match="no such file: .*gone.py"):
        read_file(str(tmp_path / "gone.py"), 256)
    secret = tmp_path / "secret.py"
    secret.write_text("x")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # root reads through chmod 000: have open() answer as it would for a user

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(attachments, "open", denied, raising=False)
    with pytest.raises(BadInput, match="cannot read .*secret.py: Permission denied"):
        read_file(str(secret), 256)


def test_the_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("a" * 2048)
    assert read_file(str(path), 2).text == "a" * 2048
    path.write_text("a" * 2049)
    with pytest.raises(BadInput, match=r"big.txt is 2.0 KB; the limit is 2 KB \(attach_max_kb\)"):
        read_file(str(path), 2)
    with pytest.raises(BadInput, match="stdin is over the limit of 2 KB"):  # a pipe has no size to stat
        read_file("-", 2, stdin=io.BytesIO(b"a" * 2049))


def test_stdin_and_a_hostile_name(tmp_path):
    a = read_file("-", 256, stdin=io.BytesIO(b"piped\n"))
    assert (a.name, a.text) == ("stdin", "piped")
    name = tmp_path / "x\n\x1b[31mred\x1b[0m.py"
    name.write_text("ok")
    a = read_file(str(name), 256)
    assert "\n" not in a.name and "\x1b" not in a.name and a.name.endswith("␛[0m.py")
    _, files = split(with_files("p", [a]))
    assert files[0].name == a.name


class _Engine:
    context_size = 1000

    def __init__(self, counted=None):
        self.counted = counted

    def count_tokens(self, text):
        return self.counted


def test_the_context_check_counts_with_the_tokenizer_else_the_estimate():
    assert count_tokens(_Engine(7), "x" * 400) == 7
    assert count_tokens(_Engine(None), "x" * 401) == 101  # not loaded: about 4 characters a token
    check_fits(_Engine(), "x" * 3000, None, None)  # 750 tokens + 250 kept for the reply: fits exactly
    with pytest.raises(BadInput, match=r"^the prompt is 751 tokens: 1 over the 1,000-token context \(with 250 kept"):
        check_fits(_Engine(), "x" * 3001, None, None)
    with pytest.raises(BadInput, match="^the prompt with its files is 900 tokens: 400 over .*; attach less or"):
        check_fits(_Engine(900), with_files("short", [Attachment("a.py", "x", 1)]), "system", 500)


# -- ask -f -------------------------------------------------------------------------------------------


def test_ask_with_files_sends_them_in_the_prompt(smol_model, tmp_path, monkeypatch):
    from qwqchat.engines.llama import LlamaEngine
    from qwqchat.store import Store

    rendered = []
    render = LlamaEngine.render
    monkeypatch.setattr(LlamaEngine, "render", lambda self, *a: rendered.append(render(self, *a)) or rendered[-1])
    code = tmp_path / "main.py"
    code.write_text("def add(a, b):\n    return a + b\n")
    args = ("ask", "--model", str(smol_model), "--json", "--max-tokens", "3", "-f", str(code), "-f", "-")
    proc = run_cli(*args, "What do these do?", input="1,2,3\n")
    assert proc.returncode in (0, 3), proc.stderr
    prompt = rendered[-1][0]  # what the model was given, by its own chat template
    assert f"What do these do?\n\n📎 {code} · 2 lines\n```python\ndef add(a, b):\n    return a + b\n```" in prompt
    assert "📎 stdin · 1 line\n```\n1,2,3\n```" in prompt
    conv = Store().get(json.loads(proc.stdout)["conversation_id"])
    assert conv.title == "What do these do?" and conv.messages[0].content in prompt


def test_ask_refuses_files_it_cannot_use_and_saves_nothing(tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    (tmp_path / "big.txt").write_text("a" * 3000)
    from qwqchat import paths

    paths.config_path().write_text("attach_max_kb = 2\n")
    cases = [
        (("-f", str(tmp_path / "blob.bin"), "hi"), "blob.bin is a binary file"),
        (("-f", str(tmp_path), "hi"), "is a directory"),
        (("-f", str(tmp_path / "nope.py"), "hi"), "no such file"),
        (("-f", str(tmp_path / "big.txt"), "hi"), "the limit is 2 KB (attach_max_kb)"),
        (("-f", "-"), "give the prompt as an argument"),
        (("-f", "-", "-f", "-", "hi"), "can be given once"),
    ]
    for args, words in cases:
        proc = run_cli("ask", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
    assert json.loads(run_cli("list", "--json").stdout) == []


def test_ask_refuses_a_prompt_whose_files_do_not_fit_the_context(smol_model, tmp_path):
    big = tmp_path / "notes.md"
    big.write_text("The quick brown fox jumps over the lazy dog.\n" * 60)  # ~600 tokens
    proc = run_cli("ask", "--model", str(smol_model), "--ctx", "512", "-f", str(big), "Summarise")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    over = r"qwqchat: error: the prompt with its files is [\d,]+ tokens: [\d,]+ over the 512-token context .*"
    assert re.fullmatch(over, line)
    assert json.loads(run_cli("list", "--json").stdout) == []


def test_markdown_export_folds_each_file():
    from qwqchat.export import to_markdown
    from qwqchat.store import Store

    store = Store()
    cid = store.create_conversation(model="m", system_prompt=None, settings={})
    files = [Attachment("main.py", "print(1)\n```", 12), Attachment("<b>x</b>.txt", "a", 1)]
    store.add_user_message(cid, with_files("Why <this>?", files))
    md = to_markdown(store.get(cid))
    assert "## You\n\nWhy &lt;this>?\n\n<details>\n<summary>📎 main.py · 2 lines</summary>\n\n" in md
    assert "\n````python\nprint(1)\n```\n````\n\n</details>\n" in md
    assert "<summary>📎 &lt;b&gt;x&lt;/b&gt;.txt · 1 line</summary>\n\n```text\na\n```\n\n</details>" in md
