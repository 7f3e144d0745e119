"""Conversations out of the store: Markdown for people, JSON for round trips."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, Optional

from .engines.base import Stats
from .store import Conversation, Store
from .errors import BadInput

JSON_FORMAT = "qwqchat-conversation"
JSON_VERSION = 1

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


def thought_summary(stats: Optional[Stats], reasoning: str) -> str:
    """ "Thought for 34 s · 2,345 tokens" — the one line a folded reasoning shows."""
    parts = []
    if stats and stats.thinking_s:
        parts.append(f"Thought for {stats.thinking_s:,.0f} s")
    else:
        parts.append("Thought")
    if stats and stats.reasoning_tokens:
        parts.append(f"{stats.reasoning_tokens:,} tokens")
    elif reasoning:
        parts.append(f"{len(reasoning.split()):,} words")
    return " · ".join(parts)


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


def _neutralise_html(text: str) -> str:
    """Keep model text from closing or opening our <details> structure."""
    return re.sub(r"<(/?)(details|summary)\b", r"&lt;\1\2", text, flags=re.I)


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def to_markdown(conv: Conversation, reasoning: bool = True) -> str:
    lines = [f"# {_neutralise_html(conv.title)}", ""]
    meta = [f"- **Model:** {conv.model or 'unknown'}", f"- **Date:** {_date(conv.created)}"]
    if conv.settings:
        meta.append("- **Sampling:** " + ", ".join(f"{k} {v}" for k, v in conv.settings.items()
                                                   if v is not None))
    lines += meta + [""]
    if conv.system_prompt:
        lines += ["## System", "", _close_fences(_neutralise_html(conv.system_prompt)), ""]
    speaker = f"## {_neutralise_html(' '.join((conv.model or 'Assistant').split()))}"  # the model that answered
    for m in conv.messages:
        if m.role == "user":
            lines += ["## You", "", _close_fences(_neutralise_html(m.content)), ""]
            continue
        lines += [speaker, ""]
        if reasoning and m.reasoning:
            lines += ["<details>", f"<summary>{thought_summary(m.stats, m.reasoning)}</summary>", "",
                      _fenced(m.reasoning), "", "</details>", ""]
        if m.content:
            lines += [_close_fences(_neutralise_html(m.content)), ""]
        note = _finish_note(m.finish_reason, m.content, m.error)
        if note:
            lines += [f"*{note}*", ""]
        if m.stats:
            lines += [f"<sub>{stats_line(m.stats)}</sub>", ""]
    return "\n".join(lines).rstrip() + "\n"


def _finish_note(finish: Optional[str], answer: str, error: Optional[str]) -> str:
    if finish == "error":
        return f"Error: {error or 'generation failed'}"
    if finish in ("cancelled", "interrupted", "length") and not answer:
        return {"cancelled": "Stopped while thinking — no answer",
                "interrupted": "Interrupted while thinking — no answer",
                "length": "Ran out of tokens while thinking — no answer"}[finish]
    if finish in ("cancelled", "interrupted"):
        return f"Reply {finish} before it finished"
    if finish == "length":
        return "Reply cut off at the token limit"
    return ""


def stats_line(s: Stats) -> str:
    parts = []
    if s.reasoning_tokens:
        parts.append(f"thinking {s.reasoning_tokens:,} tok / {s.thinking_s:.1f} s")
    parts.append(f"answer {s.answer_tokens:,} tok")
    if s.ttft_s is not None:
        parts.append(f"first token {s.ttft_s:.2f} s")
    if s.decode_tokens_per_s:
        parts.append(f"{s.decode_tokens_per_s:.1f} tok/s")
    if s.context_size:
        parts.append(f"context {s.context_used:,}/{s.context_size:,}")
    if s.dropped_turns:
        parts.append(f"{s.dropped_turns} old turn(s) left out")
    if s.intervention:
        parts.append(INTERVENTIONS.get(s.intervention, s.intervention))
    if s.loop_detected:
        parts.append("thinking looped")
    return " · ".join(parts)


INTERVENTIONS = {
    "think-budget": "thinking budget reached",
    "answer-now": "thinking ended on request",
    "answer-from-thinking": "answered from saved thinking",
    "loop-stop": "stopped: thinking looped",
    "loop-answer": "thinking ended: it looped",
}


def to_json(conv: Conversation) -> Dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "conversation": {
            "id": conv.id, "title": conv.title, "created": conv.created, "updated": conv.updated,
            "model": conv.model, "system_prompt": conv.system_prompt, "settings": conv.settings,
            "messages": [
                {"role": m.role, "content": m.content, "reasoning": m.reasoning,
                 "stats": m.stats.to_dict() if m.stats else None, "finish_reason": m.finish_reason,
                 "error": m.error, "created": m.created}
                for m in conv.messages
            ],
        },
    }


def import_json(store: Store, data: Any) -> int:
    """Bring back a conversation written by ``to_json``; returns its new id."""
    try:
        if data.get("format") != JSON_FORMAT:
            raise BadInput("not a qwqchat conversation export")
        if data.get("version", 0) > JSON_VERSION:
            raise BadInput(f"export version {data['version']} is newer than this qwqchat understands")
        c = data["conversation"]
        cid = store.create_conversation(c["title"], c.get("model"), c.get("system_prompt"),
                                        c.get("settings") or {}, created=c.get("created"))
        for m in c["messages"]:
            if m["role"] == "user":
                store.add_user_message(cid, m["content"], created=m.get("created"))
            else:
                mid = store.start_reply(cid, created=m.get("created"))
                stats = Stats.from_dict(m["stats"]) if m.get("stats") else None
                store.finish_reply(mid, m.get("reasoning") or "", m.get("content") or "",
                                   m.get("finish_reason") or "stop", stats, m.get("error"))
        store.rename(cid, c["title"])
        store.touch(cid, c.get("updated"))
        return cid
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"not a valid qwqchat conversation export ({exc.__class__.__name__}: {exc})") from None


def dumps(conv: Conversation) -> str:
    return json.dumps(to_json(conv), ensure_ascii=False, indent=2)
