"""Which model, quant, context and KV cache to get for a machine, and why, in one line.

Pure: ``recommend(models, machine, ...)`` reads nothing of the machine it runs
on (``this_machine()`` does that), so tests describe machines instead.  The
order is the issue's: QwQ-32B at the best quant that fits at the asked context;
else QwQ-32B at a q8_0 KV cache or a shorter context; else the largest smaller
reasoning model that fits fully.  With no GPU every token reads all the weights
from RAM, so a model that fits but would crawl (below ``MIN_CPU_SPEED``) is
passed over too, and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from . import fit
from . import machine as probe
from .catalog import Model, Quant

SHORT_CTX = 16384  # the shortest context we recommend: reasoning routinely takes thousands of tokens
MIN_CPU_SPEED = 4.0  # tokens/s; a 2,000-token thinking then takes ~8 minutes


@dataclass(frozen=True)
class Machine:
    gpus: Tuple[fit.Gpu, ...] = ()
    ram_free: Optional[int] = None
    cores: Optional[int] = None

    @property
    def where(self) -> str:
        return "GPU" if self.gpus else "CPU"

    @property
    def available(self) -> Optional[int]:
        """Free memory to fit a model into: all GPUs' free memory, else system RAM."""
        return sum(g.free for g in self.gpus) if self.gpus else self.ram_free

    def speed(self, est: fit.Estimate) -> float:
        gpu_bw = min(fit.gpu_bandwidth(g.name) for g in self.gpus) if self.gpus else None
        return fit.tokens_per_s(est, gpu_bw, fit.cpu_bandwidth(self.cores))


def this_machine() -> Machine:
    return Machine(tuple(probe.gpus()), probe.system_available(), probe.physical_cores())


@dataclass(frozen=True)
class Option:
    """One model and quant at one context and KV type, with its fit and speed on a machine."""

    model: Model
    quant: Quant
    ctx: int
    kv: str
    estimate: fit.Estimate
    speed: float  # tokens/s, rough

    @property
    def label(self) -> str:
        return f"{self.model.name} {self.quant.name}"

    @property
    def setting(self) -> str:
        return f"{self.ctx // 1024}K context, {self.kv} KV"

    def describe(self, where: str) -> str:
        """Fit and speed, e.g. 'fits at 16K context, q8_0 KV · ~4.2 tokens/s'."""
        if self.estimate.fits:
            fits = f"fits at {self.setting}"
        elif where == "GPU":
            fits = f"{self.estimate.gpu_layers()}/{self.estimate.layers + 1} layers on the GPU at {self.setting}"
        else:
            fits = f"too big for RAM at {self.setting} (needs {fit.gib(self.estimate.total)})"
        return f"{fits} · ~{self.speed:.1f} tokens/s"


@dataclass(frozen=True)
class Recommendation:
    option: Option
    reason: str  # one line, for the first-run screen and `qwqchat pull`

    @property
    def fits(self) -> bool:
        return self.option.estimate.fits


def settings(ctx: int, kv: str) -> List[Tuple[int, str]]:
    """The asked setting first, then q8_0 KV (when asked for f16), then a shorter context."""
    kvs = [kv, "q8_0"] if kv == "f16" else [kv]
    ladder = [(c, k) for c in (ctx, min(ctx, SHORT_CTX)) for k in kvs]
    return list(dict.fromkeys(ladder))


def option(model: Model, quant: Quant, machine: Machine, ctx: int, kv: str) -> Option:
    ctx = min(ctx, model.shape.context_length)
    est = fit.estimate(quant.size, model.shape, ctx, kv, machine.available)
    return Option(model, quant, ctx, kv, est, machine.speed(est))


def best_fit(model: Model, machine: Machine, ctx: int, kv: str) -> Optional[Option]:
    """At the first setting where some quant fits fully: the largest on a GPU, the fastest on a CPU."""
    for c, k in settings(ctx, kv):
        fitting = [o for o in (option(model, q, machine, c, k) for q in model.quants) if o.estimate.fits]
        if fitting:
            return fitting[-1] if machine.gpus else fitting[0]
    return None


def _usable(o: Optional[Option], machine: Machine) -> bool:
    return o is not None and (bool(machine.gpus) or o.speed >= MIN_CPU_SPEED)


def _shortfall(o: Option, machine: Machine) -> str:
    return (
        f"{o.label} needs {fit.gib(o.estimate.total)} even at {o.setting}; "
        f"this machine has {fit.gib(machine.available)} free{' on the GPU' if machine.gpus else ''}"
    )


def recommend(models: Sequence[Model], machine: Machine, ctx: int = 32768, kv: str = "f16") -> Recommendation:
    """The model to get, and why (``models[0]`` is the one preferred: QwQ-32B)."""
    first = models[0]
    lead = best_fit(first, machine, ctx, kv)
    if lead is not None and _usable(lead, machine):
        tail = "" if (lead.ctx, lead.kv) == settings(ctx, kv)[0] else f" (not at {ctx // 1024}K with {kv} KV)"
        return Recommendation(
            lead, f"{lead.label} fits this {machine.where} at {lead.setting}{tail}, ~{lead.speed:.1f} tokens/s"
        )
    if lead is not None:
        why = f"{lead.label} fits in RAM at {lead.setting} but would run at ~{lead.speed:.1f} tokens/s on this CPU"
    else:
        smallest_setting = settings(ctx, kv)[-1]
        why = _shortfall(option(first, first.quants[0], machine, *smallest_setting), machine)
    smaller = sorted((m for m in models[1:] if m.params < first.params), key=lambda m: -m.params)
    for m in smaller:
        pick = best_fit(m, machine, ctx, kv)
        if pick is not None and _usable(pick, machine):
            return Recommendation(
                pick,
                f"{why}: recommending {pick.label}, {pick.quant.size / 1e9:.1f} GB, "
                f"at {pick.setting}, ~{pick.speed:.1f} tokens/s",
            )
    tiny = min(models, key=lambda m: m.quants[0].size)
    pick = best_fit(tiny, machine, ctx, kv) or option(tiny, tiny.quants[0], machine, *settings(ctx, kv)[-1])
    if pick.estimate.fits:
        return Recommendation(
            pick,
            f"{why}, and every model fits only below {MIN_CPU_SPEED:.0f} tokens/s: "
            f"{pick.label} is the fastest, ~{pick.speed:.1f} tokens/s",
        )
    then = (
        f"it would run at ~{pick.speed:.1f} tokens/s with the rest on the CPU"
        if machine.gpus
        else "free some memory first"
    )
    return Recommendation(pick, f"nothing fits: {_shortfall(pick, machine)}; {then}")


def choices(models: Sequence[Model], machine: Machine, ctx: int = 32768, kv: str = "f16") -> List[Option]:
    """Every model and quant, each at the first setting where it fits (else at the asked one)."""
    out = []
    for m in models:
        for q in m.quants:
            tried = [option(m, q, machine, c, k) for c, k in settings(ctx, kv)]
            out.append(next((o for o in tried if o.estimate.fits), tried[0]))
    return out
