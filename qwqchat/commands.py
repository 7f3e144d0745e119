"""What each subcommand does; ``cli`` parses, this module acts."""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import Iterator, Optional

from . import config as config_mod
from . import export as export_mod
from . import paths
from .chat import run_turn
from .engines.base import AnswerDelta, HistoryTrimmed, LoopDetected, ReasoningDelta, TurnDone, TurnResult
from .engines.factory import build_engine
from .errors import BadInput, QwqError
from .files import inside, write_output
from .fit import gib
from .store import Store
from .text import age, json_line, printable, shown

NO_ANSWER = 3  # exit code: the turn ended without an answer, so a script can tell it from an empty one


def _read_prompt(args: argparse.Namespace) -> str:
    prompt = args.prompt
    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise BadInput("no prompt: give it as an argument or on stdin")
        prompt = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # bad bytes become U+FFFD
    if not prompt.strip():
        raise BadInput("the prompt is empty")
    return prompt


class _Printer:
    """Reasoning dimmed on stderr, answer on stdout, control characters made harmless."""

    def __init__(self, show_reasoning: bool) -> None:
        self.show_reasoning = show_reasoning
        self.dim = sys.stderr.isatty()
        self.reasoning_open = False

    def reasoning(self, text: str) -> None:
        if not self.show_reasoning:
            return
        if self.dim and not self.reasoning_open:
            sys.stderr.write("\x1b[2m")
        self.reasoning_open = True
        sys.stderr.write(printable(text))
        sys.stderr.flush()

    def end_reasoning(self) -> None:
        if self.reasoning_open:
            sys.stderr.write(("\x1b[0m" if self.dim else "") + "\n\n")
            sys.stderr.flush()
            self.reasoning_open = False

    def answer(self, text: str) -> None:
        self.end_reasoning()
        sys.stdout.write(printable(text))
        sys.stdout.flush()


def ask(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args)
    cfg = config_mod.with_flags(config_mod.load(profile=args.profile), args)
    disk = Store()
    if args.chat is not None:
        conv = disk.get(args.chat)
        sampling = (
            config_mod.Sampling.from_dict(conv.settings).merged(**config_mod.sampling_flags(args))
            if conv.settings
            else cfg.sampling
        )
    else:
        conv = None
        sampling = cfg.sampling
    engine = _loaded_engine(cfg, sampling)

    store = disk
    if args.no_save:  # work in a scratch copy; the real database is not touched
        store = Store(":memory:")
    with store.transaction():  # the chat and its prompt together: a failure leaves no empty "New chat"
        if conv is None:
            cid = store.create_conversation(
                model=engine.name, system_prompt=cfg.system_prompt, settings=sampling.to_dict()
            )
        elif args.no_save:
            cid = export_mod.import_json(store, export_mod.to_json(conv))
        else:
            cid = conv.id
        store.add_user_message(cid, prompt)
    return _run(engine, store, cid, sampling, args, None if args.no_save else cid)


def answer(args: argparse.Namespace) -> int:
    """Continue a reply that stopped while thinking: close its thinking and let the model answer."""
    cfg = config_mod.with_flags(config_mod.load(profile=args.profile), args)
    store = Store()
    conv = store.get(args.id)
    last = conv.messages[-1] if conv.messages else None
    if last is None or not last.stopped_while_thinking:
        raise BadInput(f"the last reply of conversation {args.id} did not stop while thinking")
    sampling = (
        config_mod.Sampling.from_dict(conv.settings).merged(**config_mod.sampling_flags(args))
        if conv.settings
        else cfg.sampling
    )
    engine = _loaded_engine(cfg, sampling)
    if not engine.can_end_thinking:
        raise BadInput("answering from saved thinking needs the local engine (a remote server cannot continue it)")
    return _run(engine, store, args.id, sampling, args, args.id, answer_from_thinking=True)


