"""Writing a file whole or not at all.

A full disk or a crash mid-write must leave the old file (or none), never half
of a new one: write beside it, flush, then rename over it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import QwqError


def atomic_write(path: Path, text: str, private: bool = False) -> None:
    """Replace ``path`` with ``text``; ``private`` makes a new file 0600."""
    tmp = path.with_name(path.name + ".part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise QwqError(f"cannot write {path}: {exc.strerror or exc}") from None
