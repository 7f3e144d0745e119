"""Conversations out of the store: Markdown for people, JSON for round trips."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any, Dict, List, Optional

from . import attachments
from .checks import conforms, dataclass_problem, type_name
from .errors import BadInput
from .notes import finish_note, quick_summary, stats_line, thought_summary
from .store import Conversation, Store
from .text import json_line, printable
from .types import FINISH_REASONS, Sampling, Stats

JSON_FORMAT = "qwqchat-conversation"
JSON_VERSION = 2  # 2: every version and branch, each message with its "id", "parent" and "chosen"

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


def _close_fences(text: str) -> str:
    """Close a code fence the text left open, so it cannot swallow what follows."""
    open_fence = None
    for m in FENCE.finditer(text):
        mark = m.group(1)
        if open_fence is None:
            open_fence = mark
        elif mark[0] == open_fence[0] and len(mark) >= len(open_fence):
            open_fence = None
    return text + ("\n" + open_fence if open_fence else "")


_UNSAFE_LINK = re.compile(r"(\]\(\s*<?|^\s{0,3}\[[^\]]*\]:\s*<?)\s*(javascript|vbscript|data|file):", re.I | re.M)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # what can open a tag, comment or autolink; "a < b" stays
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")


def _neutralise_html(text: str) -> str:
    """Model and user text as Markdown that cannot inject HTML or script links into a renderer:
    ``<`` is escaped and javascript:/data:/vbscript:/file: link targets are defused, outside code."""
    out, in_fence, lines = [], None, text.split("\n")
    chunk: list = []

    def flush() -> None:
        if chunk:
            out.append(_escape_prose("\n".join(chunk)))
            chunk.clear()

    for line in lines:
        m = FENCE.match(line)
        if in_fence is None and m:
            flush()
            in_fence = m.group(1)
            out.append(line)
        elif in_fence is not None:
            out.append(line)
            if m and m.group(1)[0] == in_fence[0] and len(m.group(1)) >= len(in_fence):
                in_fence = None
        else:
            chunk.append(line)
    flush()
    return "\n".join(out)


def _escape_prose(text: str) -> str:
    parts, last = [], 0
    for m in _CODE_SPAN.finditer(text):  # inline code shows its text literally: leave it
        parts.append(_escape_html(text[last : m.start()]))
        parts.append(m.group())
        last = m.end()
    parts.append(_escape_html(text[last:]))
    return "".join(parts)


def _escape_html(text: str) -> str:
    return _UNSAFE_LINK.sub(r"\1#unsafe-\2:", _TAG_START.sub("&lt;", text))


def _literal(text: str) -> str:
    """A title as the words it is, not Markdown: "__init__" must not come out as a bold "init"."""
    return re.sub(r"([\\`*_\[\]~|])", r"\\\1", text)


def _one_line(text: str) -> str:
    """A title or a name as one line: a newline in it must not start a heading of its own."""
    return " ".join(text.split())


def _speaker(name: Optional[str]) -> str:
    """A model's name as a heading: one line, no HTML, whatever the GGUF or the server says."""
    return _neutralise_html(_one_line(name or ""))


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def to_markdown(conv: Conversation, reasoning: bool = True) -> str:
    lines = [f"# {_literal(_neutralise_html(_one_line(conv.title)))}", ""]
    model = _speaker(conv.model)
    meta = [f"- **Model:** {model or 'unknown'}", f"- **Date:** {_date(conv.created)}"]
    if conv.settings:
        meta.append("- **Sampling:** " + ", ".join(f"{k} {v}" for k, v in conv.settings.items() if v is not None))
    lines += meta + [""]
    if conv.system_prompt:
        lines += ["## System", "", _close_fences(_neutralise_html(conv.system_prompt)), ""]
    for m in conv.messages:
        of = f" (version {m.version} of {m.versions})" if m.versions > 1 else ""
        if m.role == "user":
            prompt, files = attachments.split(m.content)
            lines += [f"## You{of}", "", _close_fences(_neutralise_html(prompt)), ""]
            for a in files:  # folded: the prompt reads on, the file opens on a click
                summary = html.escape(attachments.summary(a))
                lines += ["<details>", f"<summary>{summary}</summary>", "", attachments.fenced(a), "", "</details>", ""]
            continue
        lines += [f"## {_speaker(m.stats.model if m.stats else None) or model or 'Assistant'}{of}", ""]
        if reasoning and m.reasoning:
            lines += [
                "<details>",
                f"<summary>{thought_summary(m.stats, m.reasoning)}</summary>",
                "",
                _fenced(m.reasoning),
                "",
                "</details>",
                "",
            ]
        if m.content:
            lines += [_close_fences(_neutralise_html(m.content)), ""]
        note = _neutralise_html(_one_line(finish_note(m.finish_reason, m.content, m.error)))
        if note:
            lines += [f"*{note}*", ""]
        if m.stats:
            quick = _neutralise_html(_one_line(quick_summary(m.stats))) + " · " if m.stats.quick else ""
            lines += [f"<sub>{quick}{stats_line(m.stats)}</sub>", ""]
    # control characters shown as symbols: `cat` on an export must not let a model or server reach the terminal
    # (an OSC 52 sequence writes the clipboard); the app's export and the CLI's both come through here
    return printable("\n".join(lines).rstrip() + "\n")