def _loaded_engine(cfg, sampling):
    engine = build_engine(cfg)
    engine.load()
    if sampling.think_budget and not engine.can_end_thinking:
        print("qwqchat: the thinking budget is not available with a remote server; ignoring it", file=sys.stderr)
    return engine


def _run(
    engine,
    store: Store,
    cid: int,
    sampling,
    args: argparse.Namespace,
    shown_id: Optional[int],
    answer_from_thinking: bool = False,
) -> int:
    cancel, end_thinking = threading.Event(), threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        events = run_turn(engine, store, cid, sampling, cancel, end_thinking, answer_from_thinking=answer_from_thinking)
        result = _stream(events, args, cancel, end_thinking, engine.can_end_thinking)
    finally:
        signal.signal(signal.SIGINT, previous)

    if args.json:
        print(
            json_line(
                {
                    "conversation_id": shown_id,
                    "reasoning": result.reasoning,
                    "answer": result.answer,
                    "finish_reason": result.finish_reason,
                    "error": result.error,
                    "unclosed_thinking": result.unclosed_thinking,
                    "stats": result.stats.to_dict(),
                }
            )
        )
    if result.finish_reason == "error":
        print(f"qwqchat: error: {shown(result.error or 'generation failed')}", file=sys.stderr)
        return 1
    if result.finish_reason == "cancelled":
        print("qwqchat: stopped; the partial reply was kept", file=sys.stderr)
        return 130
    if result.unclosed_thinking and not result.answer and shown_id and engine.can_end_thinking:
        print(f"qwqchat: to let the model answer from its thinking so far: qwqchat answer {shown_id}", file=sys.stderr)
    return NO_ANSWER if not result.answer.strip() else 0


def _stream(
    events: Iterator,
    args: argparse.Namespace,
    cancel: threading.Event,
    end_thinking: threading.Event,
    can_end_thinking: bool,
) -> TurnResult:
    out = _Printer(show_reasoning=not getattr(args, "hide_reasoning", False))
    result = TurnResult()
    on_loop = getattr(args, "on_loop", "warn")
    for event in events:
        if isinstance(event, LoopDetected):
            out.end_reasoning()
            what = {
                "warn": "use --on-loop=stop|answer to act on it",
                "stop": "stopping",
                "answer": "ending the thinking so the model answers"
                if can_end_thinking
                else "stopping (a remote server cannot end the thinking)",
            }[on_loop]
            print(
                f"qwqchat: warning: the thinking is repeating itself ({event.repeats}× "
                f'"{printable(event.span.strip()[:60])}…"); {what}',
                file=sys.stderr,
            )
            if on_loop == "stop" or (on_loop == "answer" and not can_end_thinking):
                cancel.set()
            elif on_loop == "answer":
                end_thinking.set()
            continue
        if args.json and isinstance(event, (ReasoningDelta, AnswerDelta)):
            continue  # --json prints one object at the end; the notes below still go to stderr
        if isinstance(event, ReasoningDelta):
            out.reasoning(event.text)
        elif isinstance(event, AnswerDelta):
            out.answer(event.text)
        elif isinstance(event, HistoryTrimmed):
            print(f"qwqchat: {event.dropped_turns} oldest turn(s) left out to fit the context", file=sys.stderr)
        elif isinstance(event, TurnDone):
            result = event.result
            out.end_reasoning()
            if result.answer and not args.json:
                sys.stdout.write("\n")
            if result.stats.intervention == "think-budget":
                print(
                    f"qwqchat: thinking budget reached ({result.stats.reasoning_tokens:,} tokens); "
                    "the model was asked to answer",
                    file=sys.stderr,
                )
            if result.unclosed_thinking and result.finish_reason != "error":
                print("qwqchat: the model stopped while thinking — no answer", file=sys.stderr)
            elif result.finish_reason == "length":
                print("qwqchat: reply cut off at the token limit", file=sys.stderr)
    return result


