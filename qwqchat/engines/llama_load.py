"""Opening a GGUF file in llama.cpp: the options it is loaded with, its log, and why a load failed.

Kept apart from the engine's generation loop: this part runs once per model and
talks to llama.cpp's loader, the other runs per token.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Optional

from .. import cpu, gguf_header, paths
from ..errors import ModelError, QwqError
from ..models import fit, machine
from ..models.catalog import SPLIT_RE, quant_of
from ..text import printable

log = logging.getLogger("qwqchat.engine")

DEFAULT_CTX = 32768
PENALTY_WINDOW = 1024  # tokens presence_penalty looks back over (llama.cpp's default is 64)
CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# -- llama.cpp's log goes to a file, never to the terminal ---------------------
_log_lock = threading.Lock()
_log_file = None
_recent: Deque[str] = collections.deque(maxlen=200)
_callback = None


def _install_log_sink() -> None:
    global _callback, _log_file
    import llama_cpp

    with _log_lock:
        if _callback is not None:
            return
        try:
            _log_file = paths.open_log(paths.llama_log_path())
        except OSError:
            _log_file = None

        @llama_cpp.llama_log_callback
        def sink(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", "replace")
            _recent.append(line)
            if _log_file is not None:
                try:
                    _log_file.write(line)
                    if line.endswith("\n"):
                        _log_file.flush()
                except (OSError, ValueError):
                    pass

        _callback = sink  # keep a reference: ctypes callbacks must outlive their use
        llama_cpp.llama_log_set(sink, ctypes.c_void_p(0))


def _diagnose_load_failure(path: Path, info: gguf_header.GGUFInfo, ctx: int) -> QwqError:
    recent = "".join(_recent).lower()
    if "unknown model architecture" in recent or "unknown architecture" in recent:
        return ModelError(
            f"{path}: this llama.cpp build does not support the "
            f"'{info.architecture}' architecture; upgrade llama-cpp-python"
        )
    if "not within the file bounds" in recent or "truncated" in recent or "unexpectedly reached end" in recent:
        return ModelError(f"{path} is truncated or damaged; download it again")
    if any(
        s in recent
        for s in (
            "failed to allocate",
            "out of memory",
            "cannot allocate",
            "unable to allocate",
            "mmap failed",
            "failed to mmap",
            "cudamalloc failed",
        )
    ):
        return QwqError(
            f"not enough memory to load {path.name} with a {ctx:,}-token context; "
            "try a smaller quant, --ctx, --kv-cache q8_0 or fewer --gpu-layers"
        )
    last = next((line.strip() for line in reversed(_recent) if line.strip()), "no reason given")
    return ModelError(f"llama.cpp could not load {path}: {last}")


def display_name(info: gguf_header.GGUFInfo) -> str:
    """The model's own name (GGUF ``general.name``) and its quant: "QwQ 32B Q4_K_M", on one line."""
    name = " ".join(printable(info.name).split())[:80]
    quant = quant_of(info.path.name)
    return f"{name} {quant}" if quant and quant.lower() not in name.lower() else name


@dataclass
class Opened:
    """A loaded model: the ``Llama`` object, its chat template and where its layers run."""

    llm: Any
    template: Any
    backend: str  # "CPU", or "CUDA · all layers", "CUDA · 40/65 layers, rest on CPU"


def open_model(
    path: Path,
    info: gguf_header.GGUFInfo,
    *,
    requested_ctx: int,
    kv_cache: str,
    yarn: bool,
    threads: int,
    gpu_layers: Optional[int],
    draft: int = 0,
) -> Opened:
    import llama_cpp

    system = llama_cpp.llama_print_system_info().decode("utf-8", "replace")  # what this build was compiled for
    problem = cpu.mismatch(system, cpu.read_cpu_flags())
    if problem:  # before any llama.cpp compute: a build for another CPU dies with SIGILL on the first token
        raise QwqError(problem)
    _install_log_sink()
    native = info.context_length or DEFAULT_CTX
    limit = native * 4 if yarn else native
    n_ctx = max(256, min(requested_ctx, limit))
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    layers = gpu_layers if gpu_layers is not None else (_auto_layers(path, info, n_ctx, kv_cache) if gpu else 0)
    if not gpu:
        layers = 0
    kv_type = {"f16": None, "q8_0": llama_cpp.GGML_TYPE_Q8_0, "q4_0": llama_cpp.GGML_TYPE_Q4_0}[kv_cache]
    kwargs: Dict[str, Any] = dict(
        n_ctx=n_ctx,
        n_gpu_layers=layers,
        n_threads=threads,
        n_threads_batch=threads,
        # drafting too: without flash attention llama.cpp's CPU attention gives a batch (a token and its
        # draft) other numbers than one token at a time, which changed greedy output after 18-167 tokens
        flash_attn=bool(gpu or kv_type is not None or draft),
        last_n_tokens_size=PENALTY_WINDOW,
        verbose=False,
    )
    if kv_type is not None:
        kwargs.update(type_k=kv_type, type_v=kv_type)
    if yarn:
        kwargs.update(
            rope_scaling_type=llama_cpp.LLAMA_ROPE_SCALING_TYPE_YARN, rope_freq_scale=0.25, yarn_orig_ctx=native
        )
    make: Any = llama_cpp.Llama
    if draft:  # prompt-lookup speculative decoding, up to `draft` tokens a step
        from .lookup import Drafter, DraftingLlama

        make, kwargs["draft_model"] = DraftingLlama, Drafter(draft)
    log.info("loading %s with %s", path, kwargs)
    _recent.clear()
    try:
        llm = make(str(path), **kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        log.warning("load failed: %s", exc)
        raise _diagnose_load_failure(path, info, n_ctx) from None
    except MemoryError:
        raise QwqError(f"not enough memory to load {path.name}") from None

    from .template import ChatTemplate

    model = llm._model
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    template = ChatTemplate(
        info.chat_template or CHATML,
        eos_token=model.token_get_text(eos_id) if eos_id != -1 else "",
        bos_token=model.token_get_text(bos_id) if bos_id != -1 else "",
        source=path.name,
    )
    n_layers = (info.block_count or 0) + 1  # + the output layer, as llama.cpp counts
    offloaded = 0 if layers == 0 else (n_layers if layers < 0 else min(layers, n_layers))
    backend = "CPU"
    if offloaded:
        kind = next((b for b in ("CUDA", "Metal", "Vulkan", "ROCm", "SYCL") if b.upper() in system.upper()), "GPU")
        where = "all layers" if offloaded >= n_layers else f"{offloaded}/{n_layers} layers, rest on CPU"
        backend = f"{kind} · {where}"
    return Opened(llm, template, backend)


def _auto_layers(path: Path, info: gguf_header.GGUFInfo, n_ctx: int, kv_cache: str) -> int:
    """All layers when the model fits the free GPU memory, else as many as do (the fit estimate)."""
    cards = machine.gpus()
    shape = fit.shape_of(info)
    if not cards or shape is None:
        return -1
    weights = info.size
    m = SPLIT_RE.search(path.name)
    if m:  # a split model: count every part
        weights = sum(p.stat().st_size for p in path.parent.glob(path.name[: m.start()] + "-*-of-*.gguf"))
    est = fit.estimate(weights, shape, n_ctx, kv_cache, sum(c.free for c in cards))
    log.info("fit: needs %s, %s free -> gpu layers %s", fit.gib(est.total), fit.gib(est.available), est.gpu_layers())
    return est.gpu_layers()
