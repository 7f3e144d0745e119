"""Read what a GGUF file says about itself without loading its weights.

The ``gguf`` package's reader parses every vocabulary entry into numpy
arrays (2.7 s for a 49k-token vocabulary here); this reads the key/value
header and skips arrays, which is all the engine, the fit estimate and
``models`` need, in milliseconds.
"""

from __future__ import annotations

import errno
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import ModelError, QwqError

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Truncated(Exception):
    pass


@dataclass
class GGUFInfo:
    path: Path
    size: int
    version: int
    tensor_count: int
    metadata: Dict[str, Any] = field(default_factory=dict)
    data_offset: int = 0
    tensor_end: int = 0  # where the last tensor's data starts (a lower bound on the size)

    def _arch_key(self, suffix: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{suffix}")

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def context_length(self) -> Optional[int]:
        return self._arch_key("context_length")

    @property
    def block_count(self) -> Optional[int]:
        return self._arch_key("block_count")

    @property
    def head_count(self) -> Optional[int]:
        return self._arch_key("attention.head_count")

    @property
    def head_count_kv(self) -> Optional[int]:
        kv = self._arch_key("attention.head_count_kv")
        return kv if kv is not None else self.head_count

    @property
    def head_dim(self) -> Optional[int]:
        dim = self._arch_key("attention.key_length")
        if dim is None and self.head_count:
            emb = self._arch_key("embedding_length")
            dim = emb // self.head_count if emb else None
        return dim

    @property
    def chat_template(self) -> Optional[str]:
        return self.metadata.get("tokenizer.chat_template")


def read(path: os.PathLike | str) -> GGUFInfo:
    """Validate and read a GGUF header; a bad file raises ``ModelError`` with one clear line."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a directory; point at the .gguf file inside it")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if size < 24:
                raise ModelError(f"{path} is not a GGUF model file (only {size} bytes)")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _parse(path, size, mm)
    except PermissionError:
        raise ModelError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ENOMEM:
            raise QwqError(f"not enough memory to open {path.name}") from None
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parse(path: Path, size: int, buf) -> GGUFInfo:
    if buf[:4] != MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (qwqchat runs .gguf files made for llama.cpp)")
    version = struct.unpack_from("<I", buf, 4)[0]
    if version not in (2, 3):
        raise ModelError(f"{path} is GGUF version {version}; this build reads versions 2 and 3")
    pos = 8
    try:
        tensor_count, kv_count = struct.unpack_from("<QQ", buf, pos)
        pos += 16
        meta: Dict[str, Any] = {}
        for _ in range(kv_count):
            key, pos = _string(buf, pos)
            vtype = struct.unpack_from("<I", buf, pos)[0]
            value, pos = _value(buf, pos + 4, vtype)
            meta[key] = value
        max_offset = 0
        for _ in range(tensor_count):
            _, pos = _string(buf, pos)
            n_dims = struct.unpack_from("<I", buf, pos)[0]
            pos += 4 + 8 * n_dims + 4
            offset = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
            max_offset = max(max_offset, offset)
    except (struct.error, _Truncated, UnicodeDecodeError, ValueError):
        raise ModelError(f"{path} is truncated or damaged (its GGUF header ends early); download it again") from None
    align = int(meta.get("general.alignment", 32)) or 32
    data_offset = (pos + align - 1) // align * align
    info = GGUFInfo(path, size, version, tensor_count, meta, data_offset, data_offset + max_offset)
    if tensor_count and info.tensor_end >= size:
        raise ModelError(f"{path} is truncated ({size:,} bytes, but its tensors need more); download it again")
    return info


def _string(buf, pos: int):
    n = struct.unpack_from("<Q", buf, pos)[0]
    end = pos + 8 + n
    if end > len(buf):
        raise _Truncated
    return bytes(buf[pos + 8 : end]).decode("utf-8"), end


def _value(buf, pos: int, vtype: int):
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if vtype == _STRING:
        return _string(buf, pos)
    if vtype == _ARRAY:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if etype in _SCALARS:
            width = struct.calcsize(_SCALARS[etype])
            if count <= 16:
                items = list(struct.unpack_from("<" + _SCALARS[etype][1] * count, buf, pos))
                return items, pos + width * count
            return f"<array of {count}>", pos + width * count
        if etype == _STRING:
            items = []
            for i in range(count):
                n = struct.unpack_from("<Q", buf, pos)[0]
                if i < 16:
                    items.append(bytes(buf[pos + 8 : pos + 8 + n]).decode("utf-8", "replace"))
                pos += 8 + n
                if pos > len(buf):
                    raise _Truncated
            return (items if count <= 16 else f"<array of {count}>"), pos
        raise ValueError(f"unsupported nested array type {etype}")
    raise ValueError(f"unknown GGUF value type {vtype}")