def to_json(conv: Conversation) -> Dict[str, Any]:
    """Everything: every version and branch, oldest first; ids count from 1 in the file, and
    ``parent`` names the message each one follows (null: a first prompt)."""
    messages = conv.all_messages or conv.messages  # a Conversation made by hand has its path only
    number: Dict[Optional[int], int] = {m.id: i for i, m in enumerate(messages, 1)}
    parent = {
        m.id: number.get(m.parent_id) if conv.all_messages else (i - 1 or None) for i, m in enumerate(messages, 1)
    }
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "conversation": {
            "id": conv.id,
            "title": conv.title,
            "created": conv.created,
            "updated": conv.updated,
            "model": conv.model,
            "system_prompt": conv.system_prompt,
            "settings": conv.settings,
            "messages": [
                {
                    "id": number[m.id],
                    "parent": parent[m.id],
                    "chosen": m.chosen,
                    "role": m.role,
                    "content": m.content,
                    "reasoning": m.reasoning,
                    "stats": m.stats.to_dict() if m.stats else None,
                    "finish_reason": m.finish_reason,
                    "error": m.error,
                    "created": m.created,
                }
                for m in messages
            ],
        },
    }


MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_MESSAGES = 100_000
MAX_TIME = 1e11  # year 5138: beyond it the dates cannot be shown
# The export schema: field -> type (Optional = may be missing or null).
CONVERSATION_FIELDS: Dict[str, Any] = {
    "title": str,
    "created": Optional[float],
    "updated": Optional[float],
    "model": Optional[str],
    "system_prompt": Optional[str],
    "settings": Optional[dict],
    "messages": list,
}
MESSAGE_FIELDS: Dict[str, Any] = {
    "role": str,
    "content": Optional[str],
    "reasoning": Optional[str],
    "stats": Optional[dict],
    "finish_reason": Optional[str],
    "error": Optional[str],
    "created": Optional[float],
    "id": Optional[int],  # version 2 on
    "parent": Optional[int],
    "chosen": Optional[bool],
}


def _fields(data: Any, fields: Dict[str, Any], where: str) -> None:
    if not isinstance(data, dict):
        raise BadInput(f"{where} must be a JSON object")
    for key, kind in fields.items():
        value = data.get(key)
        if not conforms(value, kind):
            raise BadInput(f"{where}.{key} must be {type_name(kind)}, not {json.dumps(value)[:40]}")
        if key in ("created", "updated") and value is not None and not 0 <= value <= MAX_TIME:
            raise BadInput(f"{where}.{key} is not a date: {value}")


def _check_dataclass(cls: Any, data: Dict[str, Any], where: str) -> None:
    problem = dataclass_problem(cls, data)
    if problem:
        raise BadInput(f"{where}: {problem}")


