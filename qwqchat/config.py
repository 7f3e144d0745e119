"""Settings: defaults < config file < environment < command-line flags.

The file is TOML (``qwqchat config-path`` prints where).  Unknown keys are
kept when the app writes the file back, so a user's notes survive.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from . import paths
from .engines.base import Sampling
from .errors import BadInput

KV_TYPES = ("f16", "q8_0", "q4_0")


@dataclass
class Config:
    model: Optional[str] = None
    ctx: int = 32768
    kv_cache: str = "f16"
    yarn: bool = False
    threads: Optional[int] = None
    gpu_layers: Optional[int] = None
    system_prompt: Optional[str] = None
    sampling: Sampling = field(default_factory=Sampling)
    theme: Optional[str] = None
    keep_reasoning_open: bool = False
    raw: Dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "Config":
        if self.kv_cache not in KV_TYPES:
            raise BadInput(f"kv_cache must be one of {', '.join(KV_TYPES)}, not {self.kv_cache!r}")
        if self.ctx < 256:
            raise BadInput(f"ctx must be at least 256 tokens, not {self.ctx}")
        return self


def load(path: Optional[Path] = None) -> Config:
    """Read the config file (missing is fine) and then the environment."""
    path = path or paths.config_path()
    raw: Dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"config file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise BadInput(f"cannot read config file {path}: {exc.strerror}") from None
    cfg = Config(raw=raw)
    try:
        for key in ("model", "ctx", "kv_cache", "yarn", "threads", "gpu_layers", "system_prompt",
                    "theme", "keep_reasoning_open"):
            if key in raw:
                setattr(cfg, key, raw[key])
        cfg.sampling = Sampling.from_dict(raw.get("sampling"))
    except TypeError as exc:
        raise BadInput(f"config file {path}: {exc}") from None
    if os.environ.get("QWQCHAT_MODEL"):
        cfg.model = os.environ["QWQCHAT_MODEL"]
    return cfg.validate()


def save_keys(updates: Dict[str, Any], path: Optional[Path] = None) -> None:
    """Set top-level keys in the config file, keeping everything else in it."""
    import tomli_w

    path = path or paths.config_path()
    raw: Dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise BadInput(f"config file {path} is not valid TOML; not overwriting it") from None
    for key, value in updates.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    tmp = path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(raw, fh)
    os.replace(tmp, path)


def with_flags(cfg: Config, args: Any) -> Config:
    """Apply command-line flags (those given) on top of the file and environment."""
    for flag, key in (("model", "model"), ("ctx", "ctx"), ("kv_cache", "kv_cache"), ("yarn", "yarn"),
                      ("threads", "threads"), ("gpu_layers", "gpu_layers"), ("system", "system_prompt")):
        value = getattr(args, flag, None)
        if value is not None:
            setattr(cfg, key, value)
    cfg.sampling = cfg.sampling.merged(**sampling_flags(args))
    return cfg.validate()


def sampling_flags(args: Any) -> Dict[str, Any]:
    names = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "max_tokens", "seed")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
