"""Match the llama.cpp build to the CPU it runs on.

A llama.cpp compiled for instructions this CPU lacks dies with SIGILL on the
first token (a wheel cached or copied from another machine does this), and the
native build on AMX CPUs segfaults in ``ggml_backend_amx_mul_mat`` (llama.cpp
issue 20824).  This module does both halves without importing llama_cpp:

* ``cmake_args(flags)`` — the CMAKE_ARGS to build llama-cpp-python for a CPU
  (``python -m qwqchat.cpu`` prints them; ``.ci/run`` uses it);
* ``mismatch(system_info, flags)`` — what is wrong with a built library, from
  ``llama_print_system_info()``, as one line, or None.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable, Optional, Set

# llama.cpp's system-info name -> (/proc/cpuinfo flag, CMake option that turns it on).
# Listed in the order the build options are written.
FEATURES = (
    ("AVX", "avx", "GGML_AVX"),
    ("AVX2", "avx2", "GGML_AVX2"),
    ("FMA", "fma", "GGML_FMA"),
    ("F16C", "f16c", "GGML_F16C"),
    ("BMI2", "bmi2", "GGML_BMI2"),
    ("AVX_VNNI", "avx_vnni", "GGML_AVX_VNNI"),
    ("AVX512", "avx512f", "GGML_AVX512"),
    ("AVX512_VBMI", "avx512vbmi", "GGML_AVX512_VBMI"),
    ("AVX512_VNNI", "avx512_vnni", "GGML_AVX512_VNNI"),
    ("AVX512_BF16", "avx512_bf16", "GGML_AVX512_BF16"),
)
# Reported by system info but not build options of their own.
EXTRA_FLAGS = {"SSE3": "pni", "SSSE3": "ssse3", "AMX_INT8": "amx_int8", "AMX_BF16": "amx_bf16"}
AMX_OPTIONS = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")

REBUILD = 'CMAKE_ARGS="$(python -m qwqchat.cpu)" pip install --force-reinstall --no-cache-dir llama-cpp-python'


def cpu_flags(cpuinfo: str) -> Optional[Set[str]]:
    """The feature flags of the first CPU in a /proc/cpuinfo text; None when it has none (not x86)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return None


def read_cpu_flags(path: str = "/proc/cpuinfo") -> Optional[Set[str]]:
    try:
        return cpu_flags(Path(path).read_text(errors="replace"))
    except OSError:
        return None


def has_amx(flags: Iterable[str]) -> bool:
    return any(f.startswith("amx") for f in flags)


def cmake_args(flags: Optional[Set[str]], cuda: bool = False) -> str:
    """CMAKE_ARGS for llama-cpp-python on a CPU with these flags.

    Without AMX the native build is right (it compiles for exactly this CPU).
    With AMX, a non-native build that turns on each instruction set the CPU
    reports, and AMX never.  GGML_NATIVE=OFF would also make the CUDA build
    compile for eight GPU generations (far slower to build), so it is told to
    compile for the GPU this machine has, as the native build does.
    """
    args = ["-DGGML_CUDA=on"] if cuda else []
    if flags is None or not has_amx(flags):
        return " ".join(args)
    args.append("-DGGML_NATIVE=OFF")
    if cuda:
        args.append("-DCMAKE_CUDA_ARCHITECTURES=native")
    for _name, flag, option in FEATURES:
        args.append(f"-D{option}={'ON' if flag in flags else 'OFF'}")
    args += [f"-D{option}=OFF" for option in AMX_OPTIONS]
    return " ".join(args)


def built_features(system_info: str) -> Set[str]:
    """Names llama.cpp reports as compiled in ("AVX2 = 1" -> "AVX2")."""
    return {name for name, value in re.findall(r"([A-Z0-9_]+) = (\d+)", system_info) if value != "0"}


def mismatch(system_info: str, flags: Optional[Set[str]]) -> Optional[str]:
    """One line saying why this llama.cpp build cannot run on this CPU, or None."""
    if flags is None:  # not x86, or no /proc: nothing we can check
        return None
    built = built_features(system_info)
    known = {name: flag for name, flag, _ in FEATURES} | EXTRA_FLAGS
    missing = sorted(name for name in built if name in known and known[name] not in flags)
    if missing:
        return (
            f"llama.cpp was built for a CPU with {', '.join(missing)}, which this CPU lacks "
            f"(it would crash with SIGILL); rebuild it for this machine: {REBUILD}"
        )
    if any(name.startswith("AMX") for name in built) and has_amx(flags):
        return (
            "llama.cpp was built with its AMX path, which crashes on this CPU "
            f"(llama.cpp issue 20824); rebuild it without AMX: {REBUILD}"
        )
    return None


def main(argv: Optional[list] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cuda = "--cuda" in argv
    paths = [a for a in argv if not a.startswith("--")]
    print(cmake_args(read_cpu_flags(*paths[:1]), cuda=cuda))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
