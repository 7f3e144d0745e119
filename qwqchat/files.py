"""Writing a file whole or not at all.

A full disk or a crash mid-write must leave the old file (or none), never half
of a new one: write beside it, flush, then rename over it.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import unicodedata
from pathlib import Path

from .errors import BadInput, QwqError


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


SLUG_CHARS = 40
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}


def slug(title: str, limit: int = SLUG_CHARS) -> str:
    """A title as part of a file name that every filesystem takes: ASCII letters, digits and single
    hyphens (accents folded, separators, dots, control characters and NUL dropped), at most ``limit``
    characters, never empty ("chat") and never a name Windows reserves."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].rstrip("-")
    return "chat" if not text else f"{text}-chat" if text in _WINDOWS_RESERVED else text


def inside(root: Path, path: Path) -> Path:
    """``path``, refused unless it resolves (links followed) to somewhere within ``root``."""
    real_root, real = root.resolve(), path.resolve()
    if real != real_root and real_root not in real.parents:
        raise QwqError(f"refusing to write {path}: it is outside {root}")
    return path


def write_output(name: str, text: str, force: bool = False) -> None:
    """Write where the user pointed: ``-`` is stdout, a pipe or device is written through,
    a symlink is followed; an existing file is replaced (atomically) only with ``force``."""
    if name == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(name).expanduser()
    try:
        mode = path.stat().st_mode  # follows links
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise QwqError(f"cannot write {name}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise BadInput(f"{name} is a directory")
    if mode is not None and not stat.S_ISREG(mode):  # /dev/stdout, a named pipe, a terminal
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise QwqError(f"cannot write {name}: {exc.strerror or exc}") from None
        return
    if mode is not None and not force:
        raise BadInput(f"{name} exists; add --force to overwrite it")
    atomic_write(path.resolve() if path.is_symlink() else path, text)
