"""Where qwqchat keeps its files.

``QWQCHAT_HOME`` puts data, config and logs under one folder (tests and
scripts use it); otherwise the platform's usual user directories.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "qwqchat"


def _home() -> Path | None:
    home = os.environ.get("QWQCHAT_HOME")
    return Path(home).expanduser() if home else None


def _private_dir(path: Path) -> Path:
    """``path``, created 0700 (with any missing parents) if it is missing; an existing folder keeps
    its permissions (QWQCHAT_HOME may be a shared or sticky directory the user chose)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        try:
            os.chmod(folder, 0o700)
        except OSError:
            pass
    return path


def data_dir() -> Path:
    home = _home()
    if home:
        return _private_dir(home)
    import platformdirs

    return _private_dir(Path(platformdirs.user_data_dir(APP)))


def config_dir() -> Path:
    home = _home()
    if home:
        return _private_dir(home)
    import platformdirs

    return _private_dir(Path(platformdirs.user_config_dir(APP)))


def log_dir() -> Path:
    home = _home()
    if home:
        return _private_dir(home / "logs")
    import platformdirs

    return _private_dir(Path(platformdirs.user_log_dir(APP)))


def cache_dir() -> Path:
    """Files qwqchat can rebuild (chats' KV state): safe to delete."""
    home = _home()
    if home:
        return _private_dir(home / "cache")
    import platformdirs

    return _private_dir(Path(platformdirs.user_cache_dir(APP)))


def db_path() -> Path:
    return data_dir() / "qwqchat.db"


def config_path() -> Path:
    return config_dir() / "config.toml"


def llama_log_path() -> Path:
    return log_dir() / "llama.log"


LOG_CAP = 1024 * 1024  # bytes a log file may reach before it is moved aside at the next open
LOG_KEEP = 3  # older logs kept: name.1 (newest) … name.3


def open_log(path: Path, cap: int = LOG_CAP, keep: int = LOG_KEEP):
    """Append to a log, first rotating it (name.1 … name.KEEP, the oldest dropped) once it has passed ``cap``."""
    try:
        full = path.stat().st_size >= cap
    except OSError:
        full = False
    if full:
        for i in range(keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{i + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))
    return open_private(path)


def open_private(path: Path, mode: str = "a"):
    """Open a text file that only the user can read (0600), creating it if needed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8", errors="replace")
