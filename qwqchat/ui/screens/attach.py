"""The attach dialog: a path box that completes file names (Tab or →, ``~`` is home) and the files attached.

Enter attaches the file typed (an error is a one-line notification, the dialog stays); a file's ✕
button takes it off; Esc closes.  The dialog answers with the attached files as they now are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Footer, Input, Label

from ...attachments import read_file
from ...errors import QwqError
from ...text import printable
from ..widgets.attachments_bar import Attached

MAX_LISTED = 2000  # entries read from one folder while completing: a huge folder must not stall typing


class PathSuggester(Suggester):
    """Completes the last part of a path from the folder it names; the text typed (``~`` too) is kept."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> Optional[str]:
        folder, _, prefix = value.rpartition("/")
        where = Path(os.path.expanduser(folder + "/" if folder or value.startswith("/") else "."))
        try:
            with os.scandir(where) as entries:
                names = []
                for i, entry in enumerate(entries):
                    if i >= MAX_LISTED:
                        break
                    if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                        names.append(entry.name + ("/" if entry.is_dir() else ""))
        except OSError:
            return None
        names = sorted(n for n in names if n != prefix)
        if not names:
            return None
        head = value[: len(value) - len(prefix)]
        return head + os.path.commonprefix(names) if len(names) > 1 else head + names[0]


class PathInput(Input):
    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        """Tab takes the suggestion, like →; with none it moves the focus on as usual."""
        if self._suggestion and self.cursor_at_end:
            self.action_cursor_right()
        else:
            self.screen.focus_next()


class AttachDialog(ModalScreen[List[Attached]]):
    AUTO_FOCUS = "#path"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, files: List[Attached], max_kb: int) -> None:
        super().__init__()
        self.files = list(files)
        self.max_kb = max_kb

    def compose(self):
        with Vertical(classes="dialog", id="attach"):
            yield Label("Attach a text file to the prompt", classes="dialog-title")
            yield PathInput(placeholder="path (Tab completes, ~ is home)", suggester=PathSuggester(), id="path")
            with Vertical(id="attached"):
                yield from self._buttons()
        yield Footer()

    def _buttons(self) -> List[Button]:
        labels = [Content(f"✕ {printable(a.label())}") for _, a in self.files]  # names are never markup
        return [Button(label, id=f"remove-{i}", compact=True) for i, label in enumerate(labels)]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.dismiss(self.files)
            return
        try:
            attachment = read_file(path, self.max_kb)
        except QwqError as exc:
            self.notify(str(exc), title="Not attached", severity="error", markup=False)
            return
        self.dismiss([*self.files, (path, attachment)])

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("remove-"):
            del self.files[int(event.button.id.removeprefix("remove-"))]
            box = self.query_one("#attached", Vertical)
            await box.remove_children()
            await box.mount_all(self._buttons())
            self.query_one("#path").focus()

    def action_close(self) -> None:
        self.dismiss(self.files)
