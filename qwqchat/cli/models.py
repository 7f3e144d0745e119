"""Model commands: pull (download), models (what is here, which is the default), paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import click

from .. import config as config_mod
from .. import paths as paths_mod
from ..errors import BadInput, QwqError
from ..models.fit import gib
from ..text import age, printable
from .options import Whole, flags, shared


@click.command()
@click.argument("spec", metavar="[REPO[:QUANT]|REPO/FILE.gguf]", required=False)
@shared("--ctx", type=Whole(256, config_mod.MAX_CTX), metavar="N", help="context to fit (default 32768)")
@shared("--kv-cache", type=click.Choice(config_mod.KV_TYPES), help="KV-cache type to fit (default f16)")
@click.option("--no-default", is_flag=True, help="do not make it the default model")
def pull(spec: Optional[str], no_default: bool) -> int:
    """Download a model (default: QwQ-32B if it fits this machine, else the reasoning model that does).

    The download shows size, speed and time left, resumes after a break and is verified; the model becomes
    the default. SPEC is a repo, a repo and quant, or one file, e.g. Qwen/QwQ-32B-GGUF:Q5_K_M or
    bartowski/Qwen_QwQ-32B-GGUF.
    """
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from ..models import catalog, hub, hub_errors
    from ..models.recommend import recommend, this_machine

    cfg = config_mod.resolve(flags(click.get_current_context()))  # --ctx, --kv-cache: the fit to reckon at
    ctx, kv = cfg.ctx, cfg.kv_cache
    machine = this_machine()
    setting: dict = {}
    if spec is None:
        rec = recommend(catalog.MODELS, machine, ctx, kv)
        o = rec.option
        print(f"qwqchat: {machine.where} with {gib(machine.available)} free: {rec.reason}", file=sys.stderr)
        target = hub.Target(o.model.repo, [o.quant.filename], o.quant.name)
        setting = {"ctx": o.ctx, "kv_cache": o.kv}  # what the fit was reckoned at: the default with the model
    else:
        target = hub.resolve(spec, ctx=ctx, kv_type=kv, available=machine.available)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    ]
    tasks = {}
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:

        def progress(name: str, done: int, total: Optional[int]) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        try:
            path = hub.pull(target, progress)
        except KeyboardInterrupt:  # Ctrl+C: the partial file stays for the next run
            raise QwqError("download stopped; run the same command again to resume") from None
        except hub_errors.HubInterrupted as exc:
            raise QwqError(f"{exc}; run the same command again to resume") from None
    if not no_default:
        config_mod.save_keys({"model": str(path), **setting})
        extra = f" (context {setting['ctx']:,}, {setting['kv_cache']} KV cache)" if setting else ""
        print(f"qwqchat: {path} is now the default model{extra}", file=sys.stderr)
    print(path)
    return 0


@click.command()
@click.option("--use", metavar="ID|PATH", help="make this model (a number from the list, or a .gguf path) the default")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def models(use: Optional[str], as_json: bool) -> int:
    """Local GGUF models: size, quant, architecture, context, fit, when last used, default (*).

    Besides the Hugging Face cache and the config's models, every GGUF loaded before is listed;
    one that is gone since is shown as missing (it cannot be chosen with --use).
    """
    from ..models import local
    from ..models.recommend import this_machine

    cfg = config_mod.load()
    used = local.used_models()
    extra = list(cfg.raw.get("local_models", []))
    if cfg.model:
        extra.append(cfg.model)
    found = local.local_models(extra + list(used))
    missing = [p for p in used if not Path(p).is_file()]
    if use:
        chosen = None
        if use.isdigit() and 1 <= int(use) <= len(found):
            chosen = found[int(use) - 1].path
        else:
            path = Path(use).expanduser()
            if not path.is_file():
                raise BadInput(f"no model {use!r}: give a number from `qwqchat models` or a .gguf path")
            from .. import gguf_header

            gguf_header.read(path)  # refuse what is not a usable GGUF
            chosen = path.resolve()
            if str(chosen) not in extra:
                config_mod.save_keys({"local_models": sorted(set(cfg.raw.get("local_models", [])) | {str(chosen)})})
        config_mod.save_keys({"model": str(chosen)})
        print(f"qwqchat: default model is now {chosen}", file=sys.stderr)
        return 0
    machine = this_machine()
    where = machine.where
    rows = [local.describe_local(m, cfg.ctx, cfg.kv_cache, machine.available) for m in found]
    default = str(Path(cfg.model).expanduser().resolve()) if cfg.model else None
    for r in rows:
        r["default"] = default is not None and str(Path(r["path"]).resolve()) == default
        r["used"] = used.get(str(Path(r["path"]).resolve()))
    gone: List[Dict[str, Any]] = [
        {"path": p, "name": p, "missing": True, "used": used[p], "default": False} for p in missing
    ]
    if as_json:
        print(json.dumps(rows + gone))
        return 0
    if not rows and not gone:
        print("no local models: `qwqchat pull` downloads the reasoning model that fits this machine", file=sys.stderr)
        return 0
    print(f"{'#':>3}  {'size':>9}  {'quant':<8} {'arch':<8} {'context':>8}  {'fits ' + where:<10} {'used':>9}  model")
    for i, r in enumerate(rows, 1):
        fits = (
            "—"
            if r.get("fits") is None
            else ("yes" if r["fits"] else f"{r.get('gpu_layers', 0)} layers" if where == "GPU" else "no")
        )
        mark = "*" if r["default"] else " "
        ctx = f"{r['context_length']:,}" if r.get("context_length") else "?"
        print(
            f"{i:>3}{mark} {gib(r['size']):>9}  {r['quant'] or '?':<8} {r['architecture'] or '?':<8} "
            f"{ctx:>8}  {fits:<10} {_used(r['used'])}  {r['name']}{'  (' + r['error'] + ')' if r.get('error') else ''}"
        )
    for g in gone:
        print(f"{'-':>3}  {'missing':>9}  {'':<8} {'':<8} {'':>8}  {'':<10} {_used(g['used'])}  {printable(g['name'])}")
    return 0


def _used(when: Optional[float]) -> str:
    return f"{age(when, short=True):>9}" if when else f"{'—':>9}"


@click.command()
def paths() -> int:
    """Print where config, data and logs live."""
    print(f"config   {paths_mod.config_path()}")
    print(f"database {paths_mod.db_path()}")
    print(f"logs     {paths_mod.log_dir()}")
    print(f"cache    {paths_mod.cache_dir()}")
    return 0
