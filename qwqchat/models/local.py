"""The GGUF files already on this machine: the Hugging Face cache and the files the user added.

Reads headers, never weights; nothing here downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .. import gguf_header
from ..errors import QwqError
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
