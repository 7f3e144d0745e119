"""The chat screen: chat list, conversation, prompt and status line, and every chat action with its key.

The app around it owns what outlives a chat (theme, the model and its loading,
the first-run screen); this screen owns the open chat, the turn being sent and
the keys of ``ui/keys.py``.  Dialogs are imported when first used.
"""

from __future__ import annotations

from typing import List, Optional

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, ListView, Static, TextArea

from ... import quick
from ...attachments import check_fits, count_tokens, with_files
from ...engines.base import Engine
from ...errors import QwqError
from ...types import Sampling
from ..editing import Editing
from ..keys import KEYS, bindings
from ..streamer import TurnStream
from ..widgets.attachments_bar import Attached, AttachmentsBar
from ..widgets.conversation import ConversationView
from ..widgets.prompt import PromptBox
from ..widgets.sidebar import Sidebar
from ..widgets.status_line import StatusLine
from .chat_actions import ELSEWHERE, EMPTY_HINT, ChatActions

WIDE = 120  # columns from which the reasoning sits beside the answer

LOOP_KEYS = "Esc stop · F9 answer now · F10 retry with a higher presence penalty"


class ChatScreen(ChatActions):
    BINDINGS = bindings(KEYS)
    AUTO_FOCUS = "#prompt"  # not the first focusable (the chat filter): keys typed at launch go to the prompt
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(lambda: self.host.store, id="sidebar")
            with Vertical(id="chat"):
                self.view.keep_open = self.host.cfg.keep_reasoning_open
                self.view.idle_frame_s = 1 / self.host.cfg.watch_fps
                self.view.clock = self.host.clock
                yield self.view
                yield Static("", id="loop-bar", classes="turn-warning")  # in sight whatever the view shows
                yield AttachmentsBar(id="attachments")
                yield PromptBox(id="prompt")
                yield StatusLine(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.prompt.focus()
        self.query_one("#loop-bar").display = False
        await self.view.show(None, EMPTY_HINT)
        self.load_prompt_history()
        self.host.chat_shown()

    # -- sending -------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """Typing while a turn, a prompt or the chat list has the focus (after a click, paging, a dialog) goes
        to the prompt box: no keystroke is lost."""
        # (a space acts on a focused turn or fold; in the chat list it means nothing, and was lost)
        space_acts = event.character == " " and not isinstance(self.focused, ListView)
        if event.is_printable and event.character and not space_acts:
            if not isinstance(self.focused, (TextArea, Input)):
                self.prompt.focus()
                self.prompt.insert(event.character)
                event.stop()

    async def on_prompt_box_submitted(self, message: PromptBox.Submitted) -> None:
        await self.send(message.text)

    def on_prompt_box_paged_out(self, message: PromptBox.PagedOut) -> None:
        if message.key == "pageup":
            self.view.scroll_page_up()
        else:
            self.view.scroll_page_down()

    async def send(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        app = self.host
        if self.stream is not None:
            self.notify(self._still_answering(), severity="warning")
            return
        if app.retry_server():  # it could not be reached: try again, the prompt stays in the box meanwhile
            self.notify("Connecting to the server again; press Enter once it is ready", timeout=5)
            return
        if app.engine is None or app.engine_error:
            self.notify(app.engine_error or "no model", title="Cannot send", severity="error")
            return
        if self._answering(self.think) is None:  # refused before anything is saved: the prompt stays in the box
            return
        message = self._with_files(text)
        if message is None:
            return
        editing, self.editing = self.editing, None
        if self.conversation is None:
            cid = app.store.create_conversation(
                model=app.engine.name, system_prompt=app.cfg.system_prompt, settings=app.cfg.sampling.to_dict()
            )
            self.conversation = app.store.get(cid)
        versions = 1
        if editing is not None and editing.conversation_id == self.conversation.id:
            mid, versions = await editing.branch(app.store, message)  # the old prompt and what followed it stay
        else:
            mid = app.store.add_user_message(self.conversation.id, message)
        self.prompt.remember(text)
        self.prompt.text = ""
        self._attached([])  # sent with this prompt
        await self.view.add_user(message, mid, versions, versions)
        self.sidebar.refresh_list(select=self.conversation.id)
        if app.engine_ready:
            await self._start_turn()
        else:
            self.pending_send = True
            self.notify("Sent as soon as the model has loaded", timeout=3)

    async def model_loaded(self) -> None:
        if self.pending_send:
            await self._start_turn()
            self.pending_send = False  # only now: until the stream exists, the send is still pending
        else:
            self._warm()  # the chat shown at launch

    def _answering(self, think: bool) -> Optional[Engine]:
        """The engine for a message sent in this mode, or None after saying in one line why there is none."""
        assert self.host.engine is not None
        try:
            return quick.route(self.host.engine, self.host.fast_engine, think)
        except QwqError as exc:
            self.notify(str(exc), severity="warning")
            return None

    async def _start_turn(
        self,
        answer_from_thinking: bool = False,
        think: Optional[bool] = None,
        new_version: bool = False,
        sampling: Optional[Sampling] = None,
    ):
        app = self.host
        assert app.engine is not None and self.conversation is not None
        think = answer_from_thinking or (self.think if think is None else think)
        engine = self._answering(think)
        if engine is None:
            return None
        turn = await self.view.add_reply()
        if not think:
            turn.answer_directly()
        stream = TurnStream(
            engine,
            app.store,
            self.conversation.id,
            sampling or self.sampling(),
            answer_from_thinking=answer_from_thinking,
            think=think,
            new_version=new_version,
        )
        self.status.show(activity="thinking…" if think else "answering…")
        app.run_worker(stream.run, thread=True, group="turn", exit_on_error=False)
        self.view.pump(stream, turn)
        self.prompt.steady(True)
        return turn

    def on_conversation_view_progress(self, message: ConversationView.Progress) -> None:
        self.status.show(activity=message.activity)

    def on_conversation_view_loop_warned(self, message: ConversationView.LoopWarned) -> None:
        self._show_loop()

    async def open_conversation(self, conversation_id: Optional[int]) -> None:
        await super().open_conversation(conversation_id)
        self._show_loop()

    def _show_loop(self) -> None:
        """The loop bar, in the chat whose reply loops only: its keys act on that reply (in another chat they are
        refused, and a new chat showed the other's warning)."""
        stream = self.stream
        repeats = stream.loop_repeats if stream is not None and not self._streams_elsewhere() else 0
        bar = self.query_one("#loop-bar", Static)
        if repeats:
            bar.update(f"⚠ The thinking is repeating itself ({repeats}×): {LOOP_KEYS}")
        bar.display = bool(repeats)

    async def on_conversation_view_turn_ended(self, message: ConversationView.TurnEnded) -> None:
        """Settle the turn on screen; the view's stream is cleared last, so "not streaming" means done."""
        stream, turn, result = message.stream, message.turn, message.result
        self.query_one("#loop-bar").display = False  # its keys act on a running turn only
        store = self.host.store
        same_chat = self.conversation is not None and self.conversation.id == stream.conversation_id
        if same_chat:
            self.conversation = store.get(stream.conversation_id)
        if turn is not None and turn.is_attached:
            await turn.finish(result, self.conversation.messages[-1] if same_chat and self.conversation else None)
        s = result.stats
        rate = f" · {s.decode_tokens_per_s:.1f} tok/s" if s.decode_tokens_per_s else ""
        if same_chat:  # (another chat's end is not this one's: its line said "100 / 32,768 tokens · stop")
            self._show_engine()  # (a Quick turn has loaded the fast profile's model: its name and context now)
            self.status.show(
                context_used=s.context_used or self.status.context_used, activity=f"{result.finish_reason}{rate}"
            )
        elif self.status.activity == ELSEWHERE:
            self.status.show(activity="ready")
        if result.finish_reason == "error":
            self.notify(result.error or "generation failed", severity="error", timeout=10)
        self.sidebar.refresh_list(select=self.conversation.id if self.conversation else None)
        self.view.end_stream(stream)
        self.prompt.steady(False)
        after, self._after_turn = self._after_turn, None
        if after is not None:
            await after()  # before the count: a test waiting for the turn sees the follow-up's stream
        self.turns_finished += 1

    # -- actions (keys in ui/keys.py) ------------------------------------------------------
    def action_stop(self) -> None:
        """Esc stops the shown chat's reply, not one streaming in another chat (it was stopped unseen)."""
        if self.stream is None:
            self._cancel_edit()
        elif not self._refused_elsewhere():
            self.stream.stop()
            self.status.show(activity="stopping…")

    async def action_new_chat(self) -> None:
        await self.open_conversation(None)
        self.query_one("#chat-list", ListView).index = None

    async def action_regenerate(self) -> None:
        await self._regenerate()

    async def _regenerate(self, sampling: Optional[Sampling] = None, think: Optional[bool] = None) -> bool:
        """A new version of the last reply, chosen beside the old one (paging brings that back), run with
        ``sampling`` (default: the chat's), in the current mode or thinking or not as ``think`` says.
        Ctrl+R, F10 and F7 (Think about it) come here; False when it could not start."""
        # (another chat's reply: a new one waited behind it, which then could not be stopped)
        if not self._idle_chat("regenerate") or self.conversation is None or self._refused_elsewhere():
            return False
        app = self.host
        messages = self.conversation.messages
        if not messages or messages[-1].role != "assistant":
            self.notify("No reply to regenerate", severity="warning")
            return False
        if app.engine is None or app.engine_error or not app.engine_ready:
            self.notify(app.engine_error or "The model is still loading", severity="warning")
            return False
        if self._answering(self.think if think is None else think) is None:
            return False
        last = self.view.last_turn()
        if last is not None:
            await last.remove()
        await self._start_turn(think=think, new_version=True, sampling=sampling)
        return True

    async def action_think_about_it(self) -> None:
        """After a Quick answer: the same prompt again, thinking, as a new version of the reply."""
        last = self.messages()[-1] if self.messages() else None
        if last is None or last.role != "assistant" or not (last.stats and last.stats.quick):
            self.notify("Think about it follows a Quick answer: the last reply is not one", severity="warning")
            return
        await self._regenerate(think=True)

    def action_toggle_quick(self) -> None:
        """Think or Quick; the status line names the model the next prompt goes to: Quick's own, if it has one."""
        self.think = not self.think
        self.status.show(mode="Think" if self.think else "Quick")
        self._show_engine()

    def _show_engine(self) -> None:
        """The model the next prompt goes to on the status line: Quick's own (once loaded: where it runs and
        its context), or the main one."""
        app = self.host
        if app.engine is None or app.engine_error or not app.engine_ready:
            return  # (the line says why there is no model, or that it loads)
        engine = app.fast_engine if not self.think and app.fast_engine is not None else app.engine
        self.status.show(model=engine.name, where=engine.describe(), context_size=engine.context_size)

    async def action_answer_now(self) -> None:
        """While thinking: end it now.  After a reply stopped while thinking: answer from that thinking."""
        app = self.host
        if app.engine is None or not getattr(app.engine, "can_end_thinking", False):
            self.notify("Ending the thinking needs the local engine; a remote server cannot do it", severity="warning")
            return
        if self._refused_elsewhere():
            return
        if self.stream is not None:
            if self.stream.answer_pieces or not self.stream.think:  # a Quick turn has no thinking to end
                self.notify("The model is already answering", severity="warning")
                return
            self.stream.end_thinking.set()
            self.status.show(activity="ending the thinking…")
            return
        last = self.messages()[-1] if self.messages() else None
        if last is None or not last.stopped_while_thinking:
            self.notify("Nothing to answer: the last reply did not stop while thinking", severity="warning")
            return
        if not app.engine_ready:
            self.notify("The model is still loading", severity="warning")
            return
        old = self.view.last_turn()
        if old is not None:
            await old.remove()
        turn = await self._start_turn(answer_from_thinking=True)
        assert turn is not None  # answering from thinking always thinks: never refused
        stats = last.stats
        await turn.resume(last.reasoning, stats.reasoning_tokens if stats else 0, stats.thinking_s if stats else 0.0)

    async def action_retry_with_penalty(self) -> None:
        """Stop (if needed) and regenerate the last reply with a higher presence penalty."""
        if self.conversation is None or self._refused_elsewhere():
            return
        if self.stream is not None:
            self._after_turn = self._retry_with_penalty  # on the stopped turn's TurnEnded
            self.stream.stop()
            return
        await self._retry_with_penalty()

    async def _retry_with_penalty(self) -> None:
        if self.conversation is None:
            return
        store = self.host.store
        sampling = self.sampling()
        penalty = min(2.0, max(1.0, sampling.presence_penalty + 0.5))
        sampling = sampling.merged(presence_penalty=penalty)
        store.update_settings(
            self.conversation.id, system_prompt=self.conversation.system_prompt, settings=sampling.to_dict()
        )
        self.conversation = store.get(self.conversation.id)
        self.notify(f"Retrying with presence penalty {penalty:.1f}")
        await self._regenerate()

    async def action_edit_last(self) -> None:
        """Put the focused (or last) prompt back in the box; it and what follows are hidden until the edit
        is sent as a new branch beside it (nothing is deleted), and shown again by Esc."""
        if self.editing is not None:
            return
        focused = self.view.target_message(self.focused)  # a prompt, or a reply (then its prompt)
        if not self._idle_chat("edit") or self.conversation is None:
            return
        self.editing = Editing.begin(self.conversation, self.view, self.prompt, focused)
        if self.editing is not None:
            self.prompt.focus()
            self.notify(
                "Enter sends the edited prompt as a new branch (the old one stays: Alt+←); Esc keeps it", timeout=5
            )

    # -- versions (‹ 2/3 ›) -------------------------------------------------------------
    def action_version_back(self, message_id: Optional[int] = None) -> None:
        self.call_later(self._page, message_id, -1)  # after the click: its widget is one paging removes

    def action_version_next(self, message_id: Optional[int] = None) -> None:
        self.call_later(self._page, message_id, +1)

    async def _page(self, message_id: Optional[int], step: int) -> None:
        """Show the previous/next version of a prompt or reply (a click's, else the focused or last one),
        and below it the path as it was last chosen there."""
        if message_id is None:
            message_id = self.view.target_message(self.focused)
        if not self._idle_chat("page") or self.conversation is None or message_id is None:
            return
        store = self.host.store
        path = self.conversation.messages
        at = next((i for i, m in enumerate(path) if m.id == message_id), None)
        if at is None or path[at].versions < 2:
            self.notify("This has no other version", severity="warning")
            return
        goal = path[at].version - 1 + step
        siblings = store.siblings(message_id)
        if not 0 <= goal < len(siblings):
            self.notify("No earlier version" if step < 0 else "No later version", severity="warning")
            return
        store.choose(siblings[goal].id)
        self.conversation = store.get(self.conversation.id)
        widget = await self.view.show_from(message_id, self.conversation.messages[at:])
        if widget is not None:
            widget.focus()  # the next press pages the same place

    # -- files in the prompt (attachments.py does the reading and formatting) -------------------
    @property
    def attachments(self) -> AttachmentsBar:
        return self.query_one(AttachmentsBar)

    def action_attach(self) -> None:
        from .attach import AttachDialog

        self.app.push_screen(AttachDialog(self.attachments.files, self.host.cfg.attach_max_kb), self._attached)

    def _attached(self, files: Optional[List[Attached]]) -> None:
        """Show the files attached now, and count their tokens into the context meter before anything is sent."""
        self.attachments.set(files or [])
        blocks = with_files("", [a for _, a in self.attachments.files])
        self.status.show(attached=count_tokens(self.host.engine, blocks) if blocks else 0)

    def _with_files(self, prompt: str) -> Optional[str]:
        """The message to send: the prompt and its files as they are now; None (and one line) if it cannot go."""
        system = self.conversation.system_prompt if self.conversation else self.host.cfg.system_prompt
        try:
            message = with_files(prompt, self.attachments.read_all(self.host.cfg.attach_max_kb))
            check_fits(self.host.engine, message, system, self.sampling().max_tokens)
        except QwqError as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=10)
            return None
        return message
