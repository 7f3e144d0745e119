"""The GGUF files already on this machine: the Hugging Face cache, the files the user added and
those loaded before (``used_models.json`` in the data folder: path -> when it was last loaded).

Reads headers, never weights; nothing here downloads.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .. import gguf_header, paths
from ..errors import QwqError
from ..files import atomic_write
from . import fit
from .catalog import SPLIT_RE, quant_of


@dataclass
class LocalModel:
    path: Path
    size: int
    repo: Optional[str] = None

    @property
    def name(self) -> str:
        return f"{self.repo}/{self.path.name}" if self.repo else str(self.path)


def local_models(extra: List[str]) -> List[LocalModel]:
    """GGUF files in the Hugging Face cache (first part of split files) and those the user added."""
    found: List[LocalModel] = []
    seen = set()
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            for rev in repo.revisions:
                for f in rev.files:
                    if not f.file_name.lower().endswith(".gguf"):
                        continue
                    m = SPLIT_RE.search(f.file_name)
                    if m and m.group(1) != "00001":
                        continue
                    size = f.size_on_disk
                    if m:
                        size = sum(
                            g.size_on_disk for g in rev.files if g.file_name.startswith(f.file_name[: m.start()])
                        )
                    key = str(f.file_path.resolve())
                    if key not in seen:
                        seen.add(key)
                        found.append(LocalModel(f.file_path, size, repo.repo_id))
    except Exception:  # no cache yet, or an unreadable one: list what else we know
        pass
    for p in extra:
        path = Path(p).expanduser()
        if path.is_file() and str(path.resolve()) not in seen:
            seen.add(str(path.resolve()))
            found.append(LocalModel(path, path.stat().st_size))
    return found


USED_FILE = "used_models.json"
USED_CAP = 100  # paths remembered; the least recently used go first

log = logging.getLogger("qwqchat.models")


def used_models() -> Dict[str, float]:
    """Every GGUF loaded before (resolved path -> last load time), newest first; a bad file reads as empty."""
    try:
        data = json.loads((paths.data_dir() / USED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    good = {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, (int, float))}
    return dict(sorted(good.items(), key=lambda kv: -kv[1]))


def record_used(path: Path, when: Optional[float] = None) -> None:
    """Remember that ``path`` loaded (``qwqchat models`` lists it); failing to write it never stops a chat."""
    used = used_models()
    used[str(Path(path).expanduser().resolve())] = when or time.time()
    newest = dict(sorted(used.items(), key=lambda kv: -kv[1])[:USED_CAP])
    try:
        atomic_write(paths.data_dir() / USED_FILE, json.dumps(newest, indent=1), private=True)
    except QwqError as exc:
        log.warning("%s", exc)


def record_engine(engine: object) -> None:
    """After a successful load: remember the engine's GGUF (a remote engine has none)."""
    path = getattr(engine, "path", None)
    if isinstance(path, Path):
        record_used(path)


def describe_local(model: LocalModel, ctx: int = 32768, kv_type: str = "f16", available: Optional[int] = None) -> dict:
    """What ``qwqchat models`` shows for one file (the header is read, the weights are not)."""
    row = {
        "path": str(model.path),
        "name": model.name,
        "size": model.size,
        "quant": quant_of(model.path.name),
        "architecture": None,
        "context_length": None,
        "fits": None,
    }
    try:
        info = gguf_header.read(model.path)
    except QwqError as exc:
        row["error"] = str(exc)
        return row
    row["architecture"] = info.architecture
    row["context_length"] = info.context_length
    shape = fit.shape_of(info)
    if shape and available is not None:
        est = fit.estimate(model.size, shape, min(ctx, shape.context_length or ctx), kv_type, available)
        row["fits"] = est.fits
        row["gpu_layers"] = est.gpu_layers()
    return row
