"""The pushed-completions ledger: what Cornerstone already received, so a re-run sends nothing twice.

A row is written only after Cornerstone accepted the push. If a run dies between the push
and the write, the next run pushes that completion again -- harmless, since completing a
completed transcript changes nothing -- but never skips one. Keyed by customer, course,
user and completion time (a learner who completes a course again later is pushed again).

SQLite through the standard library, one small table; the runner's shared state store may
absorb it later behind the same three methods. It must never store names or e-mails.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from engine.cornerstone.completions import LedgerKey
from engine.errors import StateError

#: Where the CLI and the runner keep the ledger unless told otherwise: the same file, so a
#: day pushed by hand is not pushed again by the runner on the same machine.
DEFAULT_LEDGER = Path(".lmsync") / "cornerstone-ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cornerstone_pushed_completion (
    customer     TEXT NOT NULL,
    course_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    pushed_at    TEXT NOT NULL,
    PRIMARY KEY (customer, course_id, user_id, completed_at)
)
"""


class CompletionLedger:
    """``pushed(customer)`` → keys already sent; ``record(keys)`` after Cornerstone accepted them."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(
                f"completions ledger {self.path}: cannot open ({exc})",
                hint="check the path is writable and not used by another program",
            ) from exc

    def pushed(self, customer: str, *, since: str | None = None) -> set[LedgerKey]:
        """Keys recorded for ``customer`` (optionally with ``completed_at >= since``)."""
        query = (
            "SELECT customer, course_id, user_id, completed_at FROM cornerstone_pushed_completion"
            " WHERE customer = ?"
        )
        params: list[str] = [customer]
        if since is not None:
            query += " AND completed_at >= ?"
            params.append(since)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return {LedgerKey(*row) for row in rows}

    def record(self, keys: Iterable[LedgerKey], *, at: datetime | None = None) -> None:
        stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        rows = [(k.customer, k.course_id, k.user_id, k.completed_at, stamp) for k in keys]
        with self._lock:
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO cornerstone_pushed_completion VALUES (?, ?, ?, ?, ?)", rows
                )
            except sqlite3.Error as exc:
                raise StateError(f"completions ledger {self.path}: cannot record a push ({exc})") from exc

    def count(self, customer: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM cornerstone_pushed_completion WHERE customer = ?", (customer,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
