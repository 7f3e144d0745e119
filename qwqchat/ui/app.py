"""The qwqchat Textual app: sidebar, conversation, prompt, status line.

It drives the core and nothing else: the engine runs in a worker thread
(``TurnStream``), the store saves as text arrives, and the app only applies
coalesced batches to widgets.  Widgets and screens not on the first frame
(turns with their Markdown, dialogs) are imported when first used, which keeps
launch-to-first-frame close to a bare Textual app's.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ListView, Static

from .. import config as config_mod
from ..engines.base import Engine, Sampling
from ..errors import QwqError
from ..store import Conversation, Store
from ..text import shown
from .keys import KEYS, bindings, key_text
from .messages import ModelFailed, ModelLoaded
from .streamer import FRAME_S, TurnStream
from .widgets.conversation import ConversationView
from .widgets.prompt import PromptBox
from .widgets.sidebar import Sidebar
from .widgets.status_line import StatusLine

GET_MODEL = "Get a model…"  # the palette's way back to the first-run screen
WIDE = 120  # columns from which the reasoning sits beside the answer
EMPTY_HINT = (
    "Ask anything. The model thinks before it answers: its reasoning streams beside the answer (above it "
    "in a narrow terminal) and folds to one line when the answer starts.\nF1 lists every key."
)


@dataclass
class Editing:
    conversation_id: int
    message_ids: List[int]  # the last prompt and everything after it, deleted when the edit is sent
    hidden: list  # their widgets, hidden meanwhile
    draft: str  # what the prompt box held before F4


class QwqChatApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere keep the styles
    TITLE = "qwqchat"
    BINDINGS = bindings(KEYS)
    AUTO_FOCUS = "#prompt"  # not the first focusable (the chat filter): keys typed at launch go to the prompt

    def __init__(
        self,
        cfg: config_mod.Config,
        store: Store,
        engine: Optional[Engine] = None,
        engine_error: Optional[str] = None,
        clock=time.monotonic,
        export_dir: Optional[Path] = None,
        save_theme: bool = True,
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.store = store
        self.engine = engine
        self.engine_error = engine_error
        self.engine_ready = False
        self.clock = clock
        self.export_dir = export_dir
        self.save_theme = save_theme
        self.first_run = first_run  # no model configured: offer to download one
        self.conversation: Optional[Conversation] = None
        self.stream: Optional[TurnStream] = None
        self.streaming_turn = None  # the AssistantTurn being streamed into, while it is on screen
        self._pending_send = False
        self.editing: Optional[Editing] = None  # F4: the exchange the prompt box will replace when sent
        self._load_started = clock()
        self.frame_s = FRAME_S
        self.turns_finished = 0  # tests and benchmarks wait on it
        self._pump_timer = None
        self._loading_timer = None
        self._loading_word = "loading model…"
        if cfg.theme and cfg.theme in self.available_themes:
            self.theme = cfg.theme

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity="information",
        timeout: Optional[float] = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text, made printable: error texts from servers, files and
        models contain brackets that Textual would otherwise parse as markup (and crash on)."""
        super().notify(shown(message), title=shown(title), severity=severity, timeout=timeout, markup=False)

    # -- layout --------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(lambda: self.store, id="sidebar")
            with Vertical(id="chat"):
                view = ConversationView(id="conversation")
                view.keep_open = self.cfg.keep_reasoning_open
                view.clock = self.clock
                yield view
                yield Static("", id="loop-bar", classes="turn-warning")  # in sight whatever the view shows
                yield PromptBox(id="prompt")
                yield StatusLine(id="status")
        yield Footer()

    @property
    def view(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def prompt(self) -> PromptBox:
        return self.query_one(PromptBox)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    async def on_mount(self) -> None:
        self.prompt.focus()
        self.query_one("#loop-bar").display = False
        self._apply_width(self.size.width)
        await self.view.show(None, EMPTY_HINT)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.engine is None:
            self.status.show(model="no model", error=self.engine_error)
            if self.first_run:
                self.action_get_model()
        else:
            self._start_loading()

    def _start_loading(self) -> None:
        self._loading_word = "connecting…" if getattr(self.engine, "endpoint", None) else "loading model…"
        self.status.show(model=self.engine.name, activity=self._loading_word, error=None)
        self._load_started = self.clock()
        self._loading_timer = self.set_interval(0.5, self._tick_loading, name="loading")
        self._load_model()

    def action_get_model(self) -> None:
        """The first-run screen: at launch without a model, and from the palette ("Get a model…") at any time."""
        if self.stream is not None:
            self.notify("Still answering: press Esc to stop it first", severity="warning")
            return
        from .screens.first_run import FirstRunScreen

        self.push_screen(FirstRunScreen(self.cfg.ctx, self.cfg.kv_cache), self._model_chosen)

    def _model_chosen(self, path: Optional[Path]) -> None:
        """The first-run screen got a model: make it the default and load it."""
        if path is None:
            return
        if self.stream is not None:
            self.notify("Still answering: the new model is the default from the next start", severity="warning")
            return
        from ..engines.factory import build_engine

        old = self.engine
        if old is not None and hasattr(old, "close"):
            old.close()  # its memory is needed for the new one
        self.cfg.model = str(path)
        self.cfg.endpoint = None  # a model chosen here runs in-process
        try:
            config_mod.save_keys({"model": str(path)})
        except (QwqError, OSError) as exc:
            self.notify(f"could not save the default model: {exc}", severity="warning")
        self.engine = build_engine(self.cfg)
        self.engine_error = None
        self.engine_ready = False
        self._start_loading()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.query_one("#conversation").set_class(width >= WIDE, "-wide")
        self.query_one(Sidebar).set_class(width < WIDE, "-narrow")  # leave the chat room for its status line

    def _remember_theme(self, theme) -> None:
        if self.save_theme:
            try:
                config_mod.save_keys({"theme": theme.name})
            except (QwqError, OSError) as exc:
                self.notify(f"could not save the theme: {exc}", severity="warning")

    # -- the model -------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load")
    def _load_model(self) -> None:
        try:
            self.engine.load()
        except QwqError as exc:
            self.post_message(ModelFailed(str(exc)))
        except Exception as exc:  # never a traceback on screen
            self.post_message(ModelFailed(f"{exc.__class__.__name__}: {exc}"))
        else:
            self.post_message(ModelLoaded())

    def _tick_loading(self) -> None:
        if not self.engine_ready and not self.engine_error:
            spin = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[int(self.clock() * 10) % 10]
            self.status.show(activity=f"{spin} {self._loading_word} {self.clock() - self._load_started:.0f} s")

    async def on_model_loaded(self, _: ModelLoaded) -> None:
        self.engine_ready = True
        if self._loading_timer is not None:
            self._loading_timer.stop()
        self.status.show(
            model=self.engine.name,
            where=self.engine.describe(),
            context_size=self.engine.context_size,
            activity="ready",
        )
        if self._pending_send:
            await self._start_turn()
            self._pending_send = False  # only now: until the stream exists, the send is still pending

    def on_model_failed(self, message: ModelFailed) -> None:
        self.engine_error = message.error
        if self._loading_timer is not None:
            self._loading_timer.stop()
        self.status.show(activity="", error=message.error)
        self.notify(message.error, title="The model did not load", severity="error", timeout=15)
        if self._pending_send:
            self._pending_send = False

    # -- sending -----------------------------------------------------------------
    def _sampling(self) -> Sampling:
        return self.cfg.sampling_for(self.conversation.settings if self.conversation else None, flags_win=False)

    async def on_prompt_box_submitted(self, message: PromptBox.Submitted) -> None:
        await self.send(message.text)

    async def send(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self.stream is not None:
            self.notify("Still answering: press Esc to stop it first", severity="warning")
            return
        if self.engine is None or self.engine_error:
            self.notify(self.engine_error or "no model", title="Cannot send", severity="error")
            return
        await self._replace_edited()
        if self.conversation is None:
            cid = self.store.create_conversation(
                model=self.engine.name, system_prompt=self.cfg.system_prompt, settings=self.cfg.sampling.to_dict()
            )
            self.conversation = self.store.get(cid)
        mid = self.store.add_user_message(self.conversation.id, text)
        self.prompt.remember(text)
        self.prompt.text = ""
        await self.view.add_user(text, mid)
        self.query_one(Sidebar).refresh_list(select=self.conversation.id)
        if self.engine_ready:
            await self._start_turn()
        else:
            self._pending_send = True
            self.notify("Sent as soon as the model has loaded", timeout=3)

    async def _start_turn(self, answer_from_thinking: bool = False) -> None:
        self.streaming_turn = await self.view.add_reply()
        self.stream = TurnStream(
            self.engine, self.store, self.conversation.id, self._sampling(), answer_from_thinking=answer_from_thinking
        )
        self.status.show(activity="thinking…")
        self.run_worker(self.stream.run, thread=True, group="turn", exit_on_error=False)
        self._pump_timer = self.set_interval(self.frame_s, self._pump, name="pump")

    async def _pump(self) -> None:
        """Apply what the worker produced since the last frame."""
        stream = self.stream
        if stream is None:
            self._pump_timer.stop()
            return
        batch = stream.take()
        if not batch:
            return
        turn = self.streaming_turn
        if batch.dropped_turns:
            self.notify(f"{batch.dropped_turns} oldest turn(s) left out to fit the context", timeout=5)
        if batch.loop is not None:
            keys = "Esc stop · F9 answer now · F10 retry with a higher presence penalty"
            if turn is not None and turn.is_attached:
                turn.warn(batch.loop.repeats)
            bar = self.query_one("#loop-bar", Static)
            bar.update(f"⚠ The thinking is repeating itself ({batch.loop.repeats}×): {keys}")
            bar.display = True
        if (batch.reasoning_pieces or batch.answer_pieces) and stream.first_piece_at is None:
            stream.first_piece_at = self.clock()
        stream.reasoning_pieces += batch.reasoning_pieces
        stream.answer_pieces += batch.answer_pieces
        if turn is not None and turn.is_attached and (batch.reasoning or batch.answer):
            await turn.add("".join(batch.reasoning), "".join(batch.answer), batch.reasoning_pieces)
        if batch.result is not None:
            await self._finish_turn(stream, turn, batch.result)
            self._pump_timer.stop()  # last: stopping a timer cancels the callback it is running
            return
        elapsed = self.clock() - (stream.first_piece_at or self.clock())
        total = stream.reasoning_pieces + stream.answer_pieces
        rate = f" · {total / elapsed:.1f} tok/s" if elapsed > 0.2 else ""
        phase = "answering" if stream.answer_pieces else "thinking"
        self.status.show(activity=f"{phase}{rate}")

    async def _finish_turn(self, stream: TurnStream, turn, result) -> None:
        """Settle the turn on screen; ``self.stream`` is cleared last, so "not streaming" means done."""
        self.query_one("#loop-bar").display = False  # its keys act on a running turn only
        same_chat = self.conversation is not None and self.conversation.id == stream.conversation_id
        if same_chat:
            self.conversation = self.store.get(stream.conversation_id)
        if turn is not None and turn.is_attached:
            await turn.finish(result, self.conversation.messages[-1] if same_chat else None)
        s = result.stats
        rate = f" · {s.decode_tokens_per_s:.1f} tok/s" if s.decode_tokens_per_s else ""
        self.status.show(
            context_used=s.context_used or self.status.context_used, activity=f"{result.finish_reason}{rate}"
        )
        if result.finish_reason == "error":
            self.notify(result.error or "generation failed", severity="error", timeout=10)
        self.query_one(Sidebar).refresh_list(select=self.conversation.id if self.conversation else None)
        self.turns_finished += 1
        if stream is self.stream:
            self.stream = None
            self.streaming_turn = None

    # -- opening chats -------------------------------------------------------------
    async def on_sidebar_opened(self, message: Sidebar.Opened) -> None:
        await self.open_conversation(message.conversation_id)

    async def open_conversation(self, conversation_id: Optional[int]) -> None:
        self._cancel_edit()
        if self.stream is not None and self.stream.conversation_id != conversation_id:
            self.streaming_turn = None  # it keeps streaming into the store in the background
        self.conversation = self.store.get(conversation_id) if conversation_id else None
        await self.view.show(self.conversation, EMPTY_HINT)
        if self.stream is not None and self.conversation and self.stream.conversation_id == self.conversation.id:
            last = self.view.last_turn()
            if last is not None and last.message is not None and last.message.streaming:
                await last.remove()
                self.streaming_turn = await self.view.add_reply()
        used = 0
        if self.conversation:
            for m in reversed(self.conversation.messages):
                if m.stats and m.stats.context_used:
                    used = m.stats.context_used
                    break
        streaming_here = (
            self.stream is not None
            and self.conversation is not None
            and self.stream.conversation_id == self.conversation.id
        )
        if not streaming_here and self.engine_ready:
            self.status.show(activity="ready")  # not the last chat's "cancelled · 2.1 tok/s"
        self.status.show(context_used=used)
        self.prompt.focus()

    # -- actions -----------------------------------------------------------------------
    def action_stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.status.show(activity="stopping…")
        else:
            self._cancel_edit()

    async def action_new_chat(self) -> None:
        await self.open_conversation(None)
        self.query_one("#chat-list", ListView).index = None

    def _target_turn(self):
        from .widgets.turn import AssistantTurn

        focused = self.focused
        while focused is not None and not isinstance(focused, AssistantTurn):
            focused = focused.parent
        return focused if isinstance(focused, AssistantTurn) else self.view.last_turn()

    def action_toggle_reasoning(self) -> None:
        turn = self._target_turn()
        if turn is not None:
            turn.toggle_reasoning()

    def action_toggle_all_reasoning(self) -> None:
        turns = [t for t in self.view.turns() if t.fold.display]
        if turns:
            collapse = not all(t.fold.collapsed for t in turns)
            for t in turns:
                t.fold.collapsed = collapse

    def action_copy_answer(self) -> None:
        turn = self._target_turn()
        if turn is None or not turn.answer.text:
            self.notify("No answer to copy", severity="warning")
            return
        self.copy_to_clipboard(turn.answer.text)
        self.notify("Answer copied")

    def action_copy_code(self) -> None:
        turn = self._target_turn()
        blocks = turn.answer.code_blocks() if turn is not None else []
        if not blocks:
            self.notify("No code block in this answer", severity="warning")
            return
        self.copy_to_clipboard(blocks[-1])
        self.notify("Code block copied")

    def _idle_chat(self, what: str) -> bool:
        self._cancel_edit()  # regenerating or deleting acts on the exchange as it is saved
        if self.conversation is None:
            self.notify(f"Nothing to {what} yet", severity="warning")
            return False
        if self.stream is not None and self.stream.conversation_id == self.conversation.id:
            self.notify("Still answering: press Esc to stop it first", severity="warning")
            return False
        return True

    async def action_regenerate(self) -> None:
        if not self._idle_chat("regenerate"):
            return
        messages = self.conversation.messages
        if not messages or messages[-1].role != "assistant":
            self.notify("No reply to regenerate", severity="warning")
            return
        if self.engine is None or self.engine_error or not self.engine_ready:
            self.notify(self.engine_error or "The model is still loading", severity="warning")
            return
        self.store.delete_message(messages[-1].id)
        last = self.view.last_turn()
        if last is not None:
            await last.remove()
        self.conversation = self.store.get(self.conversation.id)
        await self._start_turn()

    async def action_answer_now(self) -> None:
        """While thinking: end it now.  After a reply stopped while thinking: answer from that thinking."""
        if self.engine is None or not getattr(self.engine, "can_end_thinking", False):
            self.notify("Ending the thinking needs the local engine; a remote server cannot do it", severity="warning")
            return
        if self.stream is not None:
            if self.stream.answer_pieces:
                self.notify("The model is already answering", severity="warning")
                return
            self.stream.end_thinking.set()
            self.status.show(activity="ending the thinking…")
            return
        messages = self.conversation.messages if self.conversation else []
        last = messages[-1] if messages else None
        if last is None or not last.stopped_while_thinking:
            self.notify("Nothing to answer: the last reply did not stop while thinking", severity="warning")
            return
        if not self.engine_ready:
            self.notify("The model is still loading", severity="warning")
            return
        old = self.view.last_turn()
        if old is not None:
            await old.remove()
        await self._start_turn(answer_from_thinking=True)
        stats = last.stats
        await self.streaming_turn.resume(
            last.reasoning, stats.reasoning_tokens if stats else 0, stats.thinking_s if stats else 0.0
        )

    async def action_retry_with_penalty(self) -> None:
        """Stop (if needed) and regenerate the last reply with a higher presence penalty."""
        if self.conversation is None:
            return
        if self.stream is not None:
            stream = self.stream
            stream.stop()
            while self.stream is stream:
                await asyncio.sleep(0.02)
        sampling = self._sampling()
        penalty = min(2.0, max(1.0, sampling.presence_penalty + 0.5))
        sampling = sampling.merged(presence_penalty=penalty)
        self.store.update_settings(
            self.conversation.id, system_prompt=self.conversation.system_prompt, settings=sampling.to_dict()
        )
        self.conversation = self.store.get(self.conversation.id)
        self.notify(f"Retrying with presence penalty {penalty:.1f}")
        await self.action_regenerate()

    async def action_edit_last(self) -> None:
        """Put the last prompt back in the box; its exchange is only hidden until the new prompt is sent."""
        if self.editing is not None or not self._idle_chat("edit"):
            return
        messages = self.conversation.messages
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            return
        at = users[-1]
        from .widgets.turn import UserMessage

        children = list(self.view.children)
        shown = [w for w in children if isinstance(w, UserMessage)]
        hidden = children[children.index(shown[-1]) :] if shown else []
        for w in hidden:
            w.display = False
        self.editing = Editing(self.conversation.id, [m.id for m in messages[at:]], hidden, self.prompt.text)
        self.prompt.text = messages[at].content
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()
        self.notify("Enter sends the edited prompt in place of the last exchange; Esc keeps it", timeout=5)

    def _cancel_edit(self) -> bool:
        """Esc while editing: show the old exchange again and give the prompt box back its draft."""
        editing, self.editing = self.editing, None
        if editing is None:
            return False
        for w in editing.hidden:
            w.display = True
        self.prompt.text = editing.draft
        self.prompt.move_cursor(self.prompt.document.end)
        return True

    async def _replace_edited(self) -> None:
        """The edited prompt is being sent: only now does the old exchange go."""
        editing, self.editing = self.editing, None
        if editing is None or self.conversation is None or editing.conversation_id != self.conversation.id:
            return
        for mid in editing.message_ids:
            self.store.delete_message(mid)
        for w in editing.hidden:
            await w.remove()
        self.conversation = self.store.get(self.conversation.id)

    def action_export(self) -> None:
        if self.conversation is None:
            self.notify("Nothing to export yet", severity="warning")
            return
        from .. import export as export_mod

        conv = self.store.get(self.conversation.id)
        slug = re.sub(r"[^a-z0-9]+", "-", conv.title.lower()).strip("-")[:40] or "chat"
        folder = self.export_dir or Path.cwd()
        path = folder / f"qwqchat-{conv.id}-{slug}.md"
        from ..files import atomic_write, inside

        try:
            atomic_write(inside(folder, path), export_mod.to_markdown(conv))
        except QwqError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Exported to {path}", title="Export", timeout=8, markup=False)

    def action_rename(self) -> None:
        if self.conversation is None:
            self.notify("Nothing to rename yet", severity="warning")
            return

        def done(title: Optional[str]) -> None:
            if title and title.strip():
                self.store.rename(self.conversation.id, title)
                self.conversation = self.store.get(self.conversation.id)
                self.query_one(Sidebar).refresh_list(select=self.conversation.id)

        from .screens.dialogs import Ask

        self.push_screen(Ask("Rename chat", self.conversation.title), done)

    def action_delete(self) -> None:
        if not self._idle_chat("delete"):
            return

        async def done(yes: Optional[bool]) -> None:
            if yes:
                self.store.delete(self.conversation.id)
                await self.open_conversation(None)
                self.query_one(Sidebar).refresh_list()
                self.notify("Chat deleted")

        from .screens.dialogs import Confirm

        self.push_screen(Confirm(f"Delete “{self.conversation.title}”? This cannot be undone."), done)

    def action_settings(self) -> None:
        system = (self.conversation.system_prompt if self.conversation else self.cfg.system_prompt) or ""

        def done(result) -> None:
            if not result:
                return
            system_prompt, sampling = result
            if self.conversation is None:
                self.cfg.system_prompt = system_prompt or None
                self.cfg.sampling = sampling
            else:
                self.store.update_settings(
                    self.conversation.id, system_prompt=system_prompt, settings=sampling.to_dict()
                )
                self.conversation = self.store.get(self.conversation.id)
            self.notify("Settings saved")

        from .screens.settings import SettingsScreen

        self.push_screen(SettingsScreen(system, self._sampling()), done)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display

    def action_filter(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.display = True
        self.query_one("#chat-filter").focus()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen([(key_text(k.keys), k.title) for k in KEYS]))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for k in KEYS:
            yield SystemCommand(k.title, key_text(k.keys), getattr(self, f"action_{k.action}"))
        yield SystemCommand(GET_MODEL, "Download QwQ-32B, or use a GGUF file you have", self.action_get_model)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        if self.stream is not None:
            self.stream.stop()  # the worker saves the partial reply and ends within a token
        self.exit()
