"""The chat screen's state and the actions on chats as saved: open, fold, copy, export, rename, delete, settings.

``ChatScreen`` (``chat.py``) adds what sends and streams turns; the split keeps
each class short.  Dialogs are imported when first used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Optional, cast

from textual.screen import Screen

from ...errors import QwqError
from ...store import Conversation
from ...types import Sampling
from ..editing import Editing
from ..keys import KEYS, key_text
from ..streamer import TurnStream
from ..widgets.conversation import ConversationView
from ..widgets.prompt import PromptBox
from ..widgets.sidebar import Sidebar
from ..widgets.status_line import StatusLine

if TYPE_CHECKING:
    from ..app import QwqChatApp

STILL_ANSWERING = "Still answering: press Esc to stop it first"
ELSEWHERE = "answering in another chat"  # the status line while a reply streams into a chat not shown
ANSWERING_ELSEWHERE = "A reply is streaming in another chat: open that chat to stop it (Esc), or wait for its end"
EMPTY_HINT = (
    "Ask anything. The model thinks before it answers: its reasoning streams beside the answer (above it "
    "in a narrow terminal) and folds to one line when the answer starts.\nF1 lists every key."
)


class ChatActions(Screen):
    def __init__(self) -> None:
        super().__init__()
        self.conversation: Optional[Conversation] = None
        self.editing: Optional[Editing] = None  # F4: the exchange the prompt box will replace when sent
        self.pending_send = False  # sent before the model had loaded
        self.think = True  # F6 turns it off: Quick, each message answered without thinking
        self.turns_finished = 0  # tests and benchmarks wait on it
        self._after_turn: Optional[Callable[[], Awaitable[None]]] = None  # runs once the stopped turn has ended
        self.view = ConversationView(id="conversation")  # made here: its stream is asked for before compose

    @property
    def host(self) -> QwqChatApp:
        return cast("QwqChatApp", self.app)

    @property
    def prompt(self) -> PromptBox:
        return self.query_one(PromptBox)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def stream(self) -> Optional[TurnStream]:
        return self.view.stream

    def sampling(self) -> Sampling:
        settings = self.conversation.settings if self.conversation else None
        return self.host.cfg.sampling_for(settings, flags_win=False)

    def messages(self) -> list:
        return self.conversation.messages if self.conversation else []

    def action_toggle_reasoning(self) -> None:
        turn = self.view.target_turn(self.focused)
        if turn is not None:
            turn.toggle_reasoning()

    def action_toggle_all_reasoning(self) -> None:
        self.view.toggle_all_reasoning()

    def action_copy_answer(self) -> None:
        turn = self.view.target_turn(self.focused)
        if turn is None or not turn.answer.text:
            self.notify("No answer to copy", severity="warning")
            return
        self.app.copy_to_clipboard(turn.answer.text)
        self.notify("Answer copied")

    def action_copy_reasoning(self) -> None:
        turn = self.view.target_turn(self.focused)
        text = turn.fold.raw if turn is not None else ""
        if not text.strip():
            self.notify("No thinking to copy", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify("Thinking copied")

    def _thinking_turn(self):
        """The focused (or last) turn, if it has thinking to look through."""
        turn = self.view.target_turn(self.focused)
        if turn is None or not turn.fold.display or not turn.fold.text.strip():
            self.notify("No thinking in this turn", severity="warning")
            return None
        return turn

    def action_outline(self) -> None:
        turn = self._thinking_turn()
        if turn is None:
            return
        points = turn.fold.turning_points()
        if not points:
            self.notify("No turning points in this thinking", severity="warning")
            return

        async def chosen(offset: Optional[int]) -> None:
            if offset is not None and turn.is_attached:
                await turn.fold.reveal(offset)

        from .outline import JumpList

        self.app.push_screen(JumpList(points), chosen)

    async def action_find_reasoning(self) -> None:
        """Open the find bar on the focused turn's thinking; pressed again in the bar, the next match."""
        from ..widgets.find_bar import FindBar

        bar = next(iter(self.query(FindBar)), None)
        if bar is not None and bar.turn is not None and bar.has_focus_within:
            await bar.action_step(1)
            return
        turn = self._thinking_turn()
        if turn is None:
            return
        if bar is None:
            bar = FindBar(id="find-bar")
            await self.query_one("#chat").mount(bar, before="#prompt")
        await bar.open(turn)

    def action_copy_code(self) -> None:
        turn = self.view.target_turn(self.focused)
        blocks = turn.answer.code_blocks() if turn is not None else []
        if not blocks:
            self.notify("No code block in this answer", severity="warning")
            return
        self.app.copy_to_clipboard(blocks[-1])
        self.notify("Code block copied")

    def _idle_chat(self, what: str) -> bool:
        self._cancel_edit()  # regenerating or deleting acts on the exchange as it is saved
        if self.conversation is None:
            self.notify(f"Nothing to {what} yet", severity="warning")
            return False
        if self._busy_with(self.conversation.id):
            self.notify(STILL_ANSWERING, severity="warning")
            return False
        return True

    def _cancel_edit(self) -> None:
        editing, self.editing = self.editing, None
        if editing is not None:
            editing.cancel(self.prompt)

    # -- opening chats ---------------------------------------------------------------
    def load_prompt_history(self) -> None:
        store = self.host.store
        this_chat = store.prompts(self.conversation.id) if self.conversation else []
        self.prompt.load_history(this_chat, store.prompts())

    async def on_sidebar_opened(self, message: Sidebar.Opened) -> None:
        if message.message_id is not None and not self._busy_with(message.conversation_id):
            self.host.store.choose(message.message_id, path=True)  # a search hit in another version: show it
        await self.open_conversation(message.conversation_id)

    def _busy_with(self, conversation_id: Optional[int]) -> bool:
        return self.stream is not None and self.stream.conversation_id == conversation_id

    def _streams_elsewhere(self) -> bool:
        """A reply streams in a chat other than the one shown (one model, one reply at a time)."""
        return self.stream is not None and not self._busy_with(self.conversation.id if self.conversation else None)

    def _refused_elsewhere(self) -> bool:
        """Stop, F9, F10 and regenerating act on the shown chat's reply; while another chat's streams, they say
        so and wait."""
        elsewhere = self._streams_elsewhere()
        if elsewhere:
            self.notify(ANSWERING_ELSEWHERE, severity="warning")
        return elsewhere

    def _still_answering(self) -> str:
        """Why a prompt cannot go now: the reply is this chat's, or another's."""
        return ANSWERING_ELSEWHERE if self._streams_elsewhere() else STILL_ANSWERING

    async def open_conversation(self, conversation_id: Optional[int]) -> None:
        # first: keys typed while a long chat is mounted go to the prompt, not to the chat list (which kept
        # the spaces and the first Enter)
        self.set_focus(self.prompt)  # at once, not after the queued keys
        self._cancel_edit()
        self.conversation = self.host.store.get(conversation_id) if conversation_id else None
        await self.view.show(self.conversation, EMPTY_HINT)
        self.load_prompt_history()
        used = next((m.stats.context_used for m in reversed(self.messages()) if m.stats and m.stats.context_used), 0)
        shown_id = self.conversation.id if self.conversation else None
        streaming_here = self.stream is not None and self.stream.conversation_id == shown_id
        if not streaming_here and self.host.engine_ready:  # not the last chat's "cancelled · 2.1 tok/s"
            self.status.show(activity=ELSEWHERE if self.stream is not None else "ready")
        self._warm()
        self.status.show(context_used=used)
        self.prompt.focus()

    def _warm(self) -> None:
        """Have the engine load what makes this chat's next turn fast (its KV state on disk) while the user
        reads and types; not while a turn runs (the engine is busy, and it is another chat's memory)."""
        conv, engine = self.conversation, self.host.engine
        warm = getattr(engine, "warm", None)
        if conv is None or not conv.messages or warm is None or self.stream is not None or not self.host.engine_ready:
            return
        from ...chat import history

        messages = history(conv)
        self.run_worker(lambda: warm(messages, conv.id), thread=True, group="warm", exit_on_error=False)

    def action_delete(self) -> None:
        conv = self.conversation
        if not self._idle_chat("delete") or conv is None:
            return

        async def done(yes: Optional[bool]) -> None:
            if yes:
                self.host.store.delete(conv.id)
                await self.open_conversation(None)
                self.sidebar.refresh_list()
                self.notify("Chat deleted")

        from .dialogs import Confirm

        self.app.push_screen(Confirm(f"Delete “{conv.title}”? This cannot be undone."), done)

    def action_export(self) -> None:
        if self.conversation is None:
            self.notify("Nothing to export yet", severity="warning")
            return
        try:
            path = export_markdown(self.host.store.get(self.conversation.id), self.host.export_dir or Path.cwd())
        except QwqError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Exported to {path}", title="Export", timeout=8, markup=False)

    def action_rename(self) -> None:
        conv = self.conversation
        if conv is None:
            self.notify("Nothing to rename yet", severity="warning")
            return

        def done(title: Optional[str]) -> None:
            if title and title.strip():
                self.host.store.rename(conv.id, title)
                self.conversation = self.host.store.get(conv.id)
                self.sidebar.refresh_list(select=conv.id)

        from .dialogs import Ask

        self.app.push_screen(Ask("Rename chat", conv.title), done)

    def action_settings(self) -> None:
        cfg = self.host.cfg
        system = (self.conversation.system_prompt if self.conversation else cfg.system_prompt) or ""

        def done(result) -> None:
            if not result:
                return
            system_prompt, sampling = result
            if self.conversation is None:
                cfg.system_prompt = system_prompt or None
                cfg.sampling = sampling
            else:
                store = self.host.store
                store.update_settings(self.conversation.id, system_prompt=system_prompt, settings=sampling.to_dict())
                self.conversation = store.get(self.conversation.id)
            self.notify("Settings saved")

        from .settings import SettingsScreen

        self.app.push_screen(SettingsScreen(system, self.sampling()), done)

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display

    def action_filter(self) -> None:
        self.sidebar.display = True
        self.query_one("#chat-filter").focus()

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen([(key_text(k.keys), k.title) for k in KEYS]))


def export_markdown(conv: Conversation, folder: Path) -> Path:
    """Write ``conv`` as Markdown into ``folder`` under a name made from its title; the path written."""
    from ... import export as export_mod
    from ...files import atomic_write, inside, slug

    path = folder / f"qwqchat-{conv.id}-{slug(conv.title)}.md"
    atomic_write(inside(folder, path), export_mod.to_markdown(conv))
    return path
