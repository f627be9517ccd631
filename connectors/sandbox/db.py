"""The sandbox's SQLite storage: schema, the one shared connection, ids, clocks and cursors.

The sandbox persists across restarts (``--db FILE``) so a demo can be stopped and resumed.
Every request handler runs in its own thread; they all share ONE connection behind one lock
(SQLite serialises writers anyway, and a Python-level lock is cheaper than per-thread
connections fighting over WAL locks). This module must never know about HTTP: it stores
rows and hands them back; the API modules decide what they mean.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, mail TEXT NOT NULL,
    first_name TEXT, last_name TEXT, job TEXT, organization TEXT, lang TEXT,
    status TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS users_mail ON users (lower(mail));
CREATE TABLE IF NOT EXISTS groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    public INTEGER NOT NULL, parent_id TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (
    group_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id, role));
CREATE INDEX IF NOT EXISTS roles_user ON roles (user_id);
CREATE TABLE IF NOT EXISTS managers (
    user_id TEXT NOT NULL, manager_id TEXT NOT NULL, PRIMARY KEY (user_id, manager_id));
CREATE INDEX IF NOT EXISTS managers_manager ON managers (manager_id);
CREATE TABLE IF NOT EXISTS custom_fields (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, name TEXT UNIQUE NOT NULL,
    type TEXT NOT NULL, target_type TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_values (
    user_id TEXT NOT NULL, field_id TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (user_id, field_id));
CREATE TABLE IF NOT EXISTS external_ids (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, platform TEXT NOT NULL,
    target_type TEXT NOT NULL, target_id TEXT NOT NULL, value TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (platform, value));
CREATE TABLE IF NOT EXISTS invitations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bulk_operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, created_at TEXT NOT NULL, input TEXT NOT NULL, results TEXT);
CREATE TABLE IF NOT EXISTS courses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    description TEXT, lang TEXT, status TEXT NOT NULL, tags TEXT NOT NULL,
    created_at TEXT NOT NULL, modified_at TEXT NOT NULL, image_url TEXT, duration INTEGER);
CREATE TABLE IF NOT EXISTS course_stats (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, course_id TEXT NOT NULL, user_id TEXT NOT NULL,
    progress REAL, score REAL, completed_at TEXT, time_spent INTEGER, started_at TEXT);
CREATE INDEX IF NOT EXISTS course_stats_completed ON course_stats (completed_at);
"""


def new_id() -> str:
    """A 24-hex-digit id, shaped like the LMS's own object ids."""
    return secrets.token_hex(12)


def now_iso() -> str:
    """The current UTC time as the API writes it: ``2024-05-01T06:30:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(kind: str, seq: int) -> str:
    """An opaque ``next`` cursor: clients must not build or parse it."""
    return base64.urlsafe_b64encode(f"{kind}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The last ``seq`` served, or None for the first page; raises ValueError if forged."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = raw.partition(":")
        if prefix != kind:
            raise ValueError("cursor of another listing")
        return int(seq)
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not ours") from exc


class Database:
    """One SQLite connection, in WAL mode, guarded by one re-entrant lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside commits together or not at all, and no other thread interleaves."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent read: the lock keeps writers out while a page is assembled."""
        with self._lock:
            yield self._conn

    def meta(self, key: str) -> str | None:
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
