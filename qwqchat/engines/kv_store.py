"""Chats' KV state on disk, so the next turn of a reopened chat evaluates only its new tokens.

Re-evaluating a long history costs minutes for a 32B model on a CPU; reading it back costs the disk's
speed.  After a turn the engine keeps in llama.cpp's memory only the tokens the chat's next prompt will
start with and writes them with ``llama_state_seq_save_file`` (the tokens and their KV, no logits: the
``Llama.save_state`` scores array is n_tokens x n_vocab floats when ``logits_all`` is on) to one file per
chat, beside a JSON sidecar naming what the state is valid for (model file, context size, KV type, rope
settings, llama-cpp-python version), the tokens themselves, and the file's size and SHA-256.

It is a cache: a file made for another model or setting, damaged or truncated is deleted with a log line,
never a reason for a turn to fail.  The folder stays under a size cap, least recently used chats first out.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import paths
from ..errors import QwqError
from ..files import atomic_write

log = logging.getLogger("qwqchat.engine")

FORMAT = 1
MIN_TOKENS = 32  # a shorter prefix is evaluated faster than a file is written and read
SEQ = 0  # llama-cpp-python keeps everything in sequence 0
STALE_PART_S = 3600  # a half-written file this old belongs to no running save
_CTX_FIELDS = ("type_k", "type_v", "flash_attn_type", "rope_scaling_type", "rope_freq_base", "rope_freq_scale")


def folder() -> Path:
    return paths.cache_dir() / "kv"


def forget(chat_id: int, where: Optional[Path] = None) -> None:
    """Delete a chat's saved state (the chat itself was deleted)."""
    _remove(*_files(where or folder(), chat_id))


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):  # noqa: B905 (stops at the shorter on purpose)
        if x != y:
            break
        n += 1
    return n


