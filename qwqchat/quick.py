"""Think or Quick, per message: which engine answers a Quick message.

A local model skips its thinking itself (the engine closes an empty think block in the prompt).  A remote
server has no general way to, so Quick goes to the ``fast_profile`` when one is set (a small model that
answers directly, built and loaded on the first Quick message, then kept) and is refused otherwise:
never a thinking reply passed off as a Quick one.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

from .config import Config, fast_settings
from .engines.base import Engine
from .engines.factory import build_engine
from .errors import QUICK_NEEDS, BadInput, QwqError
from .types import Event, Message, Sampling, TurnDone, TurnResult


def route(main: Engine, fast: Optional[Engine], think: bool) -> Engine:
    """The engine for one message: the main one thinks; Quick goes to the fast profile if any."""
    if think:
        return main
    if fast is not None:
        return fast
    if main.can_skip_thinking:
        return main
    raise BadInput(QUICK_NEEDS)


def fast_engine(cfg: Config, own_process: bool = False) -> Optional[Engine]:
    """The fast profile's engine, not built yet (its settings are read on first use), or None without one.
    ``own_process``: in a child process, as the TUI runs its main engine (``build_engine``)."""
    if not cfg.fast_profile:
        return None

    def build() -> Engine:
        # the user's word: it answers directly (a local one's thinking is closed)
        return build_engine(fast_settings(cfg), own_process, answers_directly=True)

    return LazyEngine(build, _model_named(cfg))


def _model_named(cfg: Config) -> str:
    """What the fast profile's model is called before it loads (as its engine will name it: the file's stem, the
    server's model or host); the profile's own name when its settings name no model (said on first use)."""
    assert cfg.fast_profile
    try:
        fast = fast_settings(cfg)
        if fast.endpoint:
            from .engines.remote import RemoteEngine  # (named as it names itself; nothing is sent before load)

            return RemoteEngine(fast.endpoint, model=fast.remote_model).name
    except QwqError:  # (no model, a malformed URL: said on first use)
        return cfg.fast_profile
    return Path(fast.model or cfg.fast_profile).expanduser().stem  # (as the local engines name theirs)


class LazyEngine:
    """An engine built and loaded on its first turn, then kept: most chats never send a Quick message."""

    can_end_thinking = False
    can_skip_thinking = True

    def __init__(self, build: Callable[[], Engine], name: str) -> None:
        self._build = build
        self.name = name  # what the profile names, until the model's own name is known
        self.inner: Optional[Engine] = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self.inner is None:
                engine = self._build()
                engine.load()
                self.inner, self.name = engine, engine.name

    def describe(self) -> str:
        return self.inner.describe() if self.inner else ""

    @property
    def context_size(self) -> int:
        return self.inner.context_size if self.inner else 0

    def close(self) -> None:
        close: Any = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,
        think: bool = True,
    ) -> Iterator[Event]:
        try:
            self.load()
        except QwqError as exc:
            yield TurnDone(TurnResult(finish_reason="error", error=f"the fast profile did not load: {exc}"))
            return
        assert self.inner is not None
        # chat_id is not passed on: the chat's KV state on disk belongs to the main model, and another
        # model's save under the same chat would replace it
        yield from self.inner.stream(messages, sampling, cancel, end_thinking, prefill_reasoning, think=think)
