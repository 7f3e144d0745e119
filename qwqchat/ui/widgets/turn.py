"""One exchange on screen: the prompt, then the reasoning pane beside (or above) the answer."""

from __future__ import annotations

import time
from typing import List, Optional

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Static

from ...attachments import split
from ...mathtext import render_math
from ...notes import counted, finish_note, quick_summary, stats_line, thought_summary
from ...outline import TurningPoint, turning_points
from ...store import StoredMessage
from ...text import printable, shown
from ...types import Stats, TurnResult
from ..keys import key_for
from .answer import Answer
from .laid_out import LaidOut, LaidOutVertical, relaid
from .reasoning_pane import ReasoningPane


def versions_label(message_id: Optional[int], version: int, versions: int) -> Content:
    """ "‹ 2/3 ›" with clickable arrows, for a message with other versions; empty for one with none."""
    if message_id is None or versions < 2:
        return Content("")
    back, next_ = (f"@click=screen.version_{step}({message_id})" for step in ("back", "next"))
    return Content.from_markup(f"[{back}]‹[/] {version}/{versions} [{next_}]›[/]")


class UserMessage(Static, can_focus=True):
    """A prompt; each file attached to it folded to one line below (``attachments.split``); ‹ 2/3 › under it
    when it has other versions.  Focus it (click) to aim F4 (edit: a branch) and the version keys at it.

    A plain prompt is this one widget, as before files: a long chat mounts no more.  With files it holds
    the prompt, the folds and the versions line as children (a Static with children shows them instead of
    its own text).
    """

    def __init__(self, text: str, message_id: Optional[int] = None, version: int = 1, versions: int = 1) -> None:
        self.prompt, self.files = split(text)
        self.label = versions_label(message_id, version, versions)
        body = Content(printable(self.prompt))
        super().__init__(Content("\n").join([body, self.label]) if self.label else body)
        self.message_id = message_id
        self.prompt_text = text

    def compose(self):
        if self.files:
            from .file_fold import FileFold

            yield Static(Content(printable(self.prompt)), classes="prompt-text")
            for attachment in self.files:
                yield FileFold(attachment)
            if self.label:
                yield Static(self.label, classes="prompt-versions")


class ReasoningFold(LaidOut, Collapsible):
    """The collapsible thinking; a folded pane is only built when first opened."""

    class Contents(LaidOut, Collapsible.Contents):
        pass

    def __init__(self, text: str, title: str, collapsed: bool, final: bool = False) -> None:
        self._raw: List[str] = [text]  # as the model wrote it: what "copy the thinking" copies
        self.final = final  # the thinking is whole (finished, or loaded from the store)
        text = render_math(text, markdown=False)  # finished thinking: its math shown readable
        self.pane: Optional[ReasoningPane] = None if collapsed else ReasoningPane(text, final=final)
        self._pending_text = text if collapsed else ""
        super().__init__(*([self.pane] if self.pane else []), title=title, collapsed=collapsed)
        relaid(self._title)  # it changes while the thinking streams (the clock, the tokens)

    _quiet = False  # the next scroll_visible is one Textual asks for after a fold the app made itself

    def fold_quietly(self, collapsed: bool) -> None:
        """Fold or unfold without Textual's scroll to the fold.  After every fold Textual scrolls the
        fold into view, and so the app's own folds (the answer started, the turn ended, Ctrl+G) took
        the view up to the top of a long turn and let go of its hold on the bottom: the end of the
        answer and its stats were out of sight."""
        if self.collapsed != collapsed:
            self._quiet = self.is_mounted
            self.collapsed = collapsed

    def scroll_visible(self, *args, **kwargs) -> None:
        if self._quiet:
            self._quiet = False
            return
        super().scroll_visible(*args, **kwargs)

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        self._folded(event)

    def on_collapsible_collapsed(self, event: Collapsible.Collapsed) -> None:
        self._folded(event)

    def _folded(self, event: Collapsible.Toggled) -> None:
        """Either way (Textual also sends one for the first value, at mount): mark the turn, build a pane.
        (Textual marks the fold itself ``-collapsed``; each class changed restyles all that is inside.)"""
        if event.collapsible is not self:
            return
        collapsed = self.collapsed
        if self.parent is not None:
            self.parent.set_class(collapsed, "-folded")  # the turn lays a folded line out above the answer
        if not collapsed and self.pane is None and self.is_mounted:
            self._build_pane()

    def _build_pane(self):
        self.pane = ReasoningPane(self._pending_text, final=self.final)
        self._pending_text = ""
        return self.query_one(Collapsible.Contents).mount(self.pane)

    @property
    def raw(self) -> str:
        return printable("".join(self._raw))

    @property
    def text(self) -> str:
        """The thinking as shown (math made readable): what turning points and find offsets refer to."""
        return self.pane.text if self.pane is not None else printable(self._pending_text)

    def turning_points(self) -> List[TurningPoint]:
        return turning_points(self.text)

    async def reveal(self, offset: int) -> None:
        """Unfold (building the pane if need be) and scroll the line at ``offset`` into view."""
        self.collapsed = False
        if self.pane is None:
            await self._build_pane()
        if self.pane is not None:
            self.call_after_refresh(self.pane.scroll_to_offset, offset)

    def finish(self) -> None:
        self.final = True
        if self.pane is not None:
            self.pane.finish()

    def append(self, text: str) -> None:
        self._raw.append(text)
        if self.pane is None:
            self._pending_text += text
        else:
            self.pane.append(text)


