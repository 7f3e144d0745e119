"""The outline of a reasoning trace: its turning points, where the model corrects or re-checks itself.

A 20,000-token trace is a wall of text; the paragraphs that open with "Wait,",
"Alternatively," or "Let me check" are where the reasoning turns.  One list of
phrases lives here (the UI marks and lists what this finds).  A paragraph is a
line of the trace (the reasoning pane shows every line break), so a phrase only
counts where it opens a line, after indentation or Markdown marks (``> ``,
``- ``, ``**``, ``1.``); in the middle of a sentence it is just a word.
"""

from __future__ import annotations

import re
from typing import Iterator, List, NamedTuple

from .text import printable

PHRASES = (
    "But wait",
    "Wait",
    "Hold on",
    "Hmm",
    "Alternatively",
    "Actually",
    "On second thought",
    "However",
    "Let me check",
    "Let me verify",
    "Let me double-check",
    "Let me re-check",
    "Let me recheck",
    "Let me reconsider",
    "Let me re-examine",
    "Let me think again",
    "Double-check",
    "Double check",
    "Oh wait",
    "No wait",
    "Oops",
)

LABEL_CHARS = 60
_PREFIX = r"[ \t]{0,8}(?:(?:>|[-*+]|\d{1,3}[.)]|#{1,6})[ \t]{1,4}){0,2}[*_]{0,3}"  # bounded: linear on any text
_PHRASE = "|".join(
    re.escape(p).replace(r"\ ", r",?[ \t]+").replace("Hmm", "Hmm+") for p in sorted(PHRASES, key=len, reverse=True)
)
_TURN = re.compile(rf"^{_PREFIX}(?P<phrase>{_PHRASE})(?![\w-])", re.I | re.M)


class TurningPoint(NamedTuple):
    offset: int  # where the phrase starts in the text searched
    end: int  # where the phrase ends (the UI marks offset..end)
    label: str  # the paragraph's first ~60 characters, on one line, safe to show


def turning_points(text: str, start: int = 0) -> List[TurningPoint]:
    """Every paragraph of ``text`` from ``start`` (a line start) on that opens with a turning phrase."""
    return list(iter_turning_points(text, start))


def iter_turning_points(text: str, start: int = 0) -> Iterator[TurningPoint]:
    for m in _TURN.finditer(text, start):
        offset = m.start("phrase")
        yield TurningPoint(offset, m.end("phrase"), label(text, offset))


def label(text: str, offset: int) -> str:
    """The line at ``offset``, cut to ~LABEL_CHARS at a word boundary."""
    end = text.find("\n", offset, offset + LABEL_CHARS + 1)
    line = text[offset : end if end >= 0 else offset + LABEL_CHARS + 1]
    if len(line) > LABEL_CHARS:
        cut = line.rfind(" ", 0, LABEL_CHARS)
        line = line[: cut if cut > LABEL_CHARS // 2 else LABEL_CHARS].rstrip(" ,;:") + "…"
    return printable(" ".join(line.split()))