def validate(data: Any) -> Dict[str, Any]:
    """The whole document checked against the export schema before anything is written."""
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        raise BadInput("not a qwqchat conversation export")
    version = data.get("version", 0)
    if not conforms(version, int):
        raise BadInput(f"export version must be a whole number, not {json.dumps(version)[:40]}")
    if version > JSON_VERSION:
        raise BadInput(f"export version {version} is newer than this qwqchat understands")
    c: Any = data.get("conversation")
    _fields(c, CONVERSATION_FIELDS, "conversation")
    if len(c["messages"]) > MAX_MESSAGES:
        raise BadInput(f"conversation has {len(c['messages']):,} messages (at most {MAX_MESSAGES:,})")
    _check_dataclass(Sampling, c.get("settings") or {}, "conversation.settings")
    messages: List[Dict[str, Any]] = c["messages"]
    ids: set = set()
    for i, m in enumerate(messages):
        where = f"conversation.messages[{i}]"
        _fields(m, MESSAGE_FIELDS, where)
        if version >= 2:
            _check_link(m, i, ids, where)
        if m["role"] not in ("user", "assistant"):
            raise BadInput(f'{where}.role must be "user" or "assistant", not {json.dumps(m["role"])[:40]}')
        if m["role"] == "user" and m.get("content") is None:
            raise BadInput(f"{where}.content is missing")
        if m.get("finish_reason") not in (None, *FINISH_REASONS, "interrupted"):
            raise BadInput(f"{where}.finish_reason is not one of {', '.join(FINISH_REASONS)}")
        _check_dataclass(Stats, m.get("stats") or {}, f"{where}.stats")
    return c


def _file_id(m: Dict[str, Any], i: int) -> Any:
    """A message's id in the file: its own, else its place in the list (counted from 1)."""
    return m["id"] if m.get("id") is not None else i + 1


def _check_link(m: Dict[str, Any], i: int, ids: set, where: str) -> None:
    """A version 2 message: its id is new, and its parent is an earlier message (so no cycle)."""
    mid = _file_id(m, i)
    if mid in ids:
        raise BadInput(f"{where}.id {mid} is used twice")
    parent = m.get("parent")
    if parent is not None and parent not in ids:
        raise BadInput(f"{where}.parent must be the id of an earlier message, not {json.dumps(parent)[:40]}")
    ids.add(mid)


def import_json(store: Store, data: Any) -> int:
    """Bring back a conversation written by ``to_json``; returns its new id.

    The document is validated whole first and written in one transaction, so a
    bad file leaves nothing behind and a good one arrives complete.
    """
    c = validate(data)
    linear = data.get("version", 0) < 2  # before versions: each message follows the one before it
    with store.transaction():
        cid = store.create_conversation(
            c["title"], c.get("model"), c.get("system_prompt"), c.get("settings") or {}, created=c.get("created")
        )
        new: Dict[Any, int] = {}  # the file's ids -> the store's
        mid: Optional[int] = None
        for i, m in enumerate(c["messages"]):
            parent = mid if linear else new.get(m.get("parent"))
            if m["role"] == "user":
                mid = store.add_user_message(cid, m["content"], created=m.get("created"), parent_id=parent)
            else:
                mid = store.start_reply(cid, created=m.get("created"), parent_id=parent)
                stats = Stats.from_dict(m["stats"]) if m.get("stats") else None
                store.finish_reply(
                    mid,
                    m.get("reasoning") or "",
                    m.get("content") or "",
                    m.get("finish_reason") or "stop",
                    stats,
                    m.get("error"),
                )
            new[_file_id(m, i)] = mid
        for i, m in enumerate(c["messages"]):  # each new message was chosen in turn: now the file's choices
            if m.get("chosen") and not linear:
                store.choose(new[_file_id(m, i)])
        store.rename(cid, c["title"])
        store.touch(cid, c.get("updated"))
    return cid


def dumps(conv: Conversation) -> str:
    return json_line(to_json(conv), indent=2)
