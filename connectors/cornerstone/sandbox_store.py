"""Storage of the Cornerstone sandbox portal: API clients, employees, catalog, transcripts.

SQLite through the standard library, so a sandbox survives a restart when given a file and
costs nothing in memory for tests. It holds only synthetic data. The rules a real portal
enforces live here so the HTTP layer stays thin: a completed transcript stays completed,
and a Completed learning assignment is never downgraded.

It must never be used as, or pointed at, a real customer's data.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_client (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS employee (
    guid TEXT PRIMARY KEY, external_id TEXT UNIQUE NOT NULL, user_name TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS learning_object (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, is_active INTEGER NOT NULL,
    last_modified_utc TEXT NOT NULL, item TEXT NOT NULL, feed TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, updates INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS transcript (
    user_guid TEXT NOT NULL, lo_id TEXT NOT NULL, status TEXT NOT NULL, completed_at TEXT,
    completions INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_guid, lo_id));
CREATE TABLE IF NOT EXISTS learning_assignment (
    id TEXT PRIMARY KEY, user_guid TEXT NOT NULL, lo_id TEXT NOT NULL, status TEXT NOT NULL,
    last_access TEXT);
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY, last_modified TEXT);
CREATE TABLE IF NOT EXISTS api_call (
    route TEXT NOT NULL, method TEXT NOT NULL, status INTEGER NOT NULL, at TEXT NOT NULL);
"""

COMPLETED = "Completed"


class DowngradeRefusedError(Exception):
    """A Completed learning assignment cannot go back to another status."""


class NotFoundError(Exception):
    """The employee, learning object or assignment does not exist."""


