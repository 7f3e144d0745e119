"""Model text made safe for a terminal."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls: ESC sequences in
# model output must never reach the terminal as commands.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Show control characters as visible symbols (ESC becomes ␛) instead of sending them."""
    return _CONTROL.sub(_symbol, text)


def _symbol(m: "re.Match[str]") -> str:
    code = ord(m.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures"
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"
