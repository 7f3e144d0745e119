"""The scrolling conversation: prompts and replies, newest at the bottom, and the pump of the streaming reply.

A long chat mounts only its last ``WINDOW`` messages, so a 200-turn chat opens
at once; earlier ones come in when the user scrolls near the top (or presses
the button there), and the text being read stays where it was on screen: the
view's own ``arrange`` moves the scroll offset by what was added above, in
the same layout pass, so no frame shows the content jump.
While a turn streams, a timer takes the worker's batch once a frame and
applies it to the reply on screen; what the rest of the screen shows
(status, loop bar, the end of the turn) it learns from this view's messages.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import List, Optional, Tuple

from textual.actions import SkipAction
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.message import Message
from textual.scrollbar import ScrollBar
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Static

from ...store import Conversation, StoredMessage
from ...types import TurnResult
from ..streamer import FRAME_S, IDLE_FRAME_S, INTERACTIVE_S, MAX_BUSY, MIN_FRAME_S, WATCH_BUSY, WATCH_MAX_S, TurnStream
from .laid_out import LaidOut

WINDOW = 12  # messages mounted when a conversation opens
EARLIER = 6  # messages mounted each time the user reaches the top
# Of those, messages mounted per frame.  All of them: every frame that mounts pays a layout of the whole
# mounted chat, so one message a frame measured worse (benchmarks/open_long_chat.py: longest stall 314 ms
# against 372 ms, p99 218 ms against 47 ms, position kept 7/10 against 10/10 loads).
STEP = EARLIER
FRAME_WAIT_S = 1.0  # the longest a load waits for the frame that shows it
TICK_S = 1.0  # while nothing arrives, the thinking's "Thinking… 12 s" moves on this often


class ConversationView(LaidOut, VerticalScroll):
    class Progress(Message):
        """The streaming turn's phase and rate, for the status line."""

        def __init__(self, activity: str) -> None:
            super().__init__()
            self.activity = activity

    class LoopWarned(Message):
        """The thinking repeats itself: the screen shows the keys that act on it."""

        def __init__(self, repeats: int) -> None:
            super().__init__()
            self.repeats = repeats

    class Woken(Message):
        """The worker has news that is shown at once (the first piece, the end): the pump ticks again."""

    class TurnEnded(Message):
        """The worker is done; ``turn`` is the reply it streamed into while that was on screen."""

        def __init__(self, stream: TurnStream, turn, result: TurnResult) -> None:
            super().__init__()
            self.stream = stream
            self.turn = turn
            self.result = result

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep_open = False
        self.clock = time.monotonic
        self.frame_s = FRAME_S
        self.idle_frame_s = IDLE_FRAME_S
        self._applied_at = -math.inf  # time.monotonic() of the last frame that applied a batch
        self._cpu_at_apply = 0.0  # the UI thread's CPU time then
        self._ticked_at = -math.inf  # when the streaming turn's clock last moved with nothing new to show
        self._pumped_at = 0.0  # time.monotonic() when the stream began: the keys that sent it do not count as use
        self.stream: Optional[TurnStream] = None  # until the screen has settled its end
        self.streaming_turn = None  # the AssistantTurn being streamed into, while it is on screen
        self._pump_timer: Optional[Timer] = None
        self._alarm: Optional[Timer] = None  # ends the pump's doze (``_doze``)
        self._hidden: List[StoredMessage] = []
        self._loading = False
        self._built = 0  # how many chats this view has built: a load asked for under one is not run under the next
        self._building = False
        self._keep: Optional[Tuple[Widget, int]] = None  # (child, its offset from the top) held while loading
        self._arranged: Optional[DockArrangeResult] = None

    def _widget_for(self, m: StoredMessage):
        from .turn import AssistantTurn, UserMessage  # Markdown is imported on first use, not at launch

        if m.role == "user":
            return UserMessage(m.content, m.id, m.version, m.versions)
        return AssistantTurn(m, keep_open=self.keep_open, clock=self.clock)

    async def show(self, conv: Optional[Conversation], empty_text: str = "") -> None:
        from .turn import AssistantTurn, UserMessage

        pacer = getattr(self.app, "gc_pacer", None)
        if pacer is None or not any(isinstance(w, (AssistantTurn, UserMessage)) for w in self.children):
            await self._show(conv, empty_text)  # (the first chat shown at launch: nothing to free)
        else:
            async with pacer.collecting():  # the closed chat is freed while this one is built
                await self._show(conv, empty_text)
        # the frames' budget while only watched is for painting the reply: building a long chat it streams in
        # (back from another) held its next frames up to WATCH_MAX_S apart
        self._cpu_at_apply = time.thread_time()

    async def _show(self, conv: Optional[Conversation], empty_text: str) -> None:
        self._built += 1
        self._building = True  # (taking the last chat down scrolls the view up: that asks for no earlier messages)
        try:
            await self._build(conv, empty_text)
        finally:
            self._building = False

    async def _build(self, conv: Optional[Conversation], empty_text: str) -> None:
        streaming_here = self.stream is not None and conv is not None and self.stream.conversation_id == conv.id
        if not streaming_here:
            self.streaming_turn = None  # it keeps streaming into the store in the background
        await self.remove_children()
        self._arranged = None  # (it held the closed chat's widgets)
        messages = conv.messages if conv else []
        self._hidden = messages[:-WINDOW] if len(messages) > WINDOW else []
        shown = messages[len(self._hidden) :]
        widgets: list = []
        if self._hidden:
            widgets.append(Button(f"↑ {len(self._hidden)} earlier messages", id="load-earlier", variant="default"))
        if not messages:
            widgets.append(Static(empty_text, id="empty-hint"))
        widgets += [self._widget_for(m) for m in shown]
        await self.mount_all(widgets)
        self.scroll_end(animate=False, immediate=True)
        self.anchor()
        last = self.last_turn()
        if streaming_here and last is not None and last.message is not None and last.message.streaming:
            await last.remove()  # its saved part (up to a second old): the stream goes on into a fresh reply,
            await self._resume_stream()  # which first shows all the stream has brought so far

    async def _resume_stream(self) -> None:
        stream = self.stream
        assert stream is not None
        turn = self.streaming_turn = await self.add_reply()
        if stream.started is not None:
            turn.started = stream.started
        turn.answered_at = stream.answered_at
        if stream.loop_repeats:  # (its warning, and at its end "the thinking repeated itself")
            turn.warn(stream.loop_repeats)
        if not stream.think:
            turn.answer_directly()
        reasoning, answer = "".join(stream.taken_reasoning), "".join(stream.taken_answer)
        if reasoning or answer:
            await turn.add(reasoning, answer, stream.reasoning_pieces)

    def _removed_many(self) -> None:
        """Messages left the screen: the memory they held is reclaimed at the user's next pause (ui/gc_pacer.py)."""
        pacer = getattr(self.app, "gc_pacer", None)
        if pacer is not None:
            pacer.thaw_soon()

    async def load_earlier(self) -> None:
        """Mount up to ``EARLIER`` hidden messages above, ``STEP`` a frame, the text on screen kept in place."""
        # (no button: the chat is being built, and a scroll while the last one was taken down asked for this)
        button = next(self.query("#load-earlier").results(Button), None)
        if not self._hidden or self._loading or button is None:
            return
        self._loading = True
        try:
            batch, self._hidden = self._hidden[-EARLIER:], self._hidden[:-EARLIER]
            while batch and button.is_attached:  # (another chat opened meanwhile: stop)
                part, batch = batch[-STEP:], batch[:-STEP]
                self._keep = self._reading_position()
                await self.mount_all([self._widget_for(m) for m in part], after=button)
                if batch:
                    await self._next_frame()
            if not button.is_attached:
                return
            if self._hidden:
                button.label = f"↑ {len(self._hidden)} earlier messages"
            else:
                self._keep = self._reading_position()
                await button.remove()
            await self._next_frame()
        finally:
            self._keep = None
            self._loading = False

    @property
    def loading_earlier(self) -> bool:
        return self._loading

    def _reading_position(self) -> Optional[Tuple[Widget, int]]:
        """The first message on screen (the button above them aside) and how far below the top of the view it is.

        Read from the view's last arrangement: asking each child for its region would make the compositor
        map every widget of the chat, on screen or not."""
        top = round(self.scroll_y)
        for placement in self._arranged.placements if self._arranged is not None else ():
            widget, region = placement.widget, placement.region
            if widget.id != "load-earlier" and region.bottom > top:
                return widget, region.y - top
        return None

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Lay out as usual; while earlier messages come in above, scroll by what they add (this same pass)."""
        result = self._arranged = super().arrange(size, optimal)
        self._hold_anchor_while_short(result.spatial_map.total_region.bottom <= size.height)
        if self._keep is not None:
            widget, offset = self._keep
            for placement in result.placements:
                if placement.widget is widget:
                    y = max(0, placement.region.y - offset)
                    self.set_reactive(Widget.scroll_y, y)
                    self.set_reactive(Widget.scroll_target_y, y)
                    self.vertical_scrollbar.set_reactive(ScrollBar.position, y)
                    break
        return result

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:
        """As ``LaidOut``, with no second layout pass; Textual before 8 caps the anchor's scroll at the end of the
        last pass's height, so the view follows the end here (Textual 8 has it there already)."""
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        if self._anchored and not self._anchor_released and self.scroll_y < self.max_scroll_y:
            self.scroll_target_y = self.scroll_y = self.max_scroll_y
        return resized

    _short = False  # the anchor waits because the chat is shorter than the view

    def _hold_anchor_while_short(self, short: bool) -> None:
        """Textual 8 scrolls an anchored view whose content is shorter than itself to a negative offset
        (textual #6652): the chat was drawn at the bottom under blank rows while a first reply started, and
        after its thinking folded.  While the chat is that short the anchor waits (there is nothing to follow);
        it holds again as soon as the chat is taller than the view."""
        if short and self._anchored and not self._anchor_released:
            self._anchor_released = self._short = True
        elif not short and self._short:
            self._short = self._anchor_released = False
        if short and self.scroll_y < 0:
            self.set_reactive(Widget.scroll_y, 0)
            self.set_reactive(Widget.scroll_target_y, 0)

    async def _next_frame(self) -> None:
        """Return once the screen has laid out and painted what was mounted (the loop runs meanwhile)."""
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        def painted() -> None:
            if not done.done():
                done.set_result(None)

        # through the screen: this view's own queue may be the one waiting (load_earlier runs in its handlers)
        self.screen.call_after_refresh(painted)
        self.refresh()  # something to paint, so the screen does refresh
        try:
            await asyncio.wait_for(done, FRAME_WAIT_S)
        except asyncio.TimeoutError:  # never hold the view's queue for good on a frame that did not come
            pass

    def action_page_up(self) -> None:
        """Not animated: an animation heads for where the top was when it started, and each load of earlier
        messages above moves the text down, so one PageUp near the top loaded the whole chat."""
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_page_up(animate=False)

    def action_scroll_up(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_up(animate=False)  # (as PageUp)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.size.height and self._hidden and not self._loading:
            if not self._building:  # near the top, scrolling up: the next messages come in
                self.call_later(self._load_earlier_in, self._built)

    async def _load_earlier_in(self, built: int) -> None:
        if built == self._built and not self._building:  # (the chat it was asked for is still the one shown)
            await self.load_earlier()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-earlier":
            event.stop()
            await self.load_earlier()

    async def add_user(self, text: str, message_id: Optional[int], version: int = 1, versions: int = 1):
        from .turn import UserMessage

        for hint in self.query("#empty-hint"):
            await hint.remove()
        widget = UserMessage(text, message_id, version, versions)
        await self.mount(widget)
        self.anchor()
        return widget

    async def add_reply(self):
        from .turn import AssistantTurn

        turn = AssistantTurn(None, keep_open=self.keep_open, clock=self.clock)
        await self.mount(turn)
        self.anchor()
        return turn

    def turns(self) -> list:
        from .turn import AssistantTurn

        return list(self.query_children(AssistantTurn))

    def last_turn(self):
        turns = self.turns()
        return turns[-1] if turns else None

    def target_turn(self, focused):
        """The reply holding ``focused`` (a click aims the fold and copy keys at it), else the last one."""
        from .turn import AssistantTurn

        while focused is not None and not isinstance(focused, AssistantTurn):
            focused = focused.parent
        return focused if isinstance(focused, AssistantTurn) else self.last_turn()

    # -- versions ------------------------------------------------------------------------
    @staticmethod
    def message_id_of(widget) -> Optional[int]:
        """The stored message a prompt or reply widget shows (None: not one, or still streaming)."""
        from .turn import AssistantTurn, UserMessage

        if isinstance(widget, UserMessage):
            return widget.message_id
        if isinstance(widget, AssistantTurn) and widget.message is not None:
            return widget.message.id
        return None

    def target_message(self, focused) -> Optional[int]:
        """The prompt or reply holding ``focused``, else the last reply (the version keys act on it)."""
        while focused is not None and focused is not self:
            if self.message_id_of(focused) is not None:
                return self.message_id_of(focused)
            focused = focused.parent
        last = self.last_turn()
        return self.message_id_of(last) if last is not None else None

    async def show_from(self, message_id: int, messages: List[StoredMessage]):
        """Replace the widget of ``message_id`` and all below it by ``messages`` (the path from there,
        after paging to another version); the first new widget, or None when that message is not shown."""
        children = list(self.children)
        at = next((i for i, w in enumerate(children) if self.message_id_of(w) == message_id), None)
        if at is None or not messages:
            return None
        await self.remove_children(children[at:])
        self._removed_many()
        widgets = [self._widget_for(m) for m in messages]
        await self.mount_all(widgets)
        return widgets[0]

    def toggle_all_reasoning(self) -> None:
        turns = [t for t in self.turns() if t.fold.display]
        if turns:
            collapse = not all(t.fold.collapsed for t in turns)
            for t in turns:
                t.fold.fold_quietly(collapse)

    # -- the streaming reply -----------------------------------------------------------
    def pump(self, stream: TurnStream, turn) -> None:
        """Apply ``stream`` to ``turn`` once a frame until it ends."""
        self.stream, self.streaming_turn = stream, turn
        stream.started = turn.started
        self._applied_at, self._pumped_at = -math.inf, time.monotonic()  # the first piece is shown at once
        self._pump_timer = self.set_interval(self.frame_s, self._pump, name="pump")
        stream.on_news = lambda: self.post_message(self.Woken())  # (from the worker's thread: post_message is safe)

    def wake(self) -> None:
        """Tick a frame again: a key or the mouse was used, or the worker has news."""
        self._stop_alarm()
        if self._pump_timer is not None:
            self._pump_timer.resume()

    def _stop_alarm(self) -> None:
        if self._alarm is not None:
            self._alarm.stop()
            self._alarm = None

    def on_conversation_view_woken(self, message: "ConversationView.Woken") -> None:
        message.stop()
        self.wake()

    def _doze(self, seconds: float) -> None:
        """Nobody uses the screen: no tick for ``seconds``, unless a key or the worker's news (``wake``) comes
        first.  Ticking 30 times a second to find nothing to do woke the app as often, each time taking a core
        from the model's threads."""
        timer = self._pump_timer
        if timer is None:
            return
        timer.pause()
        self._stop_alarm()
        self._alarm = self.set_timer(max(seconds, self.frame_s), self._ring, name="pump-alarm")

    def _ring(self) -> None:
        self._alarm = None  # (it is the timer running this: not stopped, which would cancel this call)
        self.wake()

    def end_stream(self, stream: TurnStream) -> None:
        """The screen has settled ``stream``'s end: from now on "not streaming" holds."""
        if stream is self.stream:
            self.stream = None
            self.streaming_turn = None

    async def _pump(self) -> None:
        """Apply what the worker produced since the last frame."""
        stream, timer = self.stream, self._pump_timer
        if stream is None or timer is None:
            return
        now = time.monotonic()  # not self.clock: tests may freeze that one
        last_input = getattr(self.app, "last_input", 0.0)
        used = self._pumped_at < last_input and now - last_input <= INTERACTIVE_S  # the Enter that sent it: not use
        since, cpu = now - self._applied_at, time.thread_time()
        if not (stream.ended or stream.behind):
            if not used:  # nobody is typing or scrolling: a frame a second (fewer when frames cost more) leaves the
                # cores to the model
                wait = max(self.idle_frame_s, min(WATCH_MAX_S, (cpu - self._cpu_at_apply) / WATCH_BUSY))
                if since < wait:
                    self._doze(wait - since)
                    return
            if used and since < MIN_FRAME_S and cpu - self._cpu_at_apply > MAX_BUSY * since:
                return  # the last frames were heavy: let the stream and the keys have the time
        batch = stream.take()
        turn = self.streaming_turn
        turn = turn if turn is not None and turn.is_attached else None
        if not batch:  # (the first piece is shown in the frame it arrives in; the wait counts from there)
            if turn is not None and now - self._ticked_at >= TICK_S:
                self._ticked_at = now
                turn.tick()
            if not used:
                self._doze(min(TICK_S, self.idle_frame_s))  # what comes meanwhile waits as for a frame
            return
        self._applied_at, self._cpu_at_apply = now, cpu
        if batch.dropped_turns:
            self.notify(f"{batch.dropped_turns} oldest turn(s) left out to fit the context", timeout=5)
        if batch.loop is not None:
            stream.loop_repeats = batch.loop.repeats
            if turn is not None:
                turn.warn(batch.loop.repeats)
            self.post_message(self.LoopWarned(batch.loop.repeats))
        if (batch.reasoning_pieces or batch.answer_pieces) and stream.first_piece_at is None:
            stream.first_piece_at = self.clock()
        if batch.answer_pieces and stream.answered_at is None:
            stream.answered_at = self.clock()
        stream.reasoning_pieces += batch.reasoning_pieces
        stream.answer_pieces += batch.answer_pieces
        if turn is not None and (batch.reasoning or batch.answer):
            await turn.add("".join(batch.reasoning), "".join(batch.answer), batch.reasoning_pieces)
        if batch.result is not None:
            self.post_message(self.TurnEnded(stream, turn, batch.result))
            self._pump_timer = None
            self._stop_alarm()
            timer.stop()  # last: stopping a timer cancels the callback it is running
            return
        if turn is None:
            return  # another chat is on screen: its status line is not this reply's
        elapsed = self.clock() - (stream.first_piece_at or self.clock())
        total = stream.reasoning_pieces + stream.answer_pieces
        rate = f" · {total / elapsed:.1f} tok/s" if elapsed > 0.2 else ""
        phase = "answering" if stream.answer_pieces else "thinking"
        self.post_message(self.Progress(f"{phase}{rate}"))