@dataclass(frozen=True)
class Ingest:
    """What one catalog item did to the store."""

    outcome: str  # created | updated | retired | unchanged


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SandboxStore:
    """Thread-safe access to one sandbox database (``:memory:`` or a file)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- OAuth2 ---------------------------------------------------------------------------

    def add_client(self, client_id: str, client_secret: str, scope: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO api_client VALUES (?, ?, ?)", (client_id, client_secret, scope)
            )

    def issue_token(
        self, client_id: str, client_secret: str, scope: str, now: float, lifetime: int
    ) -> str | None:
        """A bearer token for valid credentials, limited to the scopes both asked and granted."""
        with self._tx() as db:
            row = db.execute(
                "SELECT client_secret, scope FROM api_client WHERE client_id = ?", (client_id,)
            ).fetchone()
            if row is None or not secrets.compare_digest(row["client_secret"], client_secret):
                return None
            granted = set(row["scope"].split())
            asked = set(scope.split()) if scope else granted
            token = secrets.token_urlsafe(24)
            db.execute(
                "INSERT INTO access_token VALUES (?, ?, ?, ?)",
                (token, client_id, " ".join(sorted(asked & granted)), now + lifetime),
            )
            return token

    def token_scopes(self, token: str, now: float) -> set[str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT scope, expires_at FROM access_token WHERE token = ?", (token,)
            ).fetchone()
        if row is None or row["expires_at"] <= now:
            return None
        return set(row["scope"].split())

    def expire_tokens(self) -> None:
        with self._tx() as db:
            db.execute("UPDATE access_token SET expires_at = 0")

    # --- employees ------------------------------------------------------------------------

    def add_employee(self, external_id: str, *, guid: str | None = None, user_name: str = "") -> str:
        guid = guid or str(uuid.uuid4())
        with self._tx() as db:
            db.execute("INSERT INTO employee VALUES (?, ?, ?)", (guid, external_id, user_name))
        return guid

    def employees(self, external_id: str | None = None) -> list[dict[str, Any]]:
        query, params = "SELECT guid, external_id, user_name FROM employee", tuple[str, ...]()
        if external_id is not None:
            query, params = query + " WHERE external_id = ?", (external_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY guid", params).fetchall()
        return [{"guid": r["guid"], "externalId": r["external_id"], "userName": r["user_name"]} for r in rows]

    def _require_employee(self, db: sqlite3.Connection, guid: str) -> None:
        if db.execute("SELECT 1 FROM employee WHERE guid = ?", (guid,)).fetchone() is None:
            raise NotFoundError("employee")

    def _require_learning_object(self, db: sqlite3.Connection, lo_id: str) -> None:
        if db.execute("SELECT 1 FROM learning_object WHERE id = ?", (lo_id,)).fetchone() is None:
            raise NotFoundError("learning object")

    # --- catalog --------------------------------------------------------------------------

    def ingest(self, item: dict[str, Any], feed: str = "") -> Ingest:
        """One feed item, as Cornerstone treats it: only a moved ``LastModifiedUTC`` changes a course."""
        with self._tx() as db:
            row = db.execute(
                "SELECT is_active, last_modified_utc FROM learning_object WHERE id = ?", (item["ID"],)
            ).fetchone()
            active = 1 if item["IsActive"] else 0
            values = (item["Title"], active, item["LastModifiedUTC"], json.dumps(item, sort_keys=True))
            if row is None:
                db.execute(
                    "INSERT INTO learning_object VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (item["ID"], *values, feed, _now(), _now()),
                )
                return Ingest("created")
            if item["LastModifiedUTC"] <= row["last_modified_utc"]:
                return Ingest("unchanged")
            db.execute(
                "UPDATE learning_object SET title = ?, is_active = ?, last_modified_utc = ?, item = ?,"
                " updated_at = ?, updates = updates + 1 WHERE id = ?",
                (*values, _now(), item["ID"]),
            )
            return Ingest("retired" if row["is_active"] and not active else "updated")

    def learning_objects(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, item, is_active, updates FROM learning_object ORDER BY id"
            ).fetchall()
        return {
            r["id"]: {**json.loads(r["item"]), "IsActive": bool(r["is_active"]), "_updates": r["updates"]}
            for r in rows
        }

    def feed_last_modified(self, url: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT last_modified FROM feed_state WHERE url = ?", (url,)).fetchone()
        return None if row is None else str(row["last_modified"])

    def set_feed_last_modified(self, url: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO feed_state VALUES (?, ?)", (url, value))

    # --- transcripts and learning assignments ----------------------------------------------

    def complete(self, user_guid: str, lo_id: str) -> bool:
        """Complete a transcript; False when it already was (nothing changes)."""
        with self._tx() as db:
            self._require_employee(db, user_guid)
            self._require_learning_object(db, lo_id)
            row = db.execute(
                "SELECT status FROM transcript WHERE user_guid = ? AND lo_id = ?", (user_guid, lo_id)
            ).fetchone()
            db.execute(
                "UPDATE learning_assignment SET status = ? WHERE user_guid = ? AND lo_id = ?",
                (COMPLETED, user_guid, lo_id),
            )
            if row is not None and row["status"] == COMPLETED:
                db.execute(
                    "UPDATE transcript SET completions = completions + 1 WHERE user_guid = ? AND lo_id = ?",
                    (user_guid, lo_id),
                )
                return False
            db.execute(
                "INSERT OR REPLACE INTO transcript VALUES (?, ?, ?, ?, 1)",
                (user_guid, lo_id, COMPLETED, _now()),
            )
            return True

    def transcripts(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM transcript ORDER BY user_guid, lo_id").fetchall()
        return [dict(r) for r in rows]

    def add_assignment(self, user_guid: str, lo_id: str, status: str = "Assigned") -> str:
        assignment_id = str(uuid.uuid4())
        with self._tx() as db:
            db.execute(
                "INSERT INTO learning_assignment VALUES (?, ?, ?, ?, NULL)",
                (assignment_id, user_guid, lo_id, status),
            )
        return assignment_id

    def assignments(self, user_guid: str | None = None, lo_id: str | None = None) -> list[dict[str, Any]]:
        query, params = "SELECT * FROM learning_assignment WHERE 1 = 1", []
        if user_guid is not None:
            query += " AND user_guid = ?"
            params.append(user_guid)
        if lo_id is not None:
            query += " AND lo_id = ?"
            params.append(lo_id)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [
            {
                "Id": r["id"],
                "UserId": r["user_guid"],
                "LoId": r["lo_id"],
                "Status": r["status"],
                "LastAccessDate": r["last_access"],
            }
            for r in rows
        ]

    def update_assignment(self, assignment_id: str, status: str, last_access: str | None) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT status FROM learning_assignment WHERE id = ?", (assignment_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError("learning assignment")
            if row["status"] == COMPLETED and status != COMPLETED:
                raise DowngradeRefusedError(assignment_id)
            db.execute(
                "UPDATE learning_assignment SET status = ?, last_access = ? WHERE id = ?",
                (status, last_access, assignment_id),
            )

    # --- request log (tests and operators read it to see what a client did) -----------------

    def log_call(self, route: str, method: str, status: int) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO api_call VALUES (?, ?, ?, ?)", (route, method, status, _now()))

    def calls(self, route: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        query, params = "SELECT route, method, status FROM api_call WHERE 1 = 1", []
        for column, value in (("route", route), ("method", method)):
            if value is not None:
                query += f" AND {column} = ?"
                params.append(value)
        with self._lock:
            return [dict(r) for r in self._db.execute(query + " ORDER BY rowid", params).fetchall()]

    def seed(self, employees: Iterable[str]) -> dict[str, str]:
        """Employees by external id → guid (admin seeding)."""
        return {external_id: self.add_employee(external_id) for external_id in employees}
