"""Start the TUI from parsed command-line arguments."""

from __future__ import annotations

import argparse

from .. import config as config_mod
from ..engines.factory import build_engine, no_model_message
from ..store import Store


def build_app(args: argparse.Namespace):
    cfg = config_mod.with_flags(config_mod.load(profile=args.profile), args)
    store = Store()  # a database we cannot use stops here with its one-line reason
    # a local file or a remote server (--endpoint, a remote --profile); not loaded: the app loads it after its
    # first frame.  With neither, the first-run screen offers a download.
    engine = build_engine(cfg) if cfg.model or cfg.endpoint else None
    from .app import QwqChatApp

    return QwqChatApp(cfg, store, engine, None if engine else no_model_message(), first_run=engine is None)


def run_app(args: argparse.Namespace) -> int:
    app = build_app(args)
    app.run()
    return app.return_code or 0
