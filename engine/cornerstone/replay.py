"""Replay protection for SSO: a token id (JWT ``jti``, SAML assertion ID) is accepted once.

A login token intercepted or reused (browser history, a proxy log) must not log anyone in a
second time. Verifiers call ``first_use(key, until, now)`` only after a token passed every other
check, so a forged token can never burn a legitimate id; entries are kept until the token
would have expired anyway, then forgotten.

Two stores: in memory (one process) and SQLite (shared by the threads and processes of a
server on one machine). Neither ever stores who logged in -- only the token id.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class ReplayCache(Protocol):
    def first_use(self, key: str, until: datetime, now: datetime) -> bool:
        """True the first time ``key`` is seen before ``until``; False for a replay.

        ``now`` is the verifier's clock, so entries expire on the same time line as tokens.
        """
        ...


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class MemoryReplayCache:
    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, until: datetime, now: datetime) -> bool:
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            digest = _digest(key)
            if digest in self._seen:
                return False
            self._seen[digest] = until
            return True


class SqliteReplayCache:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("CREATE TABLE IF NOT EXISTS sso_replay (key TEXT PRIMARY KEY, until TEXT NOT NULL)")

    def first_use(self, key: str, until: datetime, now: datetime) -> bool:
        with self._lock:
            self._db.execute("DELETE FROM sso_replay WHERE until <= ?", (now.astimezone(UTC).isoformat(),))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO sso_replay VALUES (?, ?)",
                (_digest(key), until.astimezone(UTC).isoformat()),
            )
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
