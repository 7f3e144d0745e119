"""Settings: defaults < config file < environment < command-line flags.

The file is TOML (``qwqchat paths`` prints where).  The app writes it back
through tomlkit, so a user's keys, comments and layout survive.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from . import paths
from .checks import conforms, dataclass_problem, type_name
from .errors import BadInput
from .text import shown
from .types import Sampling

KV_TYPES = ("f16", "q8_0", "q4_0")
MAX_CTX = 1 << 20
MAX_THREADS = 1024
MAX_ATTACH_KB = 1 << 16  # 64 MB: more than any context holds
MAX_DRAFT = 64


@dataclass(frozen=True)
class Key:
    """One config key: its type (checked when the file is read), default and what it does."""

    type: Any
    default: Any
    help: str


# Every key the config file (and a [profiles.NAME] table) may hold: the one schema.
KEYS: Dict[str, Key] = {
    "model": Key(Optional[str], None, "GGUF file of the local model (a remote profile: the server's model name)"),
    "ctx": Key(int, 32768, "context size in tokens, capped at the model's"),
    "kv_cache": Key(str, "f16", "KV-cache type: f16, q8_0 (half the memory) or q4_0"),
    "yarn": Key(bool, False, "YaRN long context (up to 4x the native context)"),
    "kv_cache_disk_mb": Key(int, 4096, "MB of disk for recent chats' KV state, for instant reopening (0: off)"),
    "threads": Key(Optional[int], None, "CPU threads (default: all physical cores)"),
    "gpu_layers": Key(Optional[int], None, "layers to offload (-1: all; default: all when the build has a GPU)"),
    "draft": Key(int, 0, "prompt-lookup speculative decoding: tokens drafted a step from the context (0: off)"),
    "system_prompt": Key(Optional[str], None, "system prompt of a new conversation"),
    "theme": Key(Optional[str], None, "the UI theme (also set from the command palette)"),
    "keep_reasoning_open": Key(bool, False, "leave the thinking pane open when the answer starts"),
    "watch_fps": Key(int, 1, "frames a second while you only watch a reply stream (1-30; more is smoother, slower)"),
    "attach_max_kb": Key(int, 256, "largest file `ask -f` and the attach dialog take, in KB"),
    "endpoint": Key(Optional[str], None, "an OpenAI-compatible server instead of a local file"),
    "remote_model": Key(Optional[str], None, "the server's model name (default: the first it lists)"),
    "api_key": Key(Optional[str], None, "the server's API key (prefer QWQCHAT_API_KEY or api_key_env)"),
    "api_key_env": Key(Optional[str], None, "read the server's API key from this environment variable"),
    "sampling": Key(Optional[dict], None, "the [sampling] table: temperature, top_p, top_k, min_p, …"),
    "local_models": Key(Optional[List[str]], None, "GGUF files outside the download folder that `models` lists"),
    "profiles": Key(Optional[dict], None, "[profiles.NAME] tables chosen with --profile NAME"),
    "fast_profile": Key(Optional[str], None, "a [profiles.NAME] table that answers Quick messages (a small model)"),
}
SAMPLING_KEYS = tuple(f.name for f in fields(Sampling))


@dataclass
class Config:
    model: Optional[str] = KEYS["model"].default
    ctx: int = KEYS["ctx"].default
    kv_cache: str = KEYS["kv_cache"].default
    yarn: bool = KEYS["yarn"].default
    kv_cache_disk_mb: int = KEYS["kv_cache_disk_mb"].default
    threads: Optional[int] = KEYS["threads"].default
    gpu_layers: Optional[int] = KEYS["gpu_layers"].default
    draft: int = KEYS["draft"].default
    system_prompt: Optional[str] = KEYS["system_prompt"].default
    sampling: Sampling = field(default_factory=Sampling)
    theme: Optional[str] = KEYS["theme"].default
    keep_reasoning_open: bool = KEYS["keep_reasoning_open"].default
    watch_fps: int = KEYS["watch_fps"].default
    fast_profile: Optional[str] = KEYS["fast_profile"].default
    attach_max_kb: int = KEYS["attach_max_kb"].default
    endpoint: Optional[str] = None
    remote_model: Optional[str] = None
    api_key: Optional[str] = field(default=None, repr=False)  # memory only: never written anywhere
    profile: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict)
    sampling_flags: Dict[str, Any] = field(default_factory=dict)  # the sampling given on the command line

    def sampling_for(self, settings: Optional[Dict[str, Any]], flags_win: bool = True) -> Sampling:
        """A conversation's saved sampling (if any), with the command-line flags on top when ``flags_win``.

        ``ask --chat ID --temperature X`` overrides one turn; in the UI a chat's own settings (edited in its
        settings screen) win over the flags the app was started with, which only shape new chats.
        """
        if not settings:
            return self.sampling
        return Sampling.from_dict(settings).merged(**(self.sampling_flags if flags_win else {}))

    def validate(self) -> "Config":
        if self.kv_cache not in KV_TYPES:
            raise BadInput(f"kv_cache must be one of {', '.join(KV_TYPES)}, not {self.kv_cache!r}")
        if not 256 <= self.ctx <= MAX_CTX:
            raise BadInput(f"ctx must be between 256 and {MAX_CTX:,} tokens, not {self.ctx}")
        if self.kv_cache_disk_mb < 0:
            raise BadInput(f"kv_cache_disk_mb must be 0 (off) or more, not {self.kv_cache_disk_mb}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise BadInput(f"threads must be between 1 and {MAX_THREADS}, not {self.threads}")
        if not 1 <= self.watch_fps <= 30:
            raise BadInput(f"watch_fps must be between 1 and 30, not {self.watch_fps}")
        if not 1 <= self.attach_max_kb <= MAX_ATTACH_KB:
            raise BadInput(f"attach_max_kb must be between 1 and {MAX_ATTACH_KB:,}, not {self.attach_max_kb}")
        if self.gpu_layers is not None and not -1 <= self.gpu_layers <= 10_000:
            raise BadInput(f"gpu_layers must be -1 (all) or a layer count, not {self.gpu_layers}")
        if not 0 <= self.draft <= MAX_DRAFT:
            raise BadInput(f"draft must be between 0 (off) and {MAX_DRAFT} tokens, not {self.draft}")
        return self


def _warn(line: str) -> None:
    print(f"qwqchat: warning: {shown(line)}", file=sys.stderr)


def load(
    path: Optional[Path] = None,
    profile: Optional[str] = None,
    warn: Callable[[str], None] = _warn,
    model_env: bool = True,
) -> Config:
    """Read the config file (missing is fine), a named profile in it, then the environment.

    Keys the schema does not know are ignored with one warning line each (``warn``).  ``model_env=False``
    leaves QWQCHAT_MODEL out: the fast profile's model is its own, never the main one's.
    """
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
        for line in misplaced(raw, f"config file {path}"):
            warn(line)
        _apply(cfg, raw)
        cfg.sampling = Sampling.from_dict(raw.get("sampling"))
        if profile:
            profiles = raw.get("profiles") or {}
            if profile not in profiles:
                names = ", ".join(sorted(profiles)) or "none defined"
                raise BadInput(f"no profile {profile!r} in {path} (profiles: {names})")
            chosen = profiles[profile]
            _check_types(chosen, f"config file {path}, profile {profile!r}")
            for line in misplaced(chosen, f"config file {path}, profile {profile!r}"):
                warn(line)
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
    if model_env and os.environ.get("QWQCHAT_MODEL"):
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
    "kv_cache_disk_mb",
    "threads",
    "gpu_layers",
    "draft",
    "system_prompt",
    "theme",
    "keep_reasoning_open",
    "watch_fps",
    "fast_profile",
    "attach_max_kb",
    "endpoint",
    "remote_model",
    "api_key",
)


def _check_types(table: Any, where: str) -> None:
    """One line naming the key and the type it needs, before any value is used."""
    if not isinstance(table, dict):
        raise BadInput(f"{where}: must be a table")
    for key, spec in KEYS.items():
        if key in table and not conforms(table[key], spec.type):
            raise BadInput(f"{where}: {key} must be {type_name(spec.type)}, not {table[key]!r}"[:300])
    if table.get("local_models") and not all(isinstance(m, str) for m in table["local_models"]):
        raise BadInput(f"{where}: local_models must be a list of file paths")
    problem = dataclass_problem(Sampling, table.get("sampling") or {})
    if problem:
        raise BadInput(f"{where}: [sampling] {problem}")


def misplaced(table: Mapping[str, Any], where: str) -> List[str]:
    """One line for each key the schema does not know, naming where it belongs if it belongs elsewhere."""
    lines = []
    for key in table:
        if key in SAMPLING_KEYS:
            lines.append(f"{where}: {key} belongs under [sampling]; ignored")
        elif key not in KEYS:
            lines.append(f"{where}: unknown key {key}; ignored")
    sampling = table.get("sampling") or {}
    for key in sampling:
        if key in KEYS:
            lines.append(f"{where}: [sampling] {key} belongs at the top level; ignored")
        elif key not in SAMPLING_KEYS:
            lines.append(f"{where}: unknown key [sampling] {key}; ignored")
    return lines


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


def fast_settings(cfg: Config, path: Optional[Path] = None) -> Config:
    """The engine settings of ``cfg.fast_profile``: the file's top level with that profile on top."""
    assert cfg.fast_profile
    fast = load(path, profile=cfg.fast_profile, warn=lambda line: None, model_env=False)
    table = (fast.raw.get("profiles") or {})[cfg.fast_profile]
    if not table.get("model") and not table.get("endpoint"):  # else Quick would load a second main model
        raise BadInput(f"the fast profile {cfg.fast_profile!r} names no model file or endpoint")
    return fast


def resolve(flags: Mapping[str, Any]) -> Config:
    """The one precedence, for the CLI and the TUI alike: defaults < config file < environment < flags."""
    return _with_flags(load(profile=flags.get("profile")), flags)


def _with_flags(cfg: Config, flags: Mapping[str, Any]) -> Config:
    """Apply the command-line flags given (those not None) on top of the file and environment."""
    if flags.get("endpoint"):
        cfg.endpoint = flags["endpoint"]
    if flags.get("api_key"):
        cfg.api_key = flags["api_key"]
    for flag, key in (
        ("model", "remote_model" if cfg.endpoint else "model"),
        ("ctx", "ctx"),
        ("kv_cache", "kv_cache"),
        ("yarn", "yarn"),
        ("threads", "threads"),
        ("gpu_layers", "gpu_layers"),
        ("draft", "draft"),
        ("system", "system_prompt"),
    ):
        if flags.get(flag) is not None:
            setattr(cfg, key, flags[flag])
    cfg.sampling_flags = {n: flags[n] for n in SAMPLING_KEYS if flags.get(n) is not None}
    cfg.sampling = cfg.sampling.merged(**cfg.sampling_flags)
    return cfg.validate()
