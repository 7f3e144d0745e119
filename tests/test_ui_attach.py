"""Files in prompts in the app: the attach dialog (completion, errors), the line above the prompt, the context
meter, the send, and the file folded under its prompt."""

from __future__ import annotations

from textual.widgets import Button
from textual.widgets.collapsible import CollapsibleTitle
from uihelpers import finished, make_app, ready, send, wait_until

from qwqchat.store import Store
from qwqchat.ui.screens.attach import AttachDialog, PathInput
from qwqchat.ui.widgets.file_fold import FileFold
from qwqchat.ui.widgets.turn import UserMessage


async def attach(pilot, path: str) -> None:
    """Open the dialog with its key, type ``path`` and press Enter."""
    app = pilot.app
    await pilot.press("ctrl+l")
    await wait_until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog")
    app.screen.query_one(PathInput).value = path
    await pilot.press("enter")


def status_text(app) -> str:
    return str(app.status.render())


async def test_attach_completes_a_name_shows_it_counts_it_and_sends_it_folded(qwq_home, tmp_path):
    (tmp_path / "main_module.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "other.txt").write_text("x")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        before = status_text(app)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog")
        box = app.screen.query_one(PathInput)
        assert box.has_focus
        await pilot.press(*f"{tmp_path}/ma")
        await wait_until(pilot, lambda: box._suggestion == f"{tmp_path}/main_module.py", what="the completion")
        await pilot.press("tab")
        assert box.value == f"{tmp_path}/main_module.py"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AttachDialog), what="the dialog to close")
        bar = app.chat.attachments
        assert bar.display and "📎 main_module.py (32 B)" in str(bar.render()).replace(f"{tmp_path}/", "")
        assert app.status.attached > 0 and f"(📎 {app.status.attached})" in status_text(app)
        assert before != status_text(app)

        await send(pilot, "What does it do?")
        await finished(pilot)
        sent = app.engine.requests[-1][-1].content  # what the engine was given
        assert sent == f"What does it do?\n\n📎 {tmp_path}/main_module.py · 2 lines\n```python\n" + (
            "def add(a, b):\n    return a + b\n```"
        )
        assert Store().get(app.conversation.id).messages[0].content == sent
        assert not bar.display and app.status.attached == 0  # attachments clear after send
        assert app.prompt.recall_list[0] == "What does it do?"  # Up recalls the prompt, not the file
        app.screen.load_prompt_history()  # and so after a restart, from the store
        assert app.prompt.recall_list[0] == "What does it do?"

        shown = app.view.query_one(UserMessage)
        fold = shown.query_one(FileFold)
        assert fold.collapsed and str(fold.query_one(CollapsibleTitle).label).endswith("main_module.py · 2 lines")
        assert "return a + b" not in str(shown.query_one(".prompt-text").render())
        await pilot.click(fold.query_one(CollapsibleTitle))
        await wait_until(pilot, lambda: fold.body is not None and not fold.collapsed, what="the file to open")
        assert "return a + b" in str(fold.body.render())

        app.chat.action_attach()  # the palette runs the same action
        await wait_until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog again")


async def test_tilde_is_home_and_a_file_comes_off_with_its_button(qwq_home, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "notes.md").write_text("# hi\n")
    (tmp_path / "data.csv").write_text("a,b\n")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog")
        await pilot.press("~", "/", "n")
        box = app.screen.query_one(PathInput)
        await wait_until(pilot, lambda: box._suggestion == "~/notes.md", what="completion under ~")
        await pilot.press("right", "enter")
        await attach(pilot, "~/data.csv")
        await wait_until(pilot, lambda: len(app.chat.attachments.files) == 2, what="two files")
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog")
        await pilot.click("#remove-0")
        await wait_until(pilot, lambda: len(app.screen.query(Button)) == 1, what="one file left in the dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AttachDialog), what="the dialog to close")
        assert [path for path, _ in app.chat.attachments.files] == ["~/data.csv"]
        await send(pilot, "Sum column b")
        await finished(pilot)
        assert "📎 ~/data.csv · 1 line\n```csv\na,b\n```" in app.engine.requests[-1][-1].content


async def test_files_that_cannot_go_are_one_line_notifications_and_nothing_is_sent(qwq_home, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    doc = tmp_path / "doc.txt"
    doc.write_text("fine")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        for path, words in ((tmp_path / "blob.bin", "is a binary file"), (tmp_path, "is a directory")):
            await attach(pilot, str(path))
            await wait_until(pilot, lambda w=words: any(w in m for m in app.notified), what=words)
            assert isinstance(app.screen, AttachDialog)  # still open: the path can be corrected
            await pilot.press("escape")
        await attach(pilot, str(doc))
        await wait_until(pilot, lambda: app.chat.attachments.files, what="the file attached")
        doc.unlink()  # gone between attaching and sending: read again on send
        await send(pilot, "Read it")
        await wait_until(pilot, lambda: any("no such file" in m for m in app.notified), what="the send refused")
        assert app.conversation is None and app.prompt.text == "Read it" and app.chat.attachments.files
        assert not app.engine.requests and Store().list_conversations() == []


async def test_a_prompt_whose_files_overflow_the_context_is_refused_before_sending(qwq_home, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)  # ~1,250 tokens by the estimate
    app = make_app(context_size=1000)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await attach(pilot, str(big))
        await wait_until(pilot, lambda: app.status.attached, what="the meter to count the file")
        assert "/ 1,000 tokens" in status_text(app)
        await send(pilot, "Summarise")
        await wait_until(pilot, lambda: any("over the 1,000-token context" in m for m in app.notified), what="refusal")
        assert not app.engine.requests and app.conversation is None


async def test_hostile_file_names_stay_text(qwq_home, tmp_path):
    name = "[bold red]x[blink]\x1b[31m\nline.py"
    (tmp_path / name).write_text("print(1)\n")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await attach(pilot, str(tmp_path / name))
        await wait_until(pilot, lambda: app.chat.attachments.files, what="the file attached")
        line = str(app.chat.attachments.render())
        assert "[bold red]x[blink]␛[31m␊line.py" in line and "\x1b" not in line and "\n" not in line
        await send(pilot, "What is this?")
        await finished(pilot)
        title = str(app.view.query_one(FileFold).query_one(CollapsibleTitle).label)
        assert title.endswith("[bold red]x[blink]␛[31m␊line.py · 1 line") and "\x1b" not in title
