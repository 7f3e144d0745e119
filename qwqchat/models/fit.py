"""Will a model fit?  (Arithmetic only, no I/O: engines use it; ``machine.py`` probes the machine.)

  Weights + KV cache + a compute margin, against free GPU (or system) memory.

Figures come from the GGUF header (layers, KV heads, head size; no weights
are read) or, for files not downloaded yet, from the catalogue's shapes.  The
same estimate picks the recommended model and how many layers to offload.
Decoding is memory-bandwidth bound (every token reads all the weights), so the
expected speed is the bandwidth of where the weights sit over their size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

GiB = 1024**3
COMPUTE_MARGIN = 1 * GiB  # llama.cpp's compute buffers at 32K context, roughly
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}  # bytes per element (q8_0/q4_0 blocks of 32)
CPU_BANDWIDTH = 40e9  # bytes/s a desktop CPU streams from RAM; decoding reads all weights per token
# ...but a few cores cannot use all of it: measured here, 2 threads decode SmolLM2-135M Q4_1 (98 MB) at
# ~82 tokens/s, i.e. ~4 GB/s of weights per core.
CORE_BANDWIDTH = 4e9
GPU_EFFICIENCY = 0.7  # llama.cpp reaches 60-85 % of a card's memory bandwidth
GPU_BANDWIDTH = (  # bytes/s by a part of the name nvidia-smi reports; the first match wins
    ("H200", 4.8e12),
    ("H100", 3.35e12),
    ("A100", 1.9e12),
    ("5090", 1.79e12),
    ("4090", 1.01e12),
    ("3090", 9.36e11),
    ("L40", 8.64e11),
    ("A6000", 7.68e11),
    ("4080", 7.17e11),
    ("3080", 7.6e11),
    ("4070", 5.04e11),
    ("3070", 4.48e11),
    ("3060", 3.6e11),
    ("4060", 2.72e11),
)
DEFAULT_GPU_BANDWIDTH = 3e11  # a card we do not know: a cautious mid-range figure


@dataclass
class Shape:
    layers: int
    kv_heads: int
    head_dim: int
    context_length: int


def kv_bytes(shape: Shape, ctx: int, kv_type: str = "f16") -> int:
    """K and V for every layer, KV head, head dimension and token."""
    return int(2 * shape.layers * shape.kv_heads * shape.head_dim * ctx * KV_BYTES[kv_type])


def shape_of(info) -> Optional[Shape]:
    """A Shape from a ``gguf_header.GGUFInfo`` (None when the header lacks the figures)."""
    if not (info.block_count and info.head_count_kv and info.head_dim):
        return None
    return Shape(info.block_count, info.head_count_kv, info.head_dim, info.context_length or 0)


@dataclass
class Estimate:
    weights: int
    kv: int
    margin: int
    available: Optional[int]  # free memory on the GPU(s), or RAM when there is none
    layers: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.margin

    @property
    def fits(self) -> bool:
        return self.available is not None and self.total <= self.available

    def gpu_layers(self) -> int:
        """Layers to offload: all (-1) when everything fits, else as many as the free memory holds."""
        if self.fits:
            return -1
        if not self.available:
            return 0
        per_layer = (self.weights + self.kv) / (self.layers + 1)
        return max(0, min(self.layers, int((self.available - self.margin) // per_layer)))


def estimate(weights: int, shape: Shape, ctx: int, kv_type: str, available: Optional[int]) -> Estimate:
    return Estimate(weights, kv_bytes(shape, ctx, kv_type), COMPUTE_MARGIN, available, shape.layers)


@dataclass
class Gpu:
    """A card as nvidia-smi reports it (``machine.gpus``); memory in bytes."""

    name: str
    total: int
    free: int


def cpu_bandwidth(cores: Optional[int] = None) -> float:
    """Bytes/s of weights the CPU reads while decoding: RAM's limit, or fewer cores' own."""
    return CPU_BANDWIDTH if cores is None else min(CPU_BANDWIDTH, cores * CORE_BANDWIDTH)


def cpu_tokens_per_s(weights: int, cores: Optional[int] = None) -> float:
    """A rough CPU decode speed: every token reads all the weights from RAM."""
    return cpu_bandwidth(cores) / weights


def gpu_bandwidth(name: str) -> float:
    return next((bw for part, bw in GPU_BANDWIDTH if part in name.upper()), DEFAULT_GPU_BANDWIDTH)


def tokens_per_s(est: Estimate, gpu_bw: Optional[float], cpu_bw: float) -> float:
    """Decode speed when the offloaded layers' share of the weights sits on a GPU and the rest in RAM."""
    share = 0.0
    if gpu_bw:
        layers = est.gpu_layers()
        share = 1.0 if layers < 0 else layers / (est.layers + 1)
    seconds = est.weights * share / ((gpu_bw or 1) * GPU_EFFICIENCY) + est.weights * (1 - share) / cpu_bw
    return 1 / seconds


def gib(n: Optional[int]) -> str:
    return "?" if n is None else f"{n / GiB:.1f} GiB"
