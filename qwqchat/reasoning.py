"""Split a model's streamed text into reasoning and answer.

QwQ's chat template ends the prompt with an opened ``<think>``, so the model's
output starts *inside* its thinking and usually contains only ``</think>``.
Tags are ordinary text and may arrive cut across any chunk boundary, so the
splitter holds back the few characters that could still become a tag.  It is
pure (no I/O) so every engine, local or remote, feeds it the same way.
"""

from __future__ import annotations

from typing import List, Tuple

OPEN = "<think>"
CLOSE = "</think>"

REASONING = "reasoning"
ANSWER = "answer"

Piece = Tuple[str, str]  # (REASONING | ANSWER, text)


def _held_prefix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ReasoningSplitter:
    """Feed text chunks in, get ``(kind, text)`` pieces out.

    ``starts_in_reasoning`` says whether the rendered prompt ended with an
    opened ``<think>`` (QwQ's template).  An explicit leading ``<think>`` is
    accepted either way.  Whitespace around the tags is dropped.
    """

    def __init__(self, starts_in_reasoning: bool = True, closed_by_engine: bool = False) -> None:
        self._default = REASONING if starts_in_reasoning else ANSWER
        # The engine closed the thinking itself (answer now, a budget, answering from saved thinking): a
        # ``</think>`` the model still writes is its own belated closing, never answer text.
        self.closed_by_engine = closed_by_engine
        self._mode = "start"
        self._buf = ""
        self.saw_close = False
        self.saw_reasoning = False

    @property
    def in_reasoning(self) -> bool:
        """True while the text being produced belongs to the thinking."""
        if self._mode == "start":
            return self._default == REASONING
        return self._mode == REASONING

    @property
    def unclosed(self) -> bool:
        """The model thought but never closed its thinking."""
        return self.in_reasoning and not self.saw_close

    def feed(self, text: str) -> List[Piece]:
        self._buf += text
        out: List[Piece] = []
        self._drain(out, final=False)
        return out

    def feed_reasoning(self, text: str) -> List[Piece]:
        """Reasoning that a server sent in its own field (``reasoning_content``)."""
        if not text:
            return []
        self.saw_reasoning = True
        if self._mode == "start":
            # Content that follows a reasoning field is the answer.
            self._mode = ANSWER
            self._strip_lead = True
        return [(REASONING, text)]

    def flush(self) -> List[Piece]:
        out: List[Piece] = []
        self._drain(out, final=True)
        return out

    _strip_lead = False
    _answered = False  # some answer text has been given out

    def _drain(self, out: List[Piece], final: bool) -> None:
        while True:
            if self._mode == "start":
                stripped = self._buf.lstrip()
                if not stripped and not final:
                    return
                if stripped.startswith(OPEN):
                    self._buf = stripped[len(OPEN) :]
                    self._mode = REASONING
                    self._strip_lead = True
                    continue
                if OPEN.startswith(stripped) and stripped and not final:
                    return  # might still become "<think>"
                self._buf = stripped
                self._mode = self._default
                self._strip_lead = True
                continue
            if self._strip_lead:
                self._buf = self._buf.lstrip()
                if not self._buf:
                    return
                self._strip_lead = False
            if self._mode == ANSWER:
                hold = 0
                if self.closed_by_engine:
                    at = self._buf.find(CLOSE)
                    if at >= 0:
                        if self._buf[:at]:
                            out.append((ANSWER, self._buf[:at]))
                            self._answered = True
                        self._buf = self._buf[at + len(CLOSE) :]
                        self._strip_lead = not self._answered  # the blank lines after a leading tag go too
                        continue
                    hold = 0 if final else _held_prefix(self._buf, CLOSE)
                text, self._buf = self._buf[: len(self._buf) - hold], self._buf[len(self._buf) - hold :]
                if text:
                    out.append((ANSWER, text))
                    self._answered = True
                return
            # Reasoning: look for the closing tag.
            at = self._buf.find(CLOSE)
            if at >= 0:
                before = self._buf[:at].rstrip()
                if before:
                    self.saw_reasoning = True
                    out.append((REASONING, before))
                self._buf = self._buf[at + len(CLOSE) :]
                self._mode = ANSWER
                self.saw_close = True
                self._strip_lead = True
                continue
            if final:
                text = self._buf.rstrip()
                self._buf = ""
            else:
                hold = _held_prefix(self._buf, CLOSE)
                body = self._buf[: len(self._buf) - hold]
                text = body.rstrip()
                self._buf = body[len(text) :] + self._buf[len(body) :]
            if text:
                self.saw_reasoning = True
                out.append((REASONING, text))
            return


def merge(pieces: List[Piece]) -> List[Piece]:
    """Join neighbouring pieces of the same kind (for comparing and storing)."""
    merged: List[Piece] = []
    for kind, text in pieces:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def split_text(text: str, starts_in_reasoning: bool = True) -> Tuple[str, str]:
    """Split a whole text at once: ``(reasoning, answer)``."""
    s = ReasoningSplitter(starts_in_reasoning)
    pieces = s.feed(text) + s.flush()
    reasoning = "".join(t for k, t in pieces if k == REASONING)
    answer = "".join(t for k, t in pieces if k == ANSWER)
    return reasoning, answer
