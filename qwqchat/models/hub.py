"""Getting models: resolving what the user names and downloading it (the list of local files: local.py).

huggingface-hub does the downloading (the standard cache, so files other tools
fetched are reused; ``HF_HOME``, ``HF_TOKEN`` and ``HF_ENDPOINT`` work as
usual; interrupted downloads resume from their ``.incomplete`` file).  This
module adds what it does not: the disk-space check before starting, progress
for our UI, a SHA-256 check against the hub's LFS checksum before a file is
trusted, and one-line errors.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..errors import BadInput, QwqError
from ..files import inside
from . import catalog, fit
from .catalog import SPLIT_RE, quant_of
from .hub_errors import PullCancelled, hub_endpoint, hub_error

REPO = catalog.QWQ.repo
CATALOGUE = list(catalog.QWQ.quants)  # QwQ-32B's quants, smallest first
HEX40 = re.compile(r"[0-9a-f]{40}")
HEX64 = re.compile(r"[0-9a-f]{64}")
REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

Progress = Callable[[str, int, Optional[int]], None]  # (file name, bytes done, bytes total)


@dataclass
class Target:
    repo: str
    files: List[str]
    quant: Optional[str] = None


def resolve(
    spec: str, ctx: int = 32768, kv_type: str = "f16", available: Optional[int] = None, endpoint: Optional[str] = None
) -> Target:
    """``REPO``, ``REPO:QUANT`` or ``REPO/FILE.gguf`` (with no spec, see ``recommend``)."""
    if spec.lower().endswith(".gguf"):
        parts = spec.split("/")
        if len(parts) < 3:
            raise BadInput(f"{spec!r}: name a file as OWNER/REPO/FILE.gguf")
        repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
        _check_repo(repo)
        if not safe_repo_path(filename):
            raise BadInput(f"{spec!r}: not a file name inside the repository")
        files = _with_split_parts(filename)
        return Target(repo, files, quant_of(filename))
    repo, _, quant = spec.partition(":")
    if repo.count("/") != 1:
        raise BadInput(f"{spec!r}: expected OWNER/REPO, OWNER/REPO:QUANT or OWNER/REPO/FILE.gguf")
    _check_repo(repo)
    try:
        files = [f for f in _list_files(repo, endpoint) if f.lower().endswith(".gguf")]
    except Exception as exc:
        raise hub_error(exc, repo) from None
    files = [f for f in files if safe_repo_path(f)]  # a hostile listing must not name paths outside the repo
    if not files:
        raise BadInput(f"{repo} has no .gguf files")
    if quant:
        chosen = [f for f in files if (quant_of(f) or "").upper() == quant.upper()]
        if not chosen:
            have = ", ".join(sorted({q for f in files if (q := quant_of(f))})) or "none recognised"
            raise BadInput(f"{repo} has no {quant.upper()} file (quants there: {have})")
    else:
        model = catalog.by_repo(repo) or catalog.QWQ  # its shape, else QwQ's: the usual upload
        order = [q.name for q in reversed(model.quants)]  # largest that we know first…
        fitting = [
            q
            for q in model.quants
            if fit.estimate(q.size, model.shape, min(ctx, model.shape.context_length), kv_type, available).fits
        ]
        best = (fitting[-1] if fitting else model.quants[0]).name
        wanted = order[order.index(best) :] + order[: order.index(best)]
        by_quant: Dict[str, List[str]] = {}
        for f in files:
            by_quant.setdefault((quant_of(f) or "").upper(), []).append(f)
        chosen = next((by_quant[q] for q in wanted if q in by_quant), [sorted(files)[0]])
    first = sorted(chosen)[0]
    parts = [f for f in sorted(chosen) if SPLIT_RE.search(f)] if SPLIT_RE.search(first) else [first]
    return Target(repo, parts, quant_of(first))


def _list_files(repo: str, endpoint: Optional[str]) -> List[str]:
    """The repository's files, one request per page.

    ``HfApi.list_repo_files`` retries a failed request five times with back-off, printing
    "Retrying in 8s" lines for 23 s when offline; one attempt and one clear line serve a user better.
    """
    from huggingface_hub import constants, get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    _quiet_hub_log()
    url: Optional[str] = f"{hub_endpoint(endpoint) or constants.ENDPOINT}/api/models/{repo}/tree/main"
    params: Optional[dict] = {"recursive": "true"}
    files: List[str] = []
    while url:
        r = get_session().get(url, params=params, headers=build_hf_headers(), timeout=constants.HF_HUB_ETAG_TIMEOUT)
        hf_raise_for_status(r)
        files += [e["path"] for e in r.json() if e.get("type") == "file"]
        url, params = r.links.get("next", {}).get("url"), None
    return files


def _quiet_hub_log() -> None:
    """huggingface-hub logs warnings to stderr, which would scribble over the TUI: keep only its errors."""
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _check_repo(repo: str) -> None:
    if not REPO_RE.fullmatch(repo) or ".." in repo:
        raise BadInput(f"{repo!r} is not a repository name (OWNER/REPO)")


def safe_repo_path(name: str) -> bool:
    """A relative path of plain parts: nothing that could climb out of the folder it is joined to."""
    if not name or "\\" in name or name.startswith("/") or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _with_split_parts(filename: str) -> List[str]:
    """Every part of a split model, named from its first (or any) part."""
    m = SPLIT_RE.search(filename)
    if not m:
        return [filename]
    total = int(m.group(2))
    stem = filename[: m.start()]
    return [f"{stem}-{i:05d}-of-{total:05d}.gguf" for i in range(1, total + 1)]


def _tqdm_class(progress: Optional[Progress], cancel: Optional[threading.Event], name: str):
    from tqdm.std import tqdm as base

    class Hook(base):  # huggingface-hub reports download progress through a tqdm class
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            self._done = kwargs.get("initial") or 0
            self._total = kwargs.get("total")
            super().__init__(*args, **kwargs)
            if progress:
                progress(name, self._done, self._total)

        def update(self, n=1):
            self._done += n or 0
            if cancel is not None and cancel.is_set():
                raise PullCancelled(f"download of {name} stopped; run it again to resume")
            if progress:
                progress(name, self._done, self._total)

    return Hook


def verify(
    path: Path,
    sha256: Optional[str],
    progress: Optional[Progress] = None,
    cancel: Optional[threading.Event] = None,
    name: Optional[str] = None,
) -> bool:
    """Check a downloaded file against the hub's SHA-256; a mismatch deletes it, no checksum is refused."""
    if not sha256 or not HEX64.fullmatch(sha256):
        raise QwqError(f"{name or path.name} has no SHA-256 from the hub and cannot be verified; refusing it")
    name = name or path.name
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(f"verifying {name}", done, size)
            if cancel is not None and cancel.is_set():
                raise PullCancelled("verification stopped; run the command again")
    if digest.hexdigest() != sha256:
        path.unlink(missing_ok=True)  # never leave a corrupt file to be loaded as a model
        raise QwqError(
            f"{name} is corrupt (its SHA-256 does not match the hub's); it was deleted — "
            "run the command again to download it afresh"
        )
    return True


