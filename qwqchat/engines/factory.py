"""Pick and configure the engine the settings ask for.

It takes any object with the settings' fields (``EngineSettings``; ``config.Config`` is one), so the
engines never import the config layer above them.
"""

from __future__ import annotations

from typing import Optional, Protocol

from ..errors import BadInput
from .base import Engine


class EngineSettings(Protocol):
    """The part of ``config.Config`` that chooses and sets up an engine."""

    endpoint: Optional[str]
    api_key: Optional[str]
    remote_model: Optional[str]
    model: Optional[str]
    ctx: int
    kv_cache: str
    yarn: bool
    threads: Optional[int]
    gpu_layers: Optional[int]
    draft: int


def no_model_message() -> str:
    from ..paths import config_path

    return (
        "no model configured: pass --model FILE.gguf, set QWQCHAT_MODEL, "
        f'or put model = "/path/to/file.gguf" in {config_path()}'
    )


def build_engine(cfg: EngineSettings) -> Engine:
    """The engine the settings ask for (not loaded yet: call ``load()``)."""
    if cfg.endpoint:
        from .remote import RemoteEngine

        return RemoteEngine(cfg.endpoint, api_key=cfg.api_key, model=cfg.remote_model)
    if not cfg.model:
        raise BadInput(no_model_message())
    from .llama import LlamaEngine

    return LlamaEngine(
        cfg.model,
        ctx=cfg.ctx,
        kv_cache=cfg.kv_cache,
        yarn=cfg.yarn,
        threads=cfg.threads,
        gpu_layers=cfg.gpu_layers,
        draft=cfg.draft,
    )
