"""``ask`` and ``answer``: one turn with the model, streamed to the terminal."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Optional, Tuple

import click

from .. import config as config_mod
from .. import export as export_mod
from .. import quick as quick_mod
from ..attachments import STDIN, check_fits, read_file, with_files
from ..chat import run_turn
from ..engines.factory import build_engine
from ..errors import BadInput
from ..store import Store
from ..text import json_line, shown
from .options import ID, flags, model_options, reply_options
from .printer import ReplyOptions, note, render

NO_ANSWER = 3  # exit code: the turn ended without an answer, so a script can tell it from an empty one


def _read_prompt(prompt: Optional[str]) -> str:
    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise BadInput("no prompt: give it as an argument or on stdin")
        prompt = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # bad bytes become U+FFFD
    if not prompt.strip():
        raise BadInput("the prompt is empty")
    return prompt


@click.command()
@click.argument("prompt", required=False)
@click.option("--chat", type=ID, metavar="ID", help="continue conversation ID")
@click.option("--no-save", is_flag=True, help="do not save the exchange")
@click.option("--quick", is_flag=True, help="answer without thinking (a remote server needs a fast_profile)")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="FILE",
    help="put a text file in the prompt (repeatable; - is stdin)",
)
@reply_options
@model_options
@click.pass_context
def ask(
    ctx: click.Context,
    prompt: Optional[str],
    chat: Optional[int],
    no_save: bool,
    quick: bool,
    files: Tuple[str, ...],
    hide_reasoning: bool,
    as_json: bool,
    on_loop: str,
) -> int:
    """Ask one question, stream the answer.

    PROMPT is the question (default: read stdin).  Each -f FILE goes into the message after it, fenced
    and named; text files only, up to attach_max_kb (default 256 KB).
    """
    if files.count(STDIN) > 1:
        raise BadInput("-f - (stdin) can be given once")
    if STDIN in files and prompt is None:
        raise BadInput("-f - reads the file from stdin: give the prompt as an argument")
    prompt = _read_prompt(prompt)
    cfg = config_mod.resolve(flags(ctx))
    message = with_files(prompt, [read_file(name, cfg.attach_max_kb) for name in files])
    disk = Store()
    conv = disk.get(chat) if chat is not None else None
    sampling = cfg.sampling_for(conv.settings if conv else None)
    engine = _loaded_engine(cfg, sampling, think=not quick)
    check_fits(engine, message, conv.system_prompt if conv else cfg.system_prompt, sampling.max_tokens)

    store = Store(Path(":memory:")) if no_save else disk  # --no-save: a scratch copy; the real database is untouched
    with store.transaction():  # the chat and its prompt together: a failure leaves no empty "New chat"
        if conv is None:
            cid = store.create_conversation(
                model=engine.name, system_prompt=cfg.system_prompt, settings=sampling.to_dict()
            )
        elif no_save:
            cid = export_mod.import_json(store, export_mod.to_json(conv))
        else:
            cid = conv.id
        store.add_user_message(cid, message)
    how = ReplyOptions(hide_reasoning, as_json, on_loop)
    return _run(engine, store, cid, sampling, how, None if no_save else cid, think=not quick)


@click.command()
@click.argument("conversation_id", metavar="ID", type=ID)
@reply_options
@model_options
@click.pass_context
def answer(ctx: click.Context, conversation_id: int, hide_reasoning: bool, as_json: bool, on_loop: str) -> int:
    """Let the model answer from the thinking of a reply that stopped while thinking.

    ID is the conversation whose last reply is continued (local engine only).
    """
    cfg = config_mod.resolve(flags(ctx))
    store = Store()
    conv = store.get(conversation_id)
    last = conv.messages[-1] if conv.messages else None
    if last is None or not last.stopped_while_thinking:
        raise BadInput(f"the last reply of conversation {conversation_id} did not stop while thinking")
    sampling = cfg.sampling_for(conv.settings)
    engine = _loaded_engine(cfg, sampling)
    if not engine.can_end_thinking:
        raise BadInput("answering from saved thinking needs the local engine (a remote server cannot continue it)")
    how = ReplyOptions(hide_reasoning, as_json, on_loop)
    return _run(engine, store, conversation_id, sampling, how, conversation_id, answer_from_thinking=True)


def _loaded_engine(cfg, sampling, think: bool = True):
    """The engine that answers, loaded: the main one, or for ``--quick`` maybe the fast profile's (the other
    one is never loaded)."""
    engine = quick_mod.route(build_engine(cfg), quick_mod.fast_engine(cfg), think)
    engine.load()
    from ..models.local import record_engine  # off the path of commands that load no model

    record_engine(engine)
    if sampling.think_budget and think and not engine.can_end_thinking:
        note("the thinking budget is not available with a remote server; ignoring it")
    return engine


def _run(
    engine,
    store: Store,
    cid: int,
    sampling,
    how: ReplyOptions,
    shown_id: Optional[int],
    answer_from_thinking: bool = False,
    think: bool = True,
) -> int:
    cancel, end_thinking = threading.Event(), threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        events = run_turn(
            engine, store, cid, sampling, cancel, end_thinking, answer_from_thinking=answer_from_thinking, think=think
        )
        result = render(events, how, cancel, end_thinking, engine.can_end_thinking)
    finally:
        signal.signal(signal.SIGINT, previous)

    if how.as_json:
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
        note(f"error: {shown(result.error or 'generation failed')}")
        return 1
    if result.finish_reason == "cancelled":
        note("stopped; the partial reply was kept")
        return 130
    if result.unclosed_thinking and not result.answer and shown_id and engine.can_end_thinking:
        note(f"to let the model answer from its thinking so far: qwqchat answer {shown_id}")
    return NO_ANSWER if not result.answer.strip() else 0
