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
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import paths
from .checks import dataclass_problem
from .errors import BadInput, StoreError
from .text import valid_unicode
from .titles import title_from_prompt
from .types import Sampling, Stats

log = logging.getLogger("qwqchat.store")
APPLICATION_ID = 0x51575143  # "QWQC": tells our database from anyone else's

MIGRATIONS = [
    # v1
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        model TEXT,
        system_prompt TEXT,
        settings TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        stats TEXT,
        finish_reason TEXT,
        error TEXT,
        writer_pid INTEGER,
        created REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, reasoning, content='messages', content_rowid='id');
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content, reasoning) VALUES (new.id, new.content, new.reasoning);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
    END;
    CREATE TRIGGER messages_au AFTER UPDATE OF content, reasoning ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
        INSERT INTO messages_fts(rowid, content, reasoning) VALUES (new.id, new.content, new.reasoning);
    END;
    CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, content='conversations', content_rowid='id');
    CREATE TRIGGER conversations_ai AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
    END;
    CREATE TRIGGER conversations_ad AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.id, old.title);
    END;
    CREATE TRIGGER conversations_au AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.id, old.title);
        INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
    END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class StoredMessage:
    id: int
    role: str
    content: str
    reasoning: str = ""
    stats: Optional[Stats] = None
    finish_reason: Optional[str] = None
    error: Optional[str] = None
    created: float = 0.0

    @property
    def streaming(self) -> bool:
        return self.role == "assistant" and self.finish_reason is None

    @property
    def stopped_while_thinking(self) -> bool:
        """A reply with thinking and no answer: one the model can still be asked to answer from."""
        return self.role == "assistant" and bool(self.reasoning) and not self.content.strip()


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    model: Optional[str] = None
    system_prompt: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    messages: List[StoredMessage] = field(default_factory=list)


@dataclass
class SearchHit:
    conversation_id: int
    title: str
    updated: float
    snippet: str


def _pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fts_query(text: str) -> str:
    """Quote each word so user input never trips FTS5's query syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"*' for w in words if w)


class Store:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path else paths.db_path()
        self._lock = threading.RLock()
        self._db = self._open()

    # -- opening ---------------------------------------------------------
    def _fail(self, why: str) -> StoreError:
        return StoreError(f"cannot use the chat database {self.path}: {why}; it was left untouched")

    def _open(self) -> sqlite3.Connection:
        memory = str(self.path) == ":memory:"
        if memory:
            pass
        elif self.path.is_dir():
            raise self._fail("it is a directory")
        elif not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as exc:
                raise self._fail(exc.strerror or str(exc)) from None
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._fail(str(exc)) from None
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            db.close()
            if isinstance(exc, sqlite3.OperationalError):  # full disk, I/O error, locked, read-only: not the file
                raise self._fail(str(exc)) from None
            raise self._fail(f"not a readable SQLite database ({exc})") from None
        if app_id != APPLICATION_ID and (tables or version):
            db.close()
            raise self._fail("it is not a qwqchat database")
        if version > SCHEMA_VERSION:
            db.close()
            raise self._fail(f"it was written by a newer qwqchat (schema v{version}; this one knows v{SCHEMA_VERSION})")
        try:
            if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                pass  # e.g. a network filesystem; rollback journal still works
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
            self._mark_interrupted(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._fail(str(exc)) from None
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    db.execute("COMMIT")
                    return
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _mark_interrupted(self, db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT id, writer_pid FROM messages WHERE finish_reason IS NULL AND role = 'assistant'"
        ).fetchall()
        dead = [(mid,) for mid, pid in rows if not _pid_alive(pid)]
        if dead:
            db.executemany("UPDATE messages SET finish_reason = 'interrupted' WHERE id = ?", dead)

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
        return cur.lastrowid

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
        cid, title, created, updated, model, system_prompt, settings = row
        try:
            conv = Conversation(
                cid,
                _text(title),
                _time(created),
                _time(updated),
                _opt_text(model),
                _opt_text(system_prompt),
                _table(settings, Sampling),
            )
        except (TypeError, ValueError) as exc:
            self._bad_row("conversation", cid, exc)
            return None
        return conv

    def _message(self, row) -> Optional[StoredMessage]:
        mid, role, content, reasoning, stats, finish, error, created = row
        try:
            data = _table(stats, Stats) if stats else None
            return StoredMessage(
                mid,
                role,
                _text(content),
                _text(reasoning),
                Stats.from_dict(data) if data is not None else None,
                _opt_text(finish),
                _opt_text(error),
                _time(created),
            )
        except (TypeError, ValueError) as exc:
            self._bad_row("message", mid, exc)
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
                "SELECT id, role, content, reasoning, stats, finish_reason, error, created"
                " FROM messages WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            )
            conv.messages = [m for m in map(self._message, rows) if m is not None]
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

    def touch(self, conversation_id: int, when: Optional[float] = None) -> None:
        self._write("UPDATE conversations SET updated = ? WHERE id = ?", (when or time.time(), conversation_id))

    # -- messages --------------------------------------------------------
    def add_user_message(self, conversation_id: int, content: str, created: Optional[float] = None) -> int:
        """Add a prompt; the first one also titles a conversation still called "New chat" (all or nothing)."""
        with self.transaction():
            cur = self._write(
                "INSERT INTO messages(conversation_id, role, content, created) VALUES (?, 'user', ?, ?)",
                (conversation_id, content, created or time.time()),
            )
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
            return cur.lastrowid

    def start_reply(self, conversation_id: int, created: Optional[float] = None) -> int:
        cur = self._write(
            "INSERT INTO messages(conversation_id, role, writer_pid, created) VALUES (?, 'assistant', ?, ?)",
            (conversation_id, os.getpid(), created or time.time()),
        )
        return cur.lastrowid

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

    # -- search ----------------------------------------------------------
    def search(self, query: str, limit: int = 50, marks: Tuple[str, str] = ("[", "]")) -> List[SearchHit]:
        """Newest first; ``marks`` go round each hit in the snippet (the UI styles them instead)."""
        match = fts_query(query)
        if not match:
            return []
        sql = """
            SELECT c.id, c.title, c.updated, snippet(messages_fts, -1, ?, ?, '…', 12)
              FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
              JOIN conversations c ON c.id = m.conversation_id
             WHERE messages_fts MATCH ?
            UNION ALL
            SELECT c.id, c.title, c.updated, c.title
              FROM conversations_fts JOIN conversations c ON c.id = conversations_fts.rowid
             WHERE conversations_fts MATCH ?
        """
        with self._lock:
            rows = self._db.execute(sql, (*marks, match, match)).fetchall()
        hits: Dict[int, SearchHit] = {}
        for cid, title, updated, snippet in rows:
            if cid not in hits:
                hits[cid] = SearchHit(cid, title, updated, " ".join(snippet.split()))
        return sorted(hits.values(), key=lambda h: -h.updated)[:limit]


_REPORTED: set = set()


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"text expected, found {type(value).__name__}")
    return value


def _opt_text(value: Any) -> Optional[str]:
    return None if value is None else _text(value)


def _time(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1e11
    ):
        raise ValueError(f"not a time: {value!r}")
    return float(value)


def _table(raw: Any, cls: Any) -> Dict[str, Any]:
    """A JSON object column whose keys must fit the dataclass ``cls``."""
    data = json.loads(_text(raw) or "{}")
    if not isinstance(data, dict):
        raise TypeError(f"a JSON object expected, found {type(data).__name__}")
    problem = dataclass_problem(cls, data)
    if problem:
        raise ValueError(problem)
    return data


def _statements(script: str) -> List[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows triggers)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
