"""The qwqchat Textual app: what outlives a chat.

The theme, the model (loaded in a worker thread, replaced from the first-run
screen), the first-run screen at launch without a model, and the command
palette's system commands.  Chats, their keys and the turn being streamed
live on ``ChatScreen`` (``ui/screens/chat.py``), the default screen; the
properties below pass its state through for tests and benchmarks.  Widgets
and screens not on the first frame are imported when first used, which keeps
launch-to-first-frame close to a bare Textual app's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Optional

from textual import events, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer

from .. import config as config_mod
from .. import quick
from ..engines.base import Engine
from ..errors import QwqError
from ..store import Conversation, Store
from ..text import shown
from .gc_pacer import CHECK_S, GcPacer
from .keys import KEYS, key_text
from .messages import ModelFailed, ModelLoaded
from .screens.chat import ChatScreen
from .screens.chat_actions import STILL_ANSWERING
from .streamer import TurnStream
from .widgets.conversation import ConversationView
from .widgets.prompt import PromptBox
from .widgets.status_line import StatusLine

GET_MODEL = "Get a model…"  # the palette's way back to the first-run screen


def _warm_markdown() -> None:
    """The answer's Markdown imported and its parser warmed, in a thread, before the first answer needs them."""
    from .widgets.answer import warm_parser  # (not at launch: Markdown is imported on first use)

    warm_parser()


