"""The reasoning models qwqchat knows before anything is downloaded: data only.

Each entry gives what the fit estimate needs without the file (weights from
the quant's size on the hub; layers, KV heads and head size from the model's
config) and how the model starts its thinking.  Sizes are the hub's listed
file sizes, rounded (approximate: uploads get re-quantized now and then).
After a download the GGUF header's own figures replace these.

QwQ-32B is why the app exists and comes first; the others are for machines
it does not fit.  At equal size Qwen3 comes before the DeepSeek-R1 distill:
it scores higher on the reasoning benchmarks of its report and its KV cache
is smaller (fewer layers), so it fits where the distill does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Dict, Optional, Tuple

from .fit import Shape

QUANT_RE = re.compile(r"(I?Q\d_[A-Z0-9_]+?|Q\d_\d|F16|BF16|F32)(?=[.-])", re.I)
SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")  # split GGUFs: NAME-00001-of-00003.gguf

# How a model starts its thinking.
PREFILL = "prefill"  # the template ends the prompt with "<think>\n"; the output holds only "</think>"
SWITCH = "switch"  # the model writes "<think>" itself; the template's enable_thinking=false turns it off
# Qwen3's switch is left on (thinking) until the app has a Think/Quick mode to map it to.


@dataclass(frozen=True)
class Quant:
    name: str
    filename: str
    size: int  # bytes


@dataclass(frozen=True)
class Model:
    name: str
    repo: str
    params: float  # billions
    shape: Shape
    thinking: str  # PREFILL or SWITCH
    quants: Tuple[Quant, ...]  # smallest first

    def quant(self, name: str) -> Optional[Quant]:
        return next((q for q in self.quants if q.name == name.upper()), None)


def _quants(pattern: str, gb: Dict[str, float], lower: bool = False) -> Tuple[Quant, ...]:
    """Quants named ``pattern.format(QUANT)`` with their sizes in GB (10^9 bytes), smallest first."""
    made = [Quant(q, pattern.format(q.lower() if lower else q), int(size * 1e9)) for q, size in gb.items()]
    return tuple(sorted(made, key=lambda q: q.size))


def _shape(layers: int, kv_heads: int, ctx: int) -> Shape:
    return Shape(layers=layers, kv_heads=kv_heads, head_dim=128, context_length=ctx)  # every model here: 128


STANDARD = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")


def _sizes(*gb: float) -> Dict[str, float]:
    return dict(zip(STANDARD, gb, strict=True))


QWQ = Model(
    "QwQ-32B",
    "Qwen/QwQ-32B-GGUF",
    32.8,
    _shape(64, 8, 32768),
    PREFILL,
    _quants("qwq-32b-{}.gguf", {"Q4_K_M": 19.9, "Q5_0": 22.6, "Q5_K_M": 23.3, "Q6_K": 26.9, "Q8_0": 34.8}, lower=True),
)


def _qwen3(size: str, params: float, layers: int, gb: Dict[str, float]) -> Model:
    return Model(
        f"Qwen3-{size}",
        f"Qwen/Qwen3-{size}-GGUF",
        params,
        _shape(layers, 8, 40960),
        SWITCH,
        _quants(f"Qwen3-{size}-{{}}.gguf", gb),
    )


def _r1(size: str, params: float, layers: int, kv_heads: int, gb: Dict[str, float]) -> Model:
    name = f"DeepSeek-R1-Distill-Qwen-{size}"
    return Model(
        name,
        f"bartowski/{name}-GGUF",
        params,
        _shape(layers, kv_heads, 131072),
        PREFILL,
        _quants(f"{name}-{{}}.gguf", gb),
    )


MODELS: Tuple[Model, ...] = (
    QWQ,
    _qwen3("32B", 32.8, 64, _sizes(19.8, 23.2, 26.9, 34.8)),
    _r1("32B", 32.8, 64, 8, _sizes(19.85, 23.26, 26.89, 34.82)),
    _qwen3("14B", 14.8, 40, _sizes(9.0, 10.5, 12.1, 15.7)),
    _r1("14B", 14.8, 48, 8, _sizes(8.99, 10.51, 12.12, 15.7)),
    _qwen3("8B", 8.2, 36, _sizes(5.03, 5.85, 6.73, 8.71)),
    _r1("7B", 7.6, 28, 4, _sizes(4.68, 5.44, 6.25, 8.1)),
    _qwen3("4B", 4.0, 36, _sizes(2.5, 2.89, 3.31, 4.28)),
    _qwen3("1.7B", 2.0, 28, {"Q8_0": 1.83}),  # the official uploads of the two smallest are Q8_0 only
    _r1("1.5B", 1.8, 28, 2, _sizes(1.12, 1.29, 1.46, 1.89)),
    _qwen3("0.6B", 0.6, 28, {"Q8_0": 0.64}),
)


def by_repo(repo: str) -> Optional[Model]:
    return next((m for m in MODELS if m.repo.lower() == repo.lower()), None)


def quant_of(filename: str) -> Optional[str]:
    m = QUANT_RE.search(PurePath(filename).name)
    return m.group(1).upper() if m else None
