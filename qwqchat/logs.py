"""``qwqchat.log``: one handler for the ``qwqchat`` loggers, credentials redacted from every line.

The command line sets it up for its own process, and so does the engine's child process in the TUI
(``engines/process.serve``): without it that child's lines (the KV cache's "restored", "saved",
"evicted") were dropped, and the README's troubleshooting pointed at a log that never held them.
"""

from __future__ import annotations

import logging

from . import paths
from .text import redact


class RedactingFormatter(logging.Formatter):
    """Log lines never carry a credential from a URL or an auth header."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup() -> None:
    root = logging.getLogger("qwqchat")
    for old in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(old)  # run again in one process (tests): the log of this run's home only
        old.close()
    try:
        handler = logging.StreamHandler(paths.open_log(paths.log_dir() / "qwqchat.log"))
    except OSError:
        return
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