class QwqChatApp(App):
    # absolute: subclasses elsewhere keep the styles.  The chat screen's own file is read here: Textual reads a
    # screen's CSS_PATH when it is pushed, never for the default screen.
    CSS_PATH = [Path(__file__).with_name("app.tcss"), Path(__file__).parent / "screens" / "chat.tcss"]
    TITLE = "qwqchat"

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
        fast_engine: Optional[Engine] = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.store = store
        self.engine = engine
        # Quick messages go here when set (the fast profile's, loaded on the first one); tests pass one
        self.fast_engine = fast_engine or quick.fast_engine(cfg, own_process=True)
        self.engine_error = engine_error
        self.engine_ready = False
        self.clock = clock
        self.export_dir = export_dir
        self.save_theme = save_theme
        self.first_run = first_run  # no model configured: offer to download one
        self.chat = ChatScreen()
        self._load_started = clock()
        self._loading_timer: Optional[Timer] = None
        self._loading_word = "loading model…"
        self.last_input = 0.0  # time.monotonic() of the last key or mouse event: the pump's frame rate follows it
        # whole-heap collections wait for a pause in the user's input and in the stream
        self.gc_pacer = GcPacer(lambda: self.last_input, lambda: self.chat.stream is not None)
        if cfg.theme and cfg.theme in self.available_themes:
            self.theme = cfg.theme

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.last_input = time.monotonic()
            if self.chat.view.stream is not None:
                self.chat.view.wake()  # a streaming reply paints 30 frames a second again
        await super().on_event(event)

    def get_default_screen(self) -> Screen:
        return self.chat

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

    # -- the chat screen's state, for tests and benchmarks ------------------------------------
    @property
    def view(self) -> ConversationView:
        return self.chat.view

    @property
    def prompt(self) -> PromptBox:
        return self.chat.prompt

    @property
    def status(self) -> StatusLine:
        return self.chat.status

    @property
    def stream(self) -> Optional[TurnStream]:
        return self.chat.stream

    @property
    def streaming_turn(self):
        return self.chat.view.streaming_turn

    @property
    def conversation(self) -> Optional[Conversation]:
        return self.chat.conversation

    @conversation.setter
    def conversation(self, conversation: Optional[Conversation]) -> None:
        self.chat.conversation = conversation

    @property
    def turns_finished(self) -> int:
        return self.chat.turns_finished

    @property
    def pending_send(self) -> bool:
        return self.chat.pending_send

    async def open_conversation(self, conversation_id: Optional[int]) -> None:
        await self.chat.open_conversation(conversation_id)

    def action_stop(self) -> None:
        self.chat.action_stop()

    # -- the model -------------------------------------------------------------
    async def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.gc_pacer.start()
        self.set_interval(CHECK_S, self.gc_pacer.tick, name="gc")
        if self.engine is None and self.first_run:
            self.action_get_model()  # at once: the chat screen composes beneath it

    def on_unmount(self) -> None:
        self.gc_pacer.stop()

    def chat_shown(self) -> None:
        """The chat screen has composed (it does so after this app's mount): load the model, if there is one."""
        if self.engine is None:
            self.status.show(model="no model", error=self.engine_error)
        else:
            self._start_loading()

    def _start_loading(self) -> None:
        assert self.engine is not None
        self._loading_word = "connecting…" if getattr(self.engine, "endpoint", None) else "loading model…"
        self.status.show(model=self.engine.name, activity=self._loading_word, error=None)
        self._load_started = self.clock()
        self._loading_timer = self.set_interval(0.5, self._tick_loading, name="loading")
        self._load_model()

    def action_get_model(self) -> None:
        """The first-run screen: at launch without a model, and from the palette ("Get a model…") at any time."""
        if self.stream is not None:
            self.notify(STILL_ANSWERING, severity="warning")
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
        self.engine = build_engine(self.cfg, own_process=True)
        self.engine_error = None
        self.engine_ready = False
        self._start_loading()

    def retry_server(self) -> bool:
        """A server that could not be reached at launch may be up now: connect again (True when trying)."""
        if self.engine is None or not self.engine_error or not getattr(self.engine, "endpoint", None):
            return False
        self.engine_error = None
        self.engine_ready = False
        self._start_loading()
        return True

    def _remember_theme(self, theme) -> None:
        if self.save_theme:
            try:
                config_mod.save_keys({"theme": theme.name})
            except (QwqError, OSError) as exc:
                self.notify(f"could not save the theme: {exc}", severity="warning")

    @work(thread=True, exclusive=True, group="load")
    def _load_model(self) -> None:
        try:
            assert self.engine is not None
            self.engine.load()
        except QwqError as exc:
            self.post_message(ModelFailed(str(exc)))
        except Exception as exc:  # never a traceback on screen
            self.post_message(ModelFailed(f"{exc.__class__.__name__}: {exc}"))
        else:
            from ..models.local import record_engine

            record_engine(self.engine)  # here, in the loading thread: `qwqchat models` lists it
            self.post_message(ModelLoaded())

    def _tick_loading(self) -> None:
        if not self.engine_ready and not self.engine_error:
            spin = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[int(self.clock() * 10) % 10]
            self.status.show(activity=f"{spin} {self._loading_word} {self.clock() - self._load_started:.0f} s")

    async def on_model_loaded(self, _: ModelLoaded) -> None:
        assert self.engine is not None
        self.engine_ready = True
        # now, not at launch: the import and the parse hold the GIL (~80 ms) that painting the first frame needs
        self.run_worker(_warm_markdown, thread=True, group="warm", exit_on_error=False)
        if self._loading_timer is not None:
            self._loading_timer.stop()
        self.status.show(
            model=self.engine.name,
            where=self.engine.describe(),
            context_size=self.engine.context_size,
            activity="ready",
        )
        await self.chat.model_loaded()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.engine_error = message.error
        if self._loading_timer is not None:
            self._loading_timer.stop()
        self.status.show(activity="", error=message.error)
        server = getattr(self.engine, "endpoint", None)
        title = "The server could not be reached (Enter tries again)" if server else "The model did not load"
        self.notify(message.error, title=title, severity="error", timeout=15)
        self.chat.pending_send = False

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for k in KEYS:
            yield SystemCommand(k.title, key_text(k.keys), getattr(self.chat, f"action_{k.action}"))
        yield SystemCommand(GET_MODEL, "Download QwQ-32B, or use a GGUF file you have", self.action_get_model)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        if self.stream is not None:
            self.stream.stop()  # the worker saves the partial reply and ends within a token
        self.exit()
