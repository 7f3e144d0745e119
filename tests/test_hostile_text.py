"""Hostile text: escape sequences, bidi, markup, lone surrogates and secrets from servers, files and users."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli
from sse_server import ScriptedServer, chunk

from qwqchat import export
from qwqchat.engines.remote import RemoteEngine
from qwqchat.engines.replay import ReplayEngine
from qwqchat.errors import QwqError
from qwqchat.store import Store
from qwqchat.text import json_line, printable, redact
from qwqchat.types import Message, Sampling

HOSTILE = [
    "\x1b]52;c;cHduZWQ=\x07",  # OSC 52: write the clipboard
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\x9d0;title\x9c",
    "\x07\x08\x7f",
    "abc\u202edcb",
    "\u2066x\u2069",
    "in\u200bvisible",
    "\ufeffbom",
    "\ud800lone",
    "x\udfff",
    "[/x]",
    "[bold]b[/bold]",
    "[@click=quit]q[/]",
    "\x00nul",
    "\r\roverwrite",
    "\u061c\u200e\u200f",
]
BAD = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_leaves_nothing_a_terminal_would_act_on(text):
    out = printable(text)
    assert not BAD.search(out), ascii(out)
    out.encode("utf-8")  # never a UnicodeEncodeError


@pytest.mark.parametrize("text", HOSTILE)
def test_json_output_escapes_what_it_would_otherwise_pass(text):
    line = json_line({"answer": text})
    assert not BAD.search(line), ascii(line)
    line.encode("utf-8")
    assert json.loads(line) == {"answer": text}  # lossless


SECRETS = [
    ("http://user:sk-KEY1234@host:8000/v1", "sk-KEY1234"),
    ("https://h/v1?api_key=sk-KEY1234&x=1", "sk-KEY1234"),
    ("https://h/v1?token=sk-KEY1234", "sk-KEY1234"),
    ("see https://a:b@h/?access_token=sk-KEY1234", "sk-KEY1234"),
    ("Authorization: Bearer sk-KEY1234abcd", "sk-KEY1234"),
    ("key sk-KEY1234 is wrong", "sk-KEY1234"),
]


@pytest.mark.parametrize("text,secret", SECRETS)
def test_redact(text, secret):
    assert secret not in redact(text, "sk-KEY1234")
    assert "sk-KEY1234" not in redact(text.replace("key sk-KEY1234", "key x"))


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def stream(engine):
    return [ev for ev in engine.stream([Message("user", "q")], Sampling())]


@pytest.mark.parametrize(
    "raw",
    [
        b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud800b"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"\\udfff"},"finish_reason":null}]}\n\n',
    ],
)
def test_a_lone_surrogate_from_a_server_is_replaced_and_the_reply_saved(server, raw):
    server.script = [("raw", raw), chunk(content="</think>end", finish="stop")]
    proc = run_cli("ask", "--endpoint", server.url, "--json", "hello")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "\ufffd" in out["reasoning"] + out["answer"] and "end" in out["answer"]
    shown = run_cli("show", str(out["conversation_id"]))
    assert shown.returncode == 0 and "end" in shown.stdout and "\ufffd" in shown.stdout


def test_invalid_utf8_on_stdin_is_replaced_not_fatal(server):
    server.script = [chunk(content="</think>fine", finish="stop")]
    proc = subprocess_ask(server, b"caf\xe9 \xff\xfe?")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answer"] == "fine"


def subprocess_ask(server, data: bytes):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "qwqchat", "ask", "--endpoint", server.url, "--json"],
        input=data,
        capture_output=True,
        env=dict(os.environ),
        timeout=120,
    )


@pytest.mark.parametrize("message", ["[/x] closing tag", "\x1b]52;c;cHduZWQ=\x07 clipboard", "[bold]x", "\u202eevil"])
def test_server_error_text_reaches_stderr_and_the_store_sanitised(server, message):
    server.script = [("status", 400, message)]
    proc = run_cli("ask", "--endpoint", server.url, "hello")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not BAD.search(proc.stderr), ascii(proc.stderr)
    conv = Store().get(Store().list_conversations()[0].id)
    assert not BAD.search(conv.messages[-1].error or ""), ascii(conv.messages[-1].error)
    md = run_cli("export", str(conv.id))
    assert md.returncode == 0 and not BAD.search(md.stdout)


def test_export_to_stdout_and_json_are_sanitised(qwq_home):
    store = Store()
    cid = store.create_conversation(model="m")
    store.add_user_message(cid, "q\x1b]52;c;AAAA\x07\u202e")
    store.finish_reply(store.start_reply(cid), "think\x9b2J", "ans\x1b[2J\u200b", "stop")
    for args in (
        ("export", str(cid)),
        ("export", str(cid), "--json"),
        ("list", "--json"),
        ("show", str(cid)),
        ("search", "ans", "--json"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert not BAD.search(proc.stdout), (args, ascii(proc.stdout))
    back = json.loads(run_cli("export", str(cid), "--json").stdout)
    assert back["conversation"]["messages"][1]["content"] == "ans\x1b[2J\u200b"  # JSON stays lossless


MARKDOWN_ATTACKS = [
    ("<script>alert(1)</script>", "<script"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[click](javascript:alert(1))", "](javascript:"),
    ("[c]( JAVASCRIPT:alert(1))", "( JAVASCRIPT:"),
    ("<javascript:alert(1)>", "<javascript:"),
    ("[r]: data:text/html,<b>", "]: data:"),
    ("<!-- hide -->", "<!--"),
    ("<iframe src=//evil>", "<iframe"),
]


@pytest.mark.parametrize("attack,raw", MARKDOWN_ATTACKS)
def test_markdown_export_escapes_raw_html_and_unsafe_links(attack, raw):
    store = Store(":memory:")
    cid = store.create_conversation(model="m")
    store.add_user_message(cid, attack)
    store.finish_reply(store.start_reply(cid), "", "answer\n\n" + attack + "\n```\n" + attack + "\n```", "stop")
    md = export.to_markdown(store.get(cid))
    body = md.split("\n", 1)[1].split("```")  # (the title is made from the prompt, without brackets)
    assert raw not in body[0] + body[2], md  # outside code: defused
    assert attack in body[1]  # inside a code block it is shown as written
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).parse(md)
    flat = [t for tok in tokens for t in [tok, *(tok.children or [])]]
    assert not [t for t in flat if t.type.startswith("html")], md
    assert not [
        t
        for t in flat
        if t.type == "link_open" and re.match(r"\s*(javascript|data|vbscript|file):", t.attrGet("href") or "", re.I)
    ]


def test_a_newline_in_a_title_cannot_forge_a_heading():
    store = Store(":memory:")
    cid = store.create_conversation(model="m\n## You")
    store.add_user_message(cid, "q")
    store.rename(cid, "Title\n\n## You\n\nforged")
    md = export.to_markdown(store.get(cid))
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(md)
    headings = [tokens[i + 1].content for i, tok in enumerate(tokens) if tok.type == "heading_open"]
    assert headings == ["Title ## You forged", "You"], md


# -- secrets ---------------------------------------------------------------------

KEY = "sk-PLANTED-7f3a9c"


def test_a_planted_key_appears_in_no_file_screen_or_stream(server, qwq_home, tmp_path):
    """The key comes in by every door (URL user info, URL query, --api-key, env, profile env) and the server
    even echoes it in its error; nothing written, printed or shown may contain it."""
    qwq_home.mkdir(parents=True, exist_ok=True)
    host = server.url.split("//")[1]
    (qwq_home / "config.toml").write_text(
        f'[profiles.box]\nendpoint = "http://u:{KEY}@{host}/v1"\napi_key_env = "BOX_KEY"\n'
    )
    outputs = []
    server.script = [chunk(reasoning_content="r"), chunk(content="answer", finish="stop")]
    for args, env in [
        (("ask", "--endpoint", f"http://user:{KEY}@{host}", "--json", "hi"), {}),
        (("ask", "--endpoint", f"{server.url}?api_key={KEY}", "hi"), {}),  # (the query breaks the URL: 404)
        (("ask", "--endpoint", server.url, "--json", "hi"), {"QWQCHAT_API_KEY": KEY}),
        (("ask", "--profile", "box", "hi"), {"BOX_KEY": KEY}),
    ]:
        proc = run_cli(*args, env_extra=env)
        assert proc.returncode in (0, 1) and proc.stderr.count("error") <= 1, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    server.script = [("status", 401, f"invalid api key {KEY} for http://u:{KEY}@h")]
    for args in (("ask", "--endpoint", f"http://u:{KEY}@{host}", "hi"), ("ask", "--profile", "box", "hi")):
        proc = run_cli(*args, env_extra={"BOX_KEY": KEY})
        assert proc.returncode == 1
        outputs += [proc.stdout, proc.stderr]
    gone = run_cli("ask", "--endpoint", f"http://u:{KEY}@127.0.0.1:1/v1?token={KEY}", "hi")
    outputs += [gone.stdout, gone.stderr]
    assert gone.returncode == 1 and gone.stderr.count("\n") == 1
    for cid in [c.id for c in Store().list_conversations()]:
        for fmt in ((), ("--json",)):
            outputs.append(run_cli("export", str(cid), *fmt).stdout)
        outputs.append(run_cli("show", str(cid)).stdout)
    outputs.append(run_cli("list", "--json").stdout)
    for i, text in enumerate(outputs):
        assert KEY not in text, (i, text)
    for path in qwq_home.rglob("*"):
        if path.is_file() and path.name != "config.toml":  # the user's own config holds what the user put there
            assert KEY.encode() not in path.read_bytes(), path


async def test_the_status_bar_and_notifications_never_show_a_key_or_parse_markup(server, qwq_home):
    from uihelpers import finished, make_app, ready, send, wait_until

    server.script = [("status", 500, f"boom [/x] [bold]{KEY}\x1b]52;c;AAAA\x07")]
    engine = RemoteEngine(f"http://u:{KEY}@{server.url.split('//')[1]}", api_key=KEY)
    store = Store()
    store.add_user_message(store.create_conversation(title="[/x] title [bold]"), "[/y] prompt")
    app = make_app(engine, store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "[/z] hello")
        await finished(pilot)
        await wait_until(pilot, lambda: any("boom" in m for m in app.notified), what="toast")
        app.notify("[/x] a notification with markup-like text")
        await pilot.pause(0.1)
        screen = app.export_screenshot()
        assert KEY not in screen and "boom [/x]" in screen.replace("&#160;", " ")
        assert not any(KEY in m for m in app.notified)


async def test_a_load_error_with_markup_shows_as_plain_text(qwq_home):
    from uihelpers import make_app, ready

    app = make_app(ReplayEngine([], load_error=QwqError("cannot load /models/[/x]/m.gguf: [bold]bad")))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.pause(0.1)
        assert "[/x]" in app.export_screenshot()


def test_bytes_that_are_not_utf8_at_the_terminal_do_not_end_the_app(tmp_path):
    """The real app in a pseudo-terminal: a lone surrogate's bytes typed or pasted (Textual's input thread
    decoded strictly and the app quit with a traceback), then Ctrl+Q quits cleanly."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import sys
    import termios
    import time

    env = dict(os.environ, QWQCHAT_HOME=str(tmp_path), TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, fd = pty.fork()
    if pid == 0:  # the app, on a terminal, with a server that is not there (it starts all the same)
        os.execve(sys.executable, [sys.executable, "-m", "qwqchat", "--endpoint", "http://127.0.0.1:9/v1"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""

    def drain(seconds: float) -> None:
        nonlocal seen
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    return

    try:
        deadline = time.monotonic() + 30
        while b"Think" not in seen and time.monotonic() < deadline:  # the status line is painted
            drain(0.1)
        os.write(fd, b"say \xed\xa0\x80 and \xff done")
        drain(1.0)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the app ended"
        os.write(fd, b"\x11")  # Ctrl+Q
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            drain(0.1)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        else:
            raise AssertionError("Ctrl+Q did not quit")
        assert os.waitstatus_to_exitcode(status) == 0
        assert b"UnicodeDecodeError" not in seen and b"Traceback" not in seen
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