def stats(args: argparse.Namespace) -> int:
    """Medians of thinking and speed over one conversation's replies or all of them."""
    from .stats import summarise

    store = Store()
    convs = [store.get(args.id)] if args.id is not None else [store.get(c.id) for c in store.list_conversations()]
    summary = summarise([m for c in convs for m in c.messages if m.role == "assistant"])
    if args.json:
        print(json.dumps(summary))
        return 0
    scope = f"conversation {args.id}" if args.id is not None else f"{len(convs)} conversation(s)"
    print(f"{scope}: {summary['replies']} replies")
    for key, label in (
        ("median_thinking_tokens", "median thinking tokens"),
        ("median_thinking_s", "median thinking time (s)"),
        ("median_answer_tokens", "median answer tokens"),
        ("median_tokens_per_s", "median decode tokens/s"),
        ("median_ttft_s", "median time to first token (s)"),
        ("total_tokens", "tokens generated in all"),
        ("stopped_while_thinking", "replies that stopped while thinking"),
        ("loops_detected", "replies where the thinking looped"),
        ("interventions", "thinking ended by qwqchat"),
    ):
        value = summary[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, float):
            value = f"{value:,.2f}"
        elif value is None:
            value = "—"
        print(f"  {label:<38} {value}")
    return 0


def list_(args: argparse.Namespace) -> int:
    convs = Store().list_conversations(args.limit)
    if args.json:
        print(
            json_line(
                [
                    {"id": c.id, "title": c.title, "created": c.created, "updated": c.updated, "model": c.model}
                    for c in convs
                ]
            )
        )
        return 0
    if not convs:
        print('no conversations yet: try  qwqchat ask "…"', file=sys.stderr)
    for c in convs:
        print(f"{c.id:>5}  {age(c.updated, short=True):>9}  {printable(c.title)}")
    return 0


def show(args: argparse.Namespace) -> int:
    conv = Store().get(args.id)
    sys.stdout.write(printable(export_mod.to_markdown(conv, reasoning=not args.no_reasoning)))
    return 0


def search(args: argparse.Namespace) -> int:
    hits = Store().search(args.query)
    if args.json:
        print(json_line([h.__dict__ for h in hits]))
        return 0
    if not hits:
        print(f"nothing matches {printable(repr(args.query))}", file=sys.stderr)
        return 1
    for h in hits:
        print(
            f"{h.conversation_id:>5}  {age(h.updated, short=True):>9}  {printable(h.title)}  —  {printable(h.snippet)}"
        )
    return 0


def rm(args: argparse.Namespace) -> int:
    store = Store()
    for cid in args.id:
        store.get(cid)  # every id must exist before anything is deleted
    for cid in args.id:
        store.delete(cid)
        print(f"deleted conversation {cid}", file=sys.stderr)
    return 0


