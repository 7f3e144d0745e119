"""Commands over saved conversations: list, show, search, rm, export, import, stats."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Optional, Tuple

import click

from .. import export as export_mod
from ..errors import BadInput
from ..files import inside, slug, write_output
from ..store import Store
from ..text import age, json_line, printable
from .options import ID, Whole

STATS = (
    ("median_thinking_tokens", "median thinking tokens"),
    ("median_thinking_s", "median thinking time (s)"),
    ("median_answer_tokens", "median answer tokens"),
    ("median_tokens_per_s", "median decode tokens/s"),
    ("median_ttft_s", "median time to first token (s)"),
    ("total_tokens", "tokens generated in all"),
    ("stopped_while_thinking", "replies that stopped while thinking"),
    ("loops_detected", "replies where the thinking looped"),
    ("interventions", "thinking ended by qwqchat"),
)
json_flag = click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")


@click.command()
@click.argument("conversation_id", metavar="[ID]", type=ID, required=False)
@json_flag
def stats(conversation_id: Optional[int], as_json: bool) -> int:
    """Thinking and speed statistics (medians) of one conversation or all.

    ID is the conversation (default: all of them).
    """
    from ..stats import summarise

    store = Store()
    ids = [conversation_id] if conversation_id is not None else [c.id for c in store.list_conversations()]
    convs = [store.get(i) for i in ids]
    summary = summarise([m for c in convs for m in c.messages if m.role == "assistant"])
    if as_json:
        print(json.dumps(summary))
        return 0
    scope = f"conversation {conversation_id}" if conversation_id is not None else f"{len(convs)} conversation(s)"
    print(f"{scope}: {summary['replies']} replies")
    for key, label in STATS:
        value = summary[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, float):
            value = f"{value:,.2f}"
        elif value is None:
            value = "—"
        print(f"  {label:<38} {value}")
    return 0


@click.command("list")
@json_flag
@click.option("-n", "--limit", type=Whole(1, 2**31 - 1), metavar="N", help="at most N conversations")
def list_(as_json: bool, limit: Optional[int]) -> int:
    """List conversations, newest first."""
    convs = Store().list_conversations(limit)
    if as_json:
        keys = ("id", "title", "created", "updated", "model")
        print(json_line([{k: getattr(c, k) for k in keys} for c in convs]))
        return 0
    if not convs:
        print('no conversations yet: try  qwqchat ask "…"', file=sys.stderr)
    for c in convs:
        print(f"{c.id:>5}  {age(c.updated, short=True):>9}  {printable(c.title)}")
    return 0


@click.command()
@click.argument("conversation_id", metavar="ID", type=ID)
@click.option("--no-reasoning", is_flag=True, help="leave the thinking out")
def show(conversation_id: int, no_reasoning: bool) -> int:
    """Print a conversation (as Markdown).

    ID is the conversation.
    """
    conv = Store().get(conversation_id)
    sys.stdout.write(export_mod.to_markdown(conv, reasoning=not no_reasoning))
    return 0


@click.command()
@click.argument("query")
@json_flag
def search(query: str, as_json: bool) -> int:
    """Full-text search over titles, prompts, answers and reasoning; exit 1 when nothing matches.

    QUERY is the words to find (SQLite FTS5 syntax).
    """
    hits = Store().search(query)
    if as_json:
        print(json_line([h.__dict__ for h in hits]))
        return 0
    if not hits:
        print(f"nothing matches {printable(repr(query))}", file=sys.stderr)
        return 1
    for h in hits:
        print(
            f"{h.conversation_id:>5}  {age(h.updated, short=True):>9}  {printable(h.title)}  —  {printable(h.snippet)}"
        )
    return 0


@click.command()
@click.argument("ids", metavar="ID...", type=ID, nargs=-1, required=True)
def rm(ids: Tuple[int, ...]) -> int:
    """Delete conversations.

    ID... are the conversations; none is deleted unless all exist.
    """
    store = Store()
    for cid in ids:
        store.get(cid)  # every id must exist before anything is deleted
    for cid in ids:
        store.delete(cid)
        print(f"deleted conversation {cid}", file=sys.stderr)
    return 0


@click.command()
@click.argument("conversation_id", metavar="[ID]", type=ID, required=False)
@click.option("--all", "all_", is_flag=True, help="export every conversation into -o DIR")
@click.option("-o", "--output", metavar="PATH", help="file (or folder with --all); default or - : stdout")
@click.option("--force", is_flag=True, help="overwrite files that exist")
@click.option("--no-reasoning", is_flag=True, help="leave the thinking out")
@click.option("--json", "as_json", is_flag=True, help="lossless JSON (for qwqchat import)")
def export(
    conversation_id: Optional[int], all_: bool, output: Optional[str], force: bool, no_reasoning: bool, as_json: bool
) -> int:
    """Export a conversation to Markdown (or JSON).

    ID is the conversation (or --all -o DIR for every one).
    """
    store = Store()

    def render(cid: int) -> str:
        conv = store.get(cid)
        if as_json:
            return export_mod.dumps(conv) + "\n"
        return export_mod.to_markdown(conv, reasoning=not no_reasoning)

    if all_:
        if not output or output == "-":
            raise BadInput("export --all needs -o DIR")
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        convs = store.list_conversations()
        for c in convs:
            target = inside(folder, folder / export_name(c.id, c.title, "json" if as_json else "md"))
            write_output(str(target), render(c.id), force)
        print(f"exported {len(convs)} conversation(s) to {printable(str(folder))}", file=sys.stderr)
        return 0
    if conversation_id is None:
        raise BadInput("export needs a conversation id (or --all -o DIR)")
    text = render(conversation_id)
    if output and output != "-":
        write_output(output, text, force)
        print(f"wrote {printable(output)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def export_name(conversation_id: int, title: str, extension: str) -> str:
    """``0042-capital-of-france.md``: the id keeps names apart (and sorted), the slug says what is inside."""
    return f"{conversation_id:04d}-{slug(title)}.{extension}"


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


@click.command("import")
@click.argument("file")
def import_(file: str) -> int:
    """Import a conversation exported with --json; print its new id.

    FILE is the JSON export (- reads stdin).
    """
    try:
        data = json.loads(_read_import(file).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd numbers or nesting
        raise BadInput(f"{file} is not JSON: {str(exc).splitlines()[0][:200]}") from None
    print(export_mod.import_json(Store(), data))
    return 0