def identity(llm: Any, model_path: Path) -> Dict[str, Any]:
    """What a saved state is only valid for: this model file and the context it was computed in."""
    import llama_cpp

    st = model_path.stat()
    params = llm.context_params
    return {
        "model": str(model_path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "n_ctx": llm.n_ctx(),
        **{name: getattr(params, name, None) for name in _CTX_FIELDS},
        "llama_cpp": llama_cpp.__version__,
    }


def _files(where: Path, chat_id: int) -> Tuple[Path, Path]:
    return where / f"{int(chat_id)}.kv", where / f"{int(chat_id)}.json"


def _remove(*files: Path) -> None:
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("kv cache: cannot delete %s: %s", f, exc)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class KvDisk:
    """The folder of saved states, capped at ``cap`` bytes."""

    def __init__(self, cap: int, where: Optional[Path] = None) -> None:
        self.cap = cap
        self._where = where

    @property
    def where(self) -> Path:
        if self._where is None:
            self._where = folder()
        self._where.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self._where

    # -- the folder ---------------------------------------------------------
    def entries(self) -> List[Tuple[float, int, str]]:
        """(last used, bytes, chat) for every chat with files here; half-written files long abandoned go."""
        found: Dict[str, List[float]] = {}
        now = time.time()
        for f in self.where.iterdir():
            try:
                st = f.stat()
            except OSError:
                continue
            if f.name.endswith(".part"):
                if now - st.st_mtime > STALE_PART_S:
                    _remove(f)
                continue
            used_size = found.setdefault(f.stem, [0.0, 0])
            used_size[0] = max(used_size[0], st.st_mtime)
            used_size[1] += st.st_size
        return sorted((used, int(size), stem) for stem, (used, size) in found.items())

    def trim(self, room: int = 0) -> None:
        """Delete the least recently used states until ``room`` more bytes fit under the cap."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        for _, size, stem in entries:
            if total + room <= self.cap:
                break
            log.info("kv cache: evicting chat %s (%d bytes, least recently used)", stem, size)
            _remove(self.where / f"{stem}.kv", self.where / f"{stem}.json")
            total -= size

    def drop(self, chat_id: int) -> None:
        _remove(*_files(self.where, chat_id))

    # -- save and restore ---------------------------------------------------
    def save(self, llm: Any, chat_id: int, keep: int, ident: Dict[str, Any]) -> bool:
        """Write the first ``keep`` tokens of llama's memory (the rest is dropped from it too: the next
        prompt does not share it).  False when nothing was written."""
        import llama_cpp

        self.drop(chat_id)  # whatever this chat had is older than what llama holds now
        keep = min(keep, llm.n_tokens)
        if keep < MIN_TOKENS or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            log.info("kv cache: chat %s not saved: %d shared tokens, too few or not removable", chat_id, keep)
            return False
        llm.n_tokens = keep
        llm._requires_eval = True
        size = int(llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, SEQ))
        if size > self.cap:
            log.info("kv cache: chat %s needs %d bytes, more than the %d-byte cap; not saved", chat_id, size, self.cap)
            return False
        self.trim(room=size)
        state, sidecar = _files(self.where, chat_id)
        part = state.with_name(state.name + ".part")
        tokens = [int(t) for t in llm.input_ids[:keep]]
        started = time.perf_counter()
        try:
            array = (llama_cpp.llama_token * keep)(*tokens)
            if not llama_cpp.llama_state_seq_save_file(llm._ctx.ctx, os.fsencode(part), SEQ, array, keep):
                raise QwqError("llama.cpp could not write it (disk full?)")
            header = {"format": FORMAT, "identity": ident, "tokens": tokens, "bytes": part.stat().st_size}
            header["sha256"] = _sha256(part)
            os.chmod(part, 0o600)  # llama.cpp creates it with the umask's permissions
            os.replace(part, state)
            atomic_write(sidecar, json.dumps(header), private=True)
        except (OSError, QwqError) as exc:
            log.warning("kv cache: chat %s not saved: %s", chat_id, exc)
            _remove(part, state, sidecar)
            return False
        log.info(
            "kv cache: chat %s saved, %d tokens, %d bytes, %.2f s", chat_id, keep, size, time.perf_counter() - started
        )
        return True

    def restore(self, llm: Any, chat_id: int, prompt: Sequence[int], cached: int, ident: Dict[str, Any]) -> int:
        """Load the chat's saved state when it shares more of ``prompt`` than llama's memory (``cached``
        tokens) does.  Returns the tokens of ``prompt`` it covers (0: nothing loaded, memory untouched)."""
        state, sidecar = _files(self.where, chat_id)
        header = self._header(chat_id, sidecar)
        if header is None:
            return 0
        if header["identity"] != ident:
            log.info("kv cache: chat %s was saved for another model or context; deleted", chat_id)
            self.drop(chat_id)
            return 0
        saved: List[int] = header["tokens"]
        shared = common_prefix(saved, prompt)
        if shared <= cached or shared < MIN_TOKENS:  # llama's memory holds as much, or it is not worth a read
            return 0
        try:
            intact = state.stat().st_size == header["bytes"] and _sha256(state) == header["sha256"]
        except OSError:
            intact = False
        if not intact:
            log.warning("kv cache: chat %s's saved state is damaged or incomplete; deleted", chat_id)
            self.drop(chat_id)
            return 0
        if not self._load(llm, state, saved):
            log.warning("kv cache: llama.cpp could not read chat %s's saved state; deleted", chat_id)
            self.drop(chat_id)
            return 0
        os.utime(sidecar)  # most recently used
        log.info("kv cache: chat %s restored, %d tokens (%d shared with the prompt)", chat_id, len(saved), shared)
        return shared

    def _header(self, chat_id: int, sidecar: Path) -> Optional[Dict[str, Any]]:
        try:
            header = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("kv cache: chat %s's header is unreadable (%s); deleted", chat_id, exc)
            self.drop(chat_id)
            return None
        ok = (
            isinstance(header, dict)
            and header.get("format") == FORMAT
            and isinstance(header.get("identity"), dict)
            and isinstance(header.get("tokens"), list)
            and all(isinstance(t, int) for t in header["tokens"])
            and isinstance(header.get("bytes"), int)
            and isinstance(header.get("sha256"), str)
        )
        if not ok:
            log.warning("kv cache: chat %s's header is not one this version wrote; deleted", chat_id)
            self.drop(chat_id)
            return None
        return header

    @staticmethod
    def _load(llm: Any, state: Path, saved: List[int]) -> bool:
        import llama_cpp

        n = len(saved)
        if not 0 < n <= llm.n_ctx():
            return False
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.n_tokens = 0
        llm._requires_eval = True
        out = (llama_cpp.llama_token * n)()
        count = ctypes.c_size_t(0)
        got = llama_cpp.llama_state_seq_load_file(llm._ctx.ctx, os.fsencode(state), SEQ, out, n, ctypes.byref(count))
        if not got or count.value != n or list(out) != saved:
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # a half-read state must not be mistaken for one
            return False
        llm.input_ids[:n] = saved
        llm.n_tokens = n
        return True
