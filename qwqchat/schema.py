"""The conversation database file: opening and checking it, and its schema as the steps that build it
(step N upgrades ``user_version`` N to N+1; never edit a step a release has shipped, add one).

Any file we cannot use is left untouched and named in a one-line ``StoreError``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import List, Optional

from .errors import StoreError

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
    # v2: versions of a reply and branches of a prompt.  Each message follows its parent (NULL: the
    # chat's first prompt); among siblings (one parent) the chosen one is on the chat's path.  Every
    # existing chat is one line: each message follows the one before it and is the only one chosen.
    """
    ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE;
    ALTER TABLE messages ADD COLUMN chosen INTEGER NOT NULL DEFAULT 1;
    UPDATE messages SET parent_id = (
        SELECT max(p.id) FROM messages p WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id);
    CREATE INDEX messages_by_parent ON messages(parent_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> List[str]:
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


def _fail(path: Path, why: str) -> StoreError:
    return StoreError(f"cannot use the chat database {path}: {why}; it was left untouched")


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating it private) and check the database, upgrade its schema, mark replies whose writer died."""
    memory = str(path) == ":memory:"
    if memory:
        pass
    elif path.is_dir():
        raise _fail(path, "it is a directory")
    elif not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise _fail(path, exc.strerror or str(exc)) from None
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _fail(path, str(exc)) from None
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        db.close()
        if isinstance(exc, sqlite3.OperationalError):  # full disk, I/O error, locked, read-only: not the file
            raise _fail(path, str(exc)) from None
        raise _fail(path, f"not a readable SQLite database ({exc})") from None
    if app_id != APPLICATION_ID and (tables or version):
        db.close()
        raise _fail(path, "it is not a qwqchat database")
    if version > SCHEMA_VERSION:
        db.close()
        raise _fail(path, f"it was written by a newer qwqchat (schema v{version}; this one knows v{SCHEMA_VERSION})")
    try:
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            pass  # e.g. a network filesystem; rollback journal still works
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db)
        _mark_interrupted(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _fail(path, str(exc)) from None
    return db


def _migrate(db: sqlite3.Connection) -> None:
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                db.execute("COMMIT")
                return
            for statement in statements(MIGRATIONS[version]):
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _mark_interrupted(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT id, writer_pid FROM messages WHERE finish_reason IS NULL AND role = 'assistant'"
    ).fetchall()
    dead = [(mid,) for mid, pid in rows if not _pid_alive(pid)]
    if dead:
        db.executemany("UPDATE messages SET finish_reason = 'interrupted' WHERE id = ?", dead)


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