def export(args: argparse.Namespace) -> int:
    store = Store()
    if args.all:
        if not args.output or args.output == "-":
            raise BadInput("export --all needs -o DIR")
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        convs = store.list_conversations()
        for c in convs:
            target = inside(folder, folder / f"{c.id}.{'json' if args.json else 'md'}")
            write_output(str(target), _render(store.get(c.id), args), args.force)
        print(f"exported {len(convs)} conversation(s) to {printable(str(folder))}", file=sys.stderr)
        return 0
    if args.id is None:
        raise BadInput("export needs a conversation id (or --all -o DIR)")
    text = _render(store.get(args.id), args)
    if args.output and args.output != "-":
        write_output(args.output, text, args.force)
        print(f"wrote {printable(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _render(conv, args: argparse.Namespace) -> str:
    if args.json:
        return export_mod.dumps(conv) + "\n"
    return printable(export_mod.to_markdown(conv, reasoning=not args.no_reasoning))


def _read_import(name: str) -> bytes:
    """The bytes of a regular file (or stdin, ``-``), at most ``MAX_IMPORT_BYTES``: no device, pipe or folder."""
    limit = export_mod.MAX_IMPORT_BYTES
    if name == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise BadInput(f"no such file: {name}") from None
        except OSError as exc:
            raise BadInput(f"cannot read {name}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise BadInput(f"{name} is not a regular file (import reads files, or stdin with -)")
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInput(f"{name} is larger than {limit // 2**20} MiB; not a conversation export")
    return data


def import_(args: argparse.Namespace) -> int:
    path = args.file
    try:
        data = json.loads(_read_import(path).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd numbers or nesting
        raise BadInput(f"{path} is not JSON: {str(exc).splitlines()[0][:200]}") from None
    cid = export_mod.import_json(Store(), data)
    print(cid)
    return 0


def pull(args: argparse.Namespace) -> int:
    """Download a model with a progress bar (size, speed, ETA); resumable; verified; then the default."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from . import catalog, hub
    from .recommend import recommend, this_machine

    cfg = config_mod.load()
    ctx = args.ctx or cfg.ctx
    kv = args.kv_cache or cfg.kv_cache
    machine = this_machine()
    setting: dict = {}
    if args.spec is None:
        rec = recommend(catalog.MODELS, machine, ctx, kv)
        o = rec.option
        print(f"qwqchat: {machine.where} with {gib(machine.available)} free: {rec.reason}", file=sys.stderr)
        target = hub.Target(o.model.repo, [o.quant.filename], o.quant.name)
        setting = {"ctx": o.ctx, "kv_cache": o.kv}  # what the fit was reckoned at: the default with the model
    else:
        target = hub.resolve(args.spec, ctx=ctx, kv_type=kv, available=machine.available)
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
        except hub.HubInterrupted as exc:
            raise QwqError(f"{exc}; run the same command again to resume") from None
    if not args.no_default:
        config_mod.save_keys({"model": str(path), **setting})
        extra = f" (context {setting['ctx']:,}, {setting['kv_cache']} KV cache)" if setting else ""
        print(f"qwqchat: {path} is now the default model{extra}", file=sys.stderr)
    print(path)
    return 0


def models(args: argparse.Namespace) -> int:
    from . import hub
    from .recommend import this_machine

    cfg = config_mod.load()
    extra = list(cfg.raw.get("local_models", []))
    if cfg.model:
        extra.append(cfg.model)
    found = hub.local_models(extra)
    if args.use:
        chosen = None
        if args.use.isdigit() and 1 <= int(args.use) <= len(found):
            chosen = found[int(args.use) - 1].path
        else:
            path = Path(args.use).expanduser()
            if not path.is_file():
                raise BadInput(f"no model {args.use!r}: give a number from `qwqchat models` or a .gguf path")
            from . import gguf_header

            gguf_header.read(path)  # refuse what is not a usable GGUF
            chosen = path.resolve()
            if str(chosen) not in extra:
                config_mod.save_keys({"local_models": sorted(set(cfg.raw.get("local_models", [])) | {str(chosen)})})
        config_mod.save_keys({"model": str(chosen)})
        print(f"qwqchat: default model is now {chosen}", file=sys.stderr)
        return 0
    machine = this_machine()
    where = machine.where
    rows = [hub.describe_local(m, cfg.ctx, cfg.kv_cache, machine.available) for m in found]
    default = str(Path(cfg.model).expanduser().resolve()) if cfg.model else None
    for r in rows:
        r["default"] = default is not None and str(Path(r["path"]).resolve()) == default
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no local models: `qwqchat pull` downloads the reasoning model that fits this machine", file=sys.stderr)
        return 0
    print(f"{'#':>3}  {'size':>9}  {'quant':<8} {'arch':<8} {'context':>8}  {'fits ' + where:<10} model")
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
            f"{ctx:>8}  {fits:<10} {r['name']}{'  (' + r['error'] + ')' if r.get('error') else ''}"
        )
    return 0


def show_paths(args: argparse.Namespace) -> int:
    print(f"config   {paths.config_path()}")
    print(f"database {paths.db_path()}")
    print(f"logs     {paths.log_dir()}")
    return 0


def tui(args: argparse.Namespace) -> int:
    from .ui.run import run_app

    return run_app(args)
