"""What this machine has for a model: NVIDIA GPUs and their free memory, free RAM, physical cores.

The I/O half of the fit estimate (``fit.py`` is the arithmetic): engines pick GPU layers and
threads from it, ``recommend.this_machine`` describes the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import List, Optional

from .fit import Gpu


def gpus() -> List[Gpu]:
    """NVIDIA GPUs and their free memory, from nvidia-smi (none when it is absent or fails)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        try:
            name, total, free = [p.strip() for p in line.rsplit(",", 2)]
            found.append(Gpu(name, int(float(total)) * 1024**2, int(float(free)) * 1024**2))
        except ValueError:
            continue
    return found


def system_available() -> Optional[int]:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def physical_cores() -> int:
    """Physical cores (hyper-threads slow llama.cpp down); falls back to logical."""
    try:
        cores = set()
        phys = core = None
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip() and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
        if cores:
            return len(cores)
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)
