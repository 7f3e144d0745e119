"""Pick and configure the engine the settings ask for.

It takes any object with the settings' fields (``EngineSettings``; ``config.Config`` is one), so the
engines never import the config layer above them.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Protocol

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
    kv_cache_disk_mb: int
    draft: int


def no_model_message() -> str:
    from ..paths import config_path

    return (
        "no model configured: pass --model FILE.gguf, set QWQCHAT_MODEL, "
        f'or put model = "/path/to/file.gguf" in {config_path()}'
    )


def build_engine(cfg: EngineSettings, own_process: bool = False, answers_directly: bool = False) -> Engine:
    """The engine the settings ask for (not loaded yet: call ``load()``).

    ``own_process`` runs the engine in a child process (``engines/process.py``): the TUI asks for it so
    that painting never holds the GIL the generating thread (or the one reading a server) needs.
    ``answers_directly``: the model answers without thinking when asked (a fast profile, for Quick); a
    local engine always can.
    """
    if cfg.endpoint:
        remote: Dict[str, Any] = dict(api_key=cfg.api_key, model=cfg.remote_model, answers_directly=answers_directly)
        if own_process:
            from .process import ProcessEngine

            return ProcessEngine.remote(cfg.endpoint, **remote)
        from .remote import RemoteEngine

        return RemoteEngine(cfg.endpoint, **remote)
    if not cfg.model:
        raise BadInput(no_model_message())
    options: Dict[str, Any] = dict(
        ctx=cfg.ctx,
        kv_cache=cfg.kv_cache,
        yarn=cfg.yarn,
        threads=cfg.threads,
        gpu_layers=cfg.gpu_layers,
        kv_disk_mb=cfg.kv_cache_disk_mb,
        draft=cfg.draft,
    )
    if own_process:
        from .process import ProcessEngine

        return ProcessEngine(cfg.model, **options)
    from .llama import LlamaEngine

    return LlamaEngine(cfg.model, **options)