class AssistantTurn(LaidOut, Vertical, can_focus=True):
    """A reply: streaming or finished. Focus it (click) to aim toggle/copy keys at it."""

    def __init__(self, message: Optional[StoredMessage] = None, keep_open: bool = False, clock=time.monotonic) -> None:
        streaming = message is None
        collapsed = not streaming and not keep_open
        super().__init__(classes="-folded" if collapsed else "")  # not at mount: that restyles the whole turn
        self.message = message
        self.keep_open = keep_open
        self.clock = clock
        self.started = clock()
        self.answered_at: Optional[float] = None  # when the answer began (a reply shown again keeps it)
        self.streaming = streaming
        self.reasoning_pieces = 0
        reasoning = message.reasoning if message else ""
        stats = message.stats if message else None
        title = self._thinking_title(0) if streaming else thought_summary(stats, reasoning)
        self.fold = ReasoningFold(reasoning, title, collapsed, final=not self.streaming)
        self.fold.display = self.streaming or bool(reasoning)
        self.answer = Answer(message.content if message else "")
        self.note = Static("", classes="turn-note")
        self.warning = Static("", classes="turn-warning")
        self.warning.display = False
        self.versions = Static("", classes="turn-versions")
        self.loop_repeats = 0
        self._set_note(message)

    def compose(self):
        yield self.fold
        with LaidOutVertical(classes="answer-column"):
            yield self.warning
            yield self.answer
            yield self.note
            yield self.versions

    def warn(self, repeats: int) -> None:
        self.loop_repeats = repeats
        self.warning.update(Content(f"⚠ The thinking is repeating itself ({repeats}×)"))
        self.warning.display = True

    # -- while streaming ---------------------------------------------------
    def _thinking_title(self, pieces: int) -> str:
        return f"Thinking… {self.clock() - self.started:,.0f} s · {counted(pieces, 'token')}"

    def tick(self) -> None:
        """Nothing came for a while (a long prompt being read, a slow server): the thinking's clock moves on."""
        if self.streaming and self.fold.title.startswith("Thinking"):
            self.fold.title = self._thinking_title(self.reasoning_pieces)

    async def add(self, reasoning: str, answer: str, reasoning_pieces: int) -> None:
        if reasoning:
            self.reasoning_pieces += reasoning_pieces
            self.fold.append(reasoning)
            self.fold.title = self._thinking_title(self.reasoning_pieces)
        if answer:
            if not self.answer.text and not self.fold.collapsed and not self.keep_open:
                self.fold.fold_quietly(True)  # the answer started: fold the thinking to one line
            if self.answered_at is None:
                self.answered_at = self.clock()
            if self.fold.title.startswith("Thinking"):
                thinking_s = self.answered_at - self.started
                self.fold.title = thought_summary(
                    Stats(thinking_s=thinking_s, reasoning_tokens=self.reasoning_pieces), "x"
                )
            await self.answer.append_text(answer)
        if not self.reasoning_pieces and not self.answer.text:
            return
        self.fold.display = self.reasoning_pieces > 0

    def answer_directly(self) -> None:
        """Quick: no thinking to show while the answer is awaited."""
        self.fold.display = False

    async def resume(self, reasoning: str, pieces: int, thinking_s: float) -> None:
        """Answering from saved thinking: that thinking, and the time it took, count as this turn's."""
        self.started = self.clock() - thinking_s
        await self.add(reasoning, "", pieces)

    async def finish(self, result: TurnResult, message: Optional[StoredMessage] = None) -> None:
        self.streaming = False
        self.message = message
        has_reasoning = bool(result.reasoning or self.reasoning_pieces)
        self.fold.display = has_reasoning
        self.fold.finish()
        if has_reasoning:
            self.fold.title = thought_summary(result.stats, result.reasoning or "x")
            if not self.keep_open and (self.answer.text or result.finish_reason == "stop"):
                self.fold.fold_quietly(True)
        await self.answer.finish()
        self._set_note(message, result)
        if self.loop_repeats:  # a record now, without the keys that only act while it runs
            self.warning.update(
                Content(
                    f"⚠ The thinking repeated itself ({self.loop_repeats}×) · "
                    "F10 retries with a higher presence penalty"
                )
            )

    def _set_note(self, message: Optional[StoredMessage], result: Optional[TurnResult] = None) -> None:
        finish = result.finish_reason if result else (message.finish_reason if message else None)
        answer = (result.answer if result else message.content if message else "") or self.answer.text
        error = result.error if result else message.error if message else None
        stats = result.stats if result else message.stats if message else None
        lines = []
        if stats and stats.quick and finish:
            lines.append(f"{shown(quick_summary(stats))} · {key_for('think_about_it')} Think about it")
        note = finish_note(finish, answer, shown(error) if error else error, screen=True)
        if note:
            lines.append(note)
        if stats and finish:
            lines.append(stats_line(stats))
        self.note.update(Content("\n".join(lines)))
        self.note.display = bool(lines)
        label = versions_label(message.id, message.version, message.versions) if message else Content("")
        self.versions.update(label)
        self.versions.display = bool(label)
        self.set_class(finish in ("cancelled", "interrupted", "length", "error"), "-incomplete")

    def toggle_reasoning(self) -> None:
        if self.fold.display:
            self.fold.collapsed = not self.fold.collapsed
