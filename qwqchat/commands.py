"""What each subcommand does; ``cli`` parses, this module acts."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from . import config as config_mod
from . import export as export_mod
from . import paths
from .chat import run_turn
from .engines.factory import build_engine
from .engines.base import AnswerDelta, HistoryTrimmed, ReasoningDelta, TurnDone, TurnResult
from .errors import BadInput, QwqError
from .store import Store
from .text import printable


def _age(ts: float) -> str:
    d = max(0.0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if d >= size:
            return f"{int(d // size)}{unit} ago"
    return "just now"


def _read_prompt(args: argparse.Namespace) -> str:
    prompt = args.prompt
    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise BadInput("no prompt: give it as an argument or on stdin")
        prompt = sys.stdin.read()
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
        sampling = config_mod.Sampling.from_dict(conv.settings).merged(**config_mod.sampling_flags(args)) \
            if conv.settings else cfg.sampling
    else:
        conv = None
        sampling = cfg.sampling
    engine = build_engine(cfg)
    engine.load()

    store = disk
    if args.no_save:  # work in a scratch copy; the real database is not touched
        store = Store(":memory:")
    if conv is None:
        cid = store.create_conversation(model=engine.name, system_prompt=cfg.system_prompt,
                                        settings=sampling.to_dict())
    elif args.no_save:
        cid = export_mod.import_json(store, export_mod.to_json(conv))
    else:
        cid = conv.id
    store.add_user_message(cid, prompt)

    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        result = _stream(run_turn(engine, store, cid, sampling, cancel), args)
    finally:
        signal.signal(signal.SIGINT, previous)

    if args.json:
        print(json.dumps({
            "conversation_id": None if args.no_save else cid,
            "reasoning": result.reasoning, "answer": result.answer,
            "finish_reason": result.finish_reason, "error": result.error,
            "unclosed_thinking": result.unclosed_thinking,
            "stats": {k: v for k, v in result.stats.to_dict().items()
                      if k in ("prompt_tokens", "prompt_tokens_evaluated", "reasoning_tokens",
                               "answer_tokens", "ttft_s", "thinking_s", "total_s",
                               "decode_tokens_per_s", "dropped_turns", "context_used", "context_size")},
        }, ensure_ascii=False))
    if result.finish_reason == "error":
        print(f"qwqchat: error: {result.error}", file=sys.stderr)
        return 1
    if result.finish_reason == "cancelled":
        print("qwqchat: stopped; the partial reply was kept", file=sys.stderr)
        return 130
    return 0


def _stream(events: Iterator, args: argparse.Namespace) -> TurnResult:
    out = _Printer(show_reasoning=not args.hide_reasoning)
    result = TurnResult()
    for event in events:
        if args.json:
            if isinstance(event, TurnDone):
                result = event.result
            continue
        if isinstance(event, ReasoningDelta):
            out.reasoning(event.text)
        elif isinstance(event, AnswerDelta):
            out.answer(event.text)
        elif isinstance(event, HistoryTrimmed):
            print(f"qwqchat: {event.dropped_turns} oldest turn(s) left out to fit the context",
                  file=sys.stderr)
        elif isinstance(event, TurnDone):
            result = event.result
            out.end_reasoning()
            if result.answer:
                sys.stdout.write("\n")
            if result.unclosed_thinking and result.finish_reason != "error":
                print("qwqchat: the model stopped while thinking — no answer", file=sys.stderr)
            elif result.finish_reason == "length":
                print("qwqchat: reply cut off at the token limit", file=sys.stderr)
    return result


def list_(args: argparse.Namespace) -> int:
    convs = Store().list_conversations(args.limit)
    if args.json:
        print(json.dumps([{"id": c.id, "title": c.title, "created": c.created, "updated": c.updated,
                           "model": c.model} for c in convs], ensure_ascii=False))
        return 0
    if not convs:
        print("no conversations yet: try  qwqchat ask \"…\"", file=sys.stderr)
    for c in convs:
        print(f"{c.id:>5}  {_age(c.updated):>9}  {printable(c.title)}")
    return 0


def show(args: argparse.Namespace) -> int:
    conv = Store().get(args.id)
    sys.stdout.write(printable(export_mod.to_markdown(conv, reasoning=not args.no_reasoning)))
    return 0


def search(args: argparse.Namespace) -> int:
    hits = Store().search(args.query)
    if args.json:
        print(json.dumps([h.__dict__ for h in hits], ensure_ascii=False))
        return 0
    if not hits:
        print(f"nothing matches {args.query!r}", file=sys.stderr)
        return 1
    for h in hits:
        print(f"{h.conversation_id:>5}  {_age(h.updated):>9}  {printable(h.title)}  —  {printable(h.snippet)}")
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
        if not args.output:
            raise BadInput("export --all needs -o DIR")
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        convs = store.list_conversations()
        for c in convs:
            _write(folder / f"{c.id}.{'json' if args.json else 'md'}",
                   _render(store.get(c.id), args))
        print(f"exported {len(convs)} conversation(s) to {folder}", file=sys.stderr)
        return 0
    if args.id is None:
        raise BadInput("export needs a conversation id (or --all -o DIR)")
    text = _render(store.get(args.id), args)
    if args.output:
        _write(Path(args.output), text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _render(conv, args: argparse.Namespace) -> str:
    if args.json:
        return export_mod.dumps(conv) + "\n"
    return export_mod.to_markdown(conv, reasoning=not args.no_reasoning)


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: a full disk leaves no half file behind."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise QwqError(f"cannot write {path}: {exc.strerror or exc}") from None


def import_(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None
    cid = export_mod.import_json(Store(), data)
    print(cid)
    return 0


def show_paths(args: argparse.Namespace) -> int:
    print(f"config   {paths.config_path()}")
    print(f"database {paths.db_path()}")
    print(f"logs     {paths.log_dir()}")
    return 0


def tui(args: argparse.Namespace) -> int:
    from .ui.run import run_app

    return run_app(args)
