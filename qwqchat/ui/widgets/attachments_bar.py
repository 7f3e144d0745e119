"""The files attached to the prompt being written: one line above the prompt box, hidden when there are none.

It keeps each file's path (read again when the prompt is sent, so an edit made meanwhile is what goes)
and the copy read when it was attached (its size for the line, its tokens for the context meter).
"""

from __future__ import annotations

from typing import List, Tuple

from textual.content import Content
from textual.widgets import Static

from ...attachments import Attachment, read_file
from ...text import printable

Attached = Tuple[str, Attachment]  # the path as typed, the file as read when attached


class AttachmentsBar(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.files: List[Attached] = []
        self.display = False

    def set(self, files: List[Attached]) -> None:
        self.files = list(files)
        chips = " · ".join(printable(a.label()) for _, a in self.files)
        self.update(Content(f"📎 {chips}   (Ctrl+L to attach or remove)"))
        self.display = bool(self.files)

    def read_all(self, max_kb: int) -> List[Attachment]:
        """Each file as it is now (raises ``BadInput`` with one line for the first that cannot be sent)."""
        return [read_file(path, max_kb) for path, _ in self.files]
