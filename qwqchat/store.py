"""Conversations on disk: one SQLite database, shared safely by several processes.

WAL mode plus a busy timeout let two qwqchat processes use the file at once.
A reply is written while it streams (``save_reply``) and finished with its
stats (``finish_reply``); a row whose writer died before finishing is marked
``interrupted`` the next time the database is opened.  The schema is
versioned with ``PRAGMA user_version`` and upgraded one step at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import paths
from .errors import BadInput, StoreError
from .records import Conversation, SearchHit, StoredMessage, chosen_path, conversation_from_row, message_from_row
from .schema import SCHEMA_VERSION, open_database
from .text import valid_unicode
from .titles import title_from_prompt
from .types import Stats

log = logging.getLogger("qwqchat.store")
__all__ = ["AT_END", "SCHEMA_VERSION", "Conversation", "SearchHit", "Store", "StoredMessage"]

AT_END = -1  # a new message's parent: the last message of the chat's chosen path (ids are positive)
MESSAGE_COLUMNS = "id, role, content, reasoning, stats, finish_reason, error, created, parent_id, chosen"


def fts_query(text: str) -> str:
    """Quote each word so user input never trips FTS5's query syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"*' for w in words if w)


class Store:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path else paths.db_path()
        self._lock = threading.RLock()
        self._db = open_database(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All the writes inside happen together or not at all (other writers wait); nests."""
        with self._lock:
            if self._db.in_transaction:  # inside an outer transaction: it decides
                yield
                return
            self._write("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._write("COMMIT")

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        # a lone surrogate (from a server's JSON, or argv bytes) cannot be encoded: replace it, never lose the row
        args = tuple(valid_unicode(a) if isinstance(a, str) else a for a in args)
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.OperationalError as exc:
                raise StoreError(f"could not save to {self.path}: {exc}") from None

    # -- conversations ---------------------------------------------------
    def create_conversation(
        self,
        title: str = "New chat",
        model: Optional[str] = None,
        system_prompt: Optional[str] = None,
        settings: Optional[Dict[str, Any]] = None,
        created: Optional[float] = None,
    ) -> int:
        now = created or time.time()
        cur = self._write(
            "INSERT INTO conversations(title, created, updated, model, system_prompt, settings)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (title, now, now, model, system_prompt, json.dumps(settings or {})),
        )
        return _new_id(cur)

    def list_conversations(self, limit: Optional[int] = None) -> List[Conversation]:
        sql = (
            "SELECT id, title, created, updated, model, system_prompt, settings FROM conversations"
            " ORDER BY updated DESC, id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return [c for c in map(self._conversation, rows) if c is not None]

    def _conversation(self, row) -> Optional[Conversation]:
        try:
            return conversation_from_row(row)
        except (TypeError, ValueError) as exc:
            self._bad_row("conversation", row[0], exc)
            return None

    def _message(self, row) -> Optional[StoredMessage]:
        try:
            return message_from_row(row)
        except (TypeError, ValueError) as exc:
            self._bad_row("message", row[0], exc)
            return None

    def _bad_row(self, what: str, row_id: int, exc: BaseException) -> None:
        """A row this version cannot read is skipped (and logged once), never fatal."""
        key = (str(self.path), what, row_id)
        if key not in _REPORTED:
            _REPORTED.add(key)
            log.warning("skipping unreadable %s %s in %s: %s", what, row_id, self.path, exc)

    def get(self, conversation_id: int) -> Conversation:
        with self._lock:
            row = self._db.execute(
                "SELECT id, title, created, updated, model, system_prompt, settings FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                raise BadInput(f"no conversation with id {conversation_id}")
            conv = self._conversation(row)
            if conv is None:
                raise StoreError(f"conversation {conversation_id} is damaged and cannot be read (details in the log)")
            rows = self._db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            )
            conv.all_messages = [m for m in map(self._message, rows) if m is not None]
        conv.messages = chosen_path(conv.all_messages)
        return conv

    def exists(self, conversation_id: int) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None
            )

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip() or "New chat"
        self._write("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def update_settings(
        self,
        conversation_id: int,
        *,
        system_prompt: Optional[str] = None,
        settings: Optional[Dict[str, Any]] = None,
        model: Optional[str] = None,
    ) -> None:
        with self.transaction():
            if settings is not None:
                self._write(
                    "UPDATE conversations SET settings = ? WHERE id = ?", (json.dumps(settings), conversation_id)
                )
            self._write(
                "UPDATE conversations SET system_prompt = ? WHERE id = ?", (system_prompt or None, conversation_id)
            )
            if model is not None:
                self._write("UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id))

    def delete(self, conversation_id: int) -> None:
        if not self.exists(conversation_id):
            raise BadInput(f"no conversation with id {conversation_id}")
        self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        from .engines.kv_store import forget

        forget(conversation_id)  # its KV state on disk, if the local engine kept one

    def touch(self, conversation_id: int, when: Optional[float] = None) -> None:
        self._write("UPDATE conversations SET updated = ? WHERE id = ?", (when or time.time(), conversation_id))

    # -- messages --------------------------------------------------------
    def _leaf(self, conversation_id: int) -> Optional[int]:
        """The last message of the chat's chosen path (None: no message yet)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, parent_id, chosen FROM messages WHERE conversation_id = ?", (conversation_id,)
            ).fetchall()
        path = chosen_path([StoredMessage(mid, "", "", parent_id=parent, chosen=bool(c)) for mid, parent, c in rows])
        return path[-1].id if path else None

    def _insert(
        self, conversation_id: int, role: str, parent_id: Optional[int], content: str, created: Optional[float]
    ) -> int:
        """A new message after ``parent_id`` (``AT_END``: the path's last), chosen over its siblings."""
        with self.transaction():
            if parent_id == AT_END:
                parent_id = self._leaf(conversation_id)
            self._write(
                "UPDATE messages SET chosen = 0 WHERE conversation_id = ? AND parent_id IS ?",
                (conversation_id, parent_id),
            )
            cur = self._write(
                "INSERT INTO messages(conversation_id, role, content, writer_pid, created, parent_id, chosen)"
                " VALUES (?, ?, ?, ?, ?, ?, 1)",
                (
                    conversation_id,
                    role,
                    content,
                    os.getpid() if role == "assistant" else None,
                    created or time.time(),
                    parent_id,
                ),
            )
            return _new_id(cur)

    def add_user_message(
        self, conversation_id: int, content: str, created: Optional[float] = None, parent_id: Optional[int] = AT_END
    ) -> int:
        """Add a prompt; the first one also titles a conversation still called "New chat" (all or nothing)."""
        with self.transaction():
            mid = self._insert(conversation_id, "user", parent_id, content, created)
            first = (
                self._db.execute(
                    "SELECT count(*) FROM messages WHERE conversation_id = ? AND role = 'user'", (conversation_id,)
                ).fetchone()[0]
                == 1
            )
            if first:
                self._write(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = 'New chat'",
                    (title_from_prompt(content), conversation_id),
                )
            self.touch(conversation_id)
            return mid

    def start_reply(
        self, conversation_id: int, created: Optional[float] = None, parent_id: Optional[int] = AT_END
    ) -> int:
        """A new, streaming reply (after the path's last message unless ``parent_id`` says where)."""
        return self._insert(conversation_id, "assistant", parent_id, "", created)

    # -- versions and branches -------------------------------------------
    def add_version(self, message_id: int, content: str = "") -> int:
        """A new sibling of ``message_id``, chosen in its place: another version of a reply (streaming,
        to be finished by ``finish_reply``) or an edited prompt (a branch).  Nothing is removed."""
        with self._lock:
            row = self._db.execute(
                "SELECT conversation_id, role, parent_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise BadInput(f"no message with id {message_id}")
        cid, role, parent = row
        with self.transaction():
            mid = self._insert(cid, role, parent, content if role == "user" else "", None)
            self.touch(cid)
        return mid

    def choose(self, message_id: int, path: bool = False) -> None:
        """Choose ``message_id`` over its siblings; below it the path goes on as it was last chosen there.
        ``path`` also chooses every message it follows (a search hit deep in another branch)."""
        with self.transaction():
            at: Optional[int] = message_id
            seen = set()
            while at is not None and at not in seen:
                seen.add(at)
                row = self._db.execute("SELECT conversation_id, parent_id FROM messages WHERE id = ?", (at,)).fetchone()
                if row is None:
                    if at == message_id:
                        raise BadInput(f"no message with id {message_id}")
                    break
                cid, parent = row
                self._write(
                    "UPDATE messages SET chosen = (id = ?) WHERE conversation_id = ? AND parent_id IS ?",
                    (at, cid, parent),
                )
                at = parent if path else None

    def siblings(self, message_id: int) -> List[StoredMessage]:
        """``message_id`` and its other versions, oldest first (numbered: ``version`` of ``versions``)."""
        with self._lock:
            row = self._db.execute("SELECT conversation_id, parent_id FROM messages WHERE id = ?", (message_id,))
            cid, parent = row.fetchone() or (None, None)
            rows = self._db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
                (cid, parent),
            ).fetchall()
        out = [m for m in map(self._message, rows) if m is not None]
        for i, m in enumerate(out, 1):
            m.version, m.versions = i, len(out)
        return out

    def reopen_reply(self, message_id: int) -> None:
        """Mark a finished reply as streaming again (it is being continued)."""
        self._write(
            "UPDATE messages SET finish_reason = NULL, error = NULL, writer_pid = ? WHERE id = ?",
            (os.getpid(), message_id),
        )

    def save_reply(self, message_id: int, reasoning: str, answer: str) -> None:
        """Write a partial reply (called about once a second while it streams)."""
        self._write("UPDATE messages SET reasoning = ?, content = ? WHERE id = ?", (reasoning, answer, message_id))

    def finish_reply(
        self,
        message_id: int,
        reasoning: str,
        answer: str,
        finish_reason: str,
        stats: Optional[Stats] = None,
        error: Optional[str] = None,
    ) -> None:
        with self._lock:
            self._write(
                "UPDATE messages SET reasoning = ?, content = ?, finish_reason = ?, stats = ?, error = ?,"
                " writer_pid = NULL WHERE id = ?",
                (reasoning, answer, finish_reason, json.dumps(stats.to_dict()) if stats else None, error, message_id),
            )
            row = self._db.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row:
                self.touch(row[0])

    def delete_message(self, message_id: int) -> None:
        self._write("DELETE FROM messages WHERE id = ?", (message_id,))

    def update_message(self, message_id: int, content: str) -> None:
        self._write("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))

    def prompts(self, conversation_id: Optional[int] = None, limit: int = 500) -> List[str]:
        """The prompts sent, newest first: one conversation's, or every conversation's (Up recalls them)."""
        where, args = ("AND conversation_id = ?", (conversation_id,)) if conversation_id is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT content FROM messages WHERE role = 'user' {where} ORDER BY id DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [r[0] for r in rows if isinstance(r[0], str)]

    # -- search ----------------------------------------------------------
    def search(self, query: str, limit: int = 50, marks: Tuple[str, str] = ("[", "]")) -> List[SearchHit]:
        """Newest first; ``marks`` go round each hit in the snippet (the UI styles them instead)."""
        match = fts_query(query)
        if not match:
            return []
        sql = """
            SELECT c.id, c.title, c.updated, snippet(messages_fts, -1, ?, ?, '…', 12), m.id
              FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
              JOIN conversations c ON c.id = m.conversation_id
             WHERE messages_fts MATCH ?
            UNION ALL
            SELECT c.id, c.title, c.updated, c.title, NULL
              FROM conversations_fts JOIN conversations c ON c.id = conversations_fts.rowid
             WHERE conversations_fts MATCH ?
        """
        with self._lock:
            rows = self._db.execute(sql, (*marks, match, match)).fetchall()
        hits: Dict[int, SearchHit] = {}
        for cid, title, updated, snippet, mid in rows:
            if cid not in hits:
                hits[cid] = SearchHit(cid, title, updated, " ".join(snippet.split()), mid)
        return sorted(hits.values(), key=lambda h: -h.updated)[:limit]


_REPORTED: set = set()


def _new_id(cur: sqlite3.Cursor) -> int:
    """The id SQLite gave the row just inserted (always set after an INSERT)."""
    if cur.lastrowid is None:  # pragma: no cover - SQLite sets it on every INSERT
        raise StoreError("the database did not return the new row's id")
    return cur.lastrowid
