"""A small SQLite ``SsoDirectory``: users and learner memberships, for a standalone SSO sandbox.

The LMS sandbox plugs its own user store into the login handlers; this one exists so the
handlers run against real storage on their own (tests, a demo without the LMS sandbox).
Synthetic data only.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path


class SqliteSsoDirectory:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS sso_user (
                id TEXT PRIMARY KEY, mail TEXT UNIQUE NOT NULL, first_name TEXT, last_name TEXT);
            CREATE TABLE IF NOT EXISTS sso_learner (
                group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id));
            """
        )

    def find_user_by_email(self, email: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT id FROM sso_user WHERE mail = ?", (email.lower(),)).fetchone()
        return None if row is None else str(row[0])

    def create_learner(self, email: str, first_name: str | None, last_name: str | None, group_id: str) -> str:
        user_id = uuid.uuid4().hex[:24]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO sso_user VALUES (?, ?, ?, ?)",
                    (user_id, email.lower(), first_name, last_name),
                )
                self._db.execute("INSERT OR IGNORE INTO sso_learner VALUES (?, ?)", (group_id, user_id))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return user_id

    def users(self) -> list[tuple[str, str, str | None, str | None]]:
        with self._lock:
            return list(
                self._db.execute("SELECT id, mail, first_name, last_name FROM sso_user ORDER BY mail")
            )

    def learners(self, group_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT user_id FROM sso_learner WHERE group_id = ?", (group_id,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
