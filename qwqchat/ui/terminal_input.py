"""Bytes from the terminal that are not UTF-8 become U+FFFD instead of ending the app.

Textual's input thread decodes what the terminal sends strictly: one invalid byte (a paste of binary
text, the bytes of a lone surrogate) raised ``UnicodeDecodeError`` in that thread, and the app quit
with a traceback on the screen.  Its Linux driver looks the decoder up in its module when the thread
starts, so giving it a replacing one there is enough.
"""

from __future__ import annotations

import codecs
from functools import partial
from typing import Any


def replacing_decoder(encoding: str) -> Any:
    """``codecs.getincrementaldecoder``, with ``errors="replace"``."""
    return partial(codecs.getincrementaldecoder(encoding), errors="replace")


def tolerate_bad_bytes() -> None:
    try:
        from textual.drivers import linux_driver
    except ImportError:  # (Windows: its driver reads key events, not bytes)
        return
    if hasattr(linux_driver, "getincrementaldecoder"):
        linux_driver.getincrementaldecoder = replacing_decoder
