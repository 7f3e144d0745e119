"""Notice when a model's thinking has started repeating itself.

QwQ's known failure: the same sentence or paragraph comes back again and
again, back to back, until the tokens run out.  Legitimate reasoning revisits
phrases ("wait, let me check") but does not produce several identical
consecutive copies of a long span, so the test is exact: the tail of the text
must be ``repeats`` copies of one span of at least ``min_span`` characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MIN_SPAN = 24  # shorter repeats ("no no no") are not what ruins a turn
MAX_SPAN = 1500  # a repeated paragraph
CHECK_EVERY = 32  # characters between checks: cheap enough per token


@dataclass
class Loop:
    span: str
    repeats: int


def find_loop(text: str, min_repeats: int = 3, min_span: int = MIN_SPAN, max_span: int = MAX_SPAN) -> Optional[Loop]:
    """The repeated span at the end of ``text``, if the end is ``min_repeats`` copies of one.

    Candidate spans come from earlier occurrences of the last ``min_span``
    characters (a periodic tail repeats them exactly one period back), so a
    check costs a few ``rfind`` calls, not a scan over every span length.
    """
    n = len(text)
    if n < min_span * min_repeats:
        return None
    tail = text[n - min_span :]
    pos = n - min_span
    while True:
        pos = text.rfind(tail, max(0, n - min_span - max_span), pos + min_span - 1)
        if pos < 0:
            return None
        span = n - min_span - pos
        if span < min_span:
            continue
        # a short span must repeat more often to count (4 x 24-74 chars, 3 x 100+ chars)
        need = min_repeats if span >= 100 else max(min_repeats, 4)
        if n >= span * need:
            unit = text[n - span :]
            if len(set(unit)) < 8:  # rules, separators, digit runs: not a reasoning loop
                continue
            if all(text[n - (k + 1) * span : n - k * span] == unit for k in range(1, need)):
                repeats = need
                while n - (repeats + 1) * span >= 0 and text[n - (repeats + 1) * span : n - repeats * span] == unit:
                    repeats += 1
                return Loop(unit, repeats)


class LoopGuard:
    """Feed reasoning as it streams; ``feed`` returns a ``Loop`` once, when one appears."""

    def __init__(self, min_repeats: int = 3) -> None:
        self.min_repeats = min_repeats
        self._text = ""
        self._since = 0
        self.found: Optional[Loop] = None

    def feed(self, text: str) -> Optional[Loop]:
        if self.found is not None or not text:
            return None
        self._text = (self._text + text)[-(MAX_SPAN * 8) :]
        self._since += len(text)
        if self._since < CHECK_EVERY:
            return None
        self._since = 0
        self.found = find_loop(self._text, self.min_repeats)
        return self.found
