"""Start the TUI from the command-line flags given."""

from __future__ import annotations

from typing import Any, Mapping

from .. import config as config_mod
from ..engines.factory import build_engine, no_model_message
from ..store import Store


def build_app(flags: Mapping[str, Any]):
    cfg = config_mod.resolve(flags)
    store = Store()  # a database we cannot use stops here with its one-line reason
    # a local file or a remote server (--endpoint, a remote --profile); not loaded: the app loads it after its
    # first frame.  With neither, the first-run screen offers a download.
    engine = build_engine(cfg, own_process=True) if cfg.model or cfg.endpoint else None
    from .app import QwqChatApp

    return QwqChatApp(cfg, store, engine, None if engine else no_model_message(), first_run=engine is None)


def run_app(flags: Mapping[str, Any]) -> int:
    from .terminal_input import tolerate_bad_bytes

    app = build_app(flags)
    tolerate_bad_bytes()
    app.run()
    return app.return_code or 0