def pull(
    target: Target,
    progress: Optional[Progress] = None,
    cancel: Optional[threading.Event] = None,
    endpoint: Optional[str] = None,
) -> Path:
    """Download (or find in the cache) every file of ``target``, verify it, return the first file's path.

    Files land in the standard Hugging Face cache layout (``blobs/<sha256>`` plus a
    ``snapshots/<commit>/<file>`` link), so other tools see them and we see theirs.
    huggingface-hub 2.x deletes a partial file when a download fails; to resume on
    the next run the bytes go to ``blobs/<sha256>.qwqchat-partial`` through the
    hub's own ``http_get`` (which resumes with a Range request), and the blob only
    appears once its size and SHA-256 are right.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    endpoint = hub_endpoint(endpoint)
    _quiet_hub_log()
    _check_repo(target.repo)
    plans = []
    for filename in target.files:
        try:
            meta = get_hf_file_metadata(hf_hub_url(target.repo, filename, endpoint=endpoint), endpoint=endpoint)
        except Exception as exc:
            raise hub_error(exc, target.repo, filename) from None
        plans.append(_plan(target.repo, filename, meta))
    need = sum(p["remaining"] for p in plans)
    if need:
        probe = next((d for d in [plans[0]["blob"].parent, *plans[0]["blob"].parents] if d.exists()), Path("/"))
        free = shutil.disk_usage(probe).free
        if free < need:
            raise QwqError(
                f"not enough disk space in {probe}: the download needs {fit.gib(need)} more, {fit.gib(free)} is free"
            )
    paths = [_fetch(plan, progress, cancel) for plan in plans]
    return paths[0]  # the first part: llama.cpp finds the others beside it


def _plan(repo: str, filename: str, meta) -> dict:
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")
    etag = (meta.etag or "").replace("W/", "").strip('"')
    if not etag or not meta.commit_hash:
        raise QwqError(f"the hub gave no version for {repo}/{filename}; try again later")
    if not HEX40.fullmatch(meta.commit_hash):
        raise QwqError(f"the hub sent a malformed commit hash for {repo}/{filename}; refusing to download")
    if not HEX64.fullmatch(etag):  # a .gguf is an LFS file: its ETag is its SHA-256
        raise QwqError(
            f"the hub gave no SHA-256 for {repo}/{filename}, so the download cannot be verified; refusing it"
        )
    if not safe_repo_path(filename):
        raise QwqError(f"the hub named a file outside the repository ({filename!r}); refusing it")
    blob = inside(storage, storage / "blobs" / etag)
    pointer = inside(storage, storage / "snapshots" / meta.commit_hash / filename)
    partial = blob.with_name(etag + ".qwqchat-partial")
    have = blob.stat().st_size if blob.exists() else (partial.stat().st_size if partial.exists() else 0)
    return {
        "repo": repo,
        "filename": filename,
        "meta": meta,
        "storage": storage,
        "etag": etag,
        "blob": blob,
        "pointer": pointer,
        "partial": partial,
        "remaining": 0 if blob.exists() else max(0, (meta.size or 0) - have),
    }


def _fetch(plan: dict, progress: Optional[Progress], cancel: Optional[threading.Event]) -> Path:

    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    blob, partial, pointer, meta = plan["blob"], plan["partial"], plan["pointer"], plan["meta"]
    name = plan["filename"]
    if not blob.exists():
        blob.parent.mkdir(parents=True, exist_ok=True)
        resume = partial.stat().st_size if partial.exists() else 0
        try:
            with open(partial, "ab") as fh:
                http_get(
                    meta.location,
                    fh,
                    resume_size=resume,
                    headers=build_hf_headers(),
                    expected_size=meta.size,
                    displayed_filename=name,
                    tqdm_class=_tqdm_class(progress, cancel, name),
                )
        except PullCancelled:
            raise
        except Exception as exc:
            raise hub_error(exc, plan["repo"], name) from None
        if meta.size is not None and partial.stat().st_size != meta.size:
            got = partial.stat().st_size
            partial.unlink()
            raise QwqError(
                f"{name} arrived with {got:,} bytes instead of {meta.size:,}; it was deleted — run the command again"
            )
        verify(partial, plan["etag"], progress, cancel, name)
        partial.replace(blob)  # only a complete, verified file ever becomes a blob
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not pointer.exists():
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:  # no symlinks (some filesystems): a copy works too
            shutil.copyfile(blob, pointer)
    refs = plan["storage"] / "refs" / "main"
    refs.parent.mkdir(parents=True, exist_ok=True)
    refs.write_text(meta.commit_hash)
    return pointer
