"""Settings: defaults < config file < environment < command-line flags.

The file is TOML (``qwqchat paths`` prints where).  The app writes it back
through tomlkit, so a user's keys, comments and layout survive.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from . import paths
from .checks import conforms, dataclass_problem, type_name
from .errors import BadInput
from .types import Sampling

KV_TYPES = ("f16", "q8_0", "q4_0")
MAX_CTX = 1 << 20
MAX_THREADS = 1024

# Every key the config file (and a [profiles.NAME] table) may hold, with its type: the start of a schema.
KEYS: Dict[str, Any] = {
    "model": Optional[str],
    "ctx": int,
    "kv_cache": str,
    "yarn": bool,
    "threads": Optional[int],
    "gpu_layers": Optional[int],
    "system_prompt": Optional[str],
    "theme": Optional[str],
    "keep_reasoning_open": bool,
    "endpoint": Optional[str],
    "remote_model": Optional[str],
    "api_key": Optional[str],
    "api_key_env": Optional[str],
    "sampling": Optional[dict],
    "local_models": Optional[List[str]],
    "profiles": Optional[dict],
}


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
    endpoint: Optional[str] = None  # an OpenAI-compatible server instead of a local file
    remote_model: Optional[str] = None
    api_key: Optional[str] = field(default=None, repr=False)  # memory only: never written anywhere
    profile: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "Config":
        if self.kv_cache not in KV_TYPES:
            raise BadInput(f"kv_cache must be one of {', '.join(KV_TYPES)}, not {self.kv_cache!r}")
        if not 256 <= self.ctx <= MAX_CTX:
            raise BadInput(f"ctx must be between 256 and {MAX_CTX:,} tokens, not {self.ctx}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise BadInput(f"threads must be between 1 and {MAX_THREADS}, not {self.threads}")
        if self.gpu_layers is not None and not -1 <= self.gpu_layers <= 10_000:
            raise BadInput(f"gpu_layers must be -1 (all) or a layer count, not {self.gpu_layers}")
        return self


def load(path: Optional[Path] = None, profile: Optional[str] = None) -> Config:
    """Read the config file (missing is fine), a named profile in it, then the environment."""
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
        _check_types(raw, f"config file {path}")
        _apply(cfg, raw)
        cfg.sampling = Sampling.from_dict(raw.get("sampling"))
        if profile:
            profiles = raw.get("profiles") or {}
            if profile not in profiles:
                names = ", ".join(sorted(profiles)) or "none defined"
                raise BadInput(f"no profile {profile!r} in {path} (profiles: {names})")
            chosen = profiles[profile]
            _check_types(chosen, f"config file {path}, profile {profile!r}")
            if "endpoint" in chosen:  # a remote profile: its "model" is the server's model name
                cfg.endpoint, cfg.remote_model = chosen["endpoint"], chosen.get("model")
                chosen = {k: v for k, v in chosen.items() if k not in ("endpoint", "model")}
            else:
                cfg.endpoint = None
            _apply(cfg, chosen)
            if chosen.get("api_key_env"):
                cfg.api_key = os.environ.get(chosen["api_key_env"]) or cfg.api_key
            if "sampling" in chosen:
                cfg.sampling = cfg.sampling.merged(**chosen["sampling"])
            cfg.profile = profile
    except (TypeError, AttributeError) as exc:
        raise BadInput(f"config file {path}: {exc}") from None
    if os.environ.get("QWQCHAT_MODEL"):
        cfg.model = os.environ["QWQCHAT_MODEL"]
    if os.environ.get("QWQCHAT_THREADS"):
        try:
            cfg.threads = int(os.environ["QWQCHAT_THREADS"])
        except ValueError:
            raise BadInput(f"QWQCHAT_THREADS must be a whole number, not {os.environ['QWQCHAT_THREADS']!r}") from None
    cfg.api_key = os.environ.get("QWQCHAT_API_KEY") or os.environ.get("OPENAI_API_KEY") or cfg.api_key
    return cfg.validate()


_FIELDS = (
    "model",
    "ctx",
    "kv_cache",
    "yarn",
    "threads",
    "gpu_layers",
    "system_prompt",
    "theme",
    "keep_reasoning_open",
    "endpoint",
    "remote_model",
    "api_key",
)


def _check_types(table: Any, where: str) -> None:
    """One line naming the key and the type it needs, before any value is used."""
    if not isinstance(table, dict):
        raise BadInput(f"{where}: must be a table")
    for key, kind in KEYS.items():
        if key in table and not conforms(table[key], kind):
            raise BadInput(f"{where}: {key} must be {type_name(kind)}, not {table[key]!r}"[:300])
    if table.get("local_models") and not all(isinstance(m, str) for m in table["local_models"]):
        raise BadInput(f"{where}: local_models must be a list of file paths")
    problem = dataclass_problem(Sampling, table.get("sampling") or {})
    if problem:
        raise BadInput(f"{where}: [sampling] {problem}")


def _apply(cfg: Config, table: Dict[str, Any]) -> None:
    for key in _FIELDS:
        if key in table:
            setattr(cfg, key, table[key])


def save_keys(updates: Dict[str, Any], path: Optional[Path] = None) -> None:
    """Set top-level keys in the config file; tomlkit keeps the user's comments and layout."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from .files import atomic_write

    path = path or paths.config_path()
    doc = tomlkit.document()
    if path.exists():
        try:
            doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        except (TOMLKitError, UnicodeDecodeError):
            raise BadInput(f"config file {path} is not valid TOML; not overwriting it") from None
    for key, value in updates.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    atomic_write(path, tomlkit.dumps(doc), private=True)


def with_flags(cfg: Config, args: Any) -> Config:
    """Apply command-line flags (those given) on top of the file and environment."""
    if getattr(args, "endpoint", None):
        cfg.endpoint = args.endpoint
    if getattr(args, "api_key", None):
        cfg.api_key = args.api_key
    for flag, key in (
        ("model", "remote_model" if cfg.endpoint else "model"),
        ("ctx", "ctx"),
        ("kv_cache", "kv_cache"),
        ("yarn", "yarn"),
        ("threads", "threads"),
        ("gpu_layers", "gpu_layers"),
        ("system", "system_prompt"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            setattr(cfg, key, value)
    cfg.sampling = cfg.sampling.merged(**sampling_flags(args))
    return cfg.validate()


def sampling_flags(args: Any) -> Dict[str, Any]:
    names = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "max_tokens", "seed", "think_budget")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
