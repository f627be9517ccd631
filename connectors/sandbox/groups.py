"""Sandbox groups, roles and bulk memberships: the part of the contract about who is where.

The company has one platform (root) group, created with the database. Roles are per group
and only per group (``GET /groups/{id}/roles`` never reports a subgroup's roles). Removing
the learner role also removes it from the group's public subgroups, recursively, as the
LMS does. Bulk operations are queued here and run by ``BulkWorker`` in the background, at
most three pending/running per company. This module must never decide HTTP framing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from connectors.sandbox.db import Database, new_id, now_iso
from connectors.sandbox.protocol import (
    ApiError,
    ApiRequest,
    ApiResponse,
    Route,
    paginate,
    require_str,
    route,
)

ROLES = frozenset({"admin", "analyst", "coach", "contributor", "editor", "learner", "user-admin"})
MAX_BULK_ITEMS = 20_000
MAX_CONCURRENT_BULK = 3


def group_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "name": row["name"],
        "public": bool(row["public"]),
        "parentId": row["parent_id"],
        "createdAt": row["created_at"],
    }


def find_group(conn: sqlite3.Connection, group_id: str, *, code: str = "groupNotFound") -> sqlite3.Row:
    row = conn.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
    if row is None:
        raise ApiError(404, code, f"no group has id {group_id}")
    return row  # type: ignore[no-any-return]


def insert_group(
    conn: sqlite3.Connection, name: str, parent_id: str | None, public: bool, group_id: str | None = None
) -> sqlite3.Row:
    if parent_id is not None:
        find_group(conn, parent_id, code="parentGroupNotFound")
    gid = group_id or new_id()
    conn.execute(
        "INSERT INTO groups (id, name, public, parent_id, created_at) VALUES (?, ?, ?, ?, ?)",
        (gid, name, int(public), parent_id, now_iso()),
    )
    return find_group(conn, gid)


def platform_group_id(db: Database) -> str:
    """The root group, created on first start so every company has one."""
    existing = db.meta("platform_group_id")
    if existing:
        return existing
    with db.transaction() as conn:
        gid = str(insert_group(conn, "Platform", None, True)["id"])
        conn.execute("INSERT INTO meta (key, value) VALUES ('platform_group_id', ?)", (gid,))
    return gid


def _live_user(conn: sqlite3.Connection, user_id: str) -> None:
    row = conn.execute("SELECT status FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise ApiError(404, "userNotFound", f"no user has id {user_id}")
    if row["status"] == "deleted":
        raise ApiError(400, "invalidUpdateOnDeletedUser", f"user {user_id} is deleted")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ApiError(400, "roleInvalid", f"role must be one of {', '.join(sorted(ROLES))}")


def add_role(conn: sqlite3.Connection, group_id: str, user_id: str, role: str) -> None:
    """Idempotent: granting a role the user already holds changes nothing."""
    check_role(role)
    find_group(conn, group_id)
    _live_user(conn, user_id)
    conn.execute(
        "INSERT OR IGNORE INTO roles (group_id, user_id, role) VALUES (?, ?, ?)", (group_id, user_id, role)
    )


def remove_role(conn: sqlite3.Connection, group_id: str, user_id: str, role: str) -> None:
    """Idempotent; removing learner cascades to the group's public subgroups (recursively)."""
    check_role(role)
    find_group(conn, group_id)
    _live_user(conn, user_id)
    groups = [group_id]
    if role == "learner":
        frontier = [group_id]
        while frontier:
            children = conn.execute(
                f"SELECT id FROM groups WHERE public = 1 AND parent_id IN ({','.join('?' * len(frontier))})",
                frontier,
            ).fetchall()
            frontier = [str(r["id"]) for r in children]
            groups.extend(frontier)
    conn.executemany(
        "DELETE FROM roles WHERE group_id = ? AND user_id = ? AND role = ?",
        [(g, user_id, role) for g in groups],
    )


# --- API handlers ---------------------------------------------------------------------------


def list_groups(db: Database, req: ApiRequest) -> ApiResponse:
    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                "SELECT * FROM groups WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()

    return paginate(req, "groups", fetch, lambda rows: [group_object(r) for r in rows])


def get_group(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        return ApiResponse(200, group_object(find_group(conn, req.params["groupId"])))


def create_group(db: Database, req: ApiRequest) -> ApiResponse:
    body = req.json_object()
    name = require_str(body, "name")
    assert name is not None
    parent_id = require_str(body, "parentId", optional=True)
    public = body.get("public", False)
    if not isinstance(public, bool):
        raise ApiError(400, "bodyInvalid", "public must be true or false")
    with db.transaction() as conn:
        row = insert_group(conn, name, parent_id, public)
    return ApiResponse(201, group_object(row))


def group_roles(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        find_group(conn, req.params["groupId"])
        rows = conn.execute(
            "SELECT user_id, role FROM roles WHERE group_id = ? ORDER BY rowid", (req.params["groupId"],)
        ).fetchall()
    return ApiResponse(200, [{"userId": r["user_id"], "role": r["role"]} for r in rows])


def put_role(db: Database, req: ApiRequest) -> ApiResponse:
    with db.transaction() as conn:
        add_role(conn, req.params["groupId"], req.params["userId"], req.params["role"])
    return ApiResponse(204)


def delete_role(db: Database, req: ApiRequest) -> ApiResponse:
    with db.transaction() as conn:
        remove_role(conn, req.params["groupId"], req.params["userId"], req.params["role"])
    return ApiResponse(204)


def _bulk_items(req: ApiRequest) -> list[dict[str, Any]]:
    items = req.json_object().get("input")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError(400, "bodyInvalid", "input must be a list of {userId, groupId, role}")
    if len(items) > MAX_BULK_ITEMS:
        raise ApiError(400, "tooManyItems", f"at most {MAX_BULK_ITEMS} items per bulk operation")
    return items


def _submit_bulk(db: Database, req: ApiRequest, kind: str) -> ApiResponse:
    items = _bulk_items(req)
    with db.transaction() as conn:
        (active,) = conn.execute(
            "SELECT count(*) FROM bulk_operations WHERE status IN ('pending', 'running')"
        ).fetchone()
        if active >= MAX_CONCURRENT_BULK:
            raise ApiError(
                429,
                "bulkOperationsConcurrencyLimitReached",
                f"at most {MAX_CONCURRENT_BULK} bulk operations may run at once",
            )
        op_id = new_id()
        conn.execute(
            "INSERT INTO bulk_operations (id, kind, status, created_at, input) "
            "VALUES (?, ?, 'pending', ?, ?)",
            (op_id, kind, now_iso(), json.dumps(items)),
        )
    location = f"{req.base_url}/api/v2/bulk/operations/{op_id}"
    return ApiResponse(202, {"_id": op_id, "status": "pending"}, {"Location": location})


def bulk_add(db: Database, req: ApiRequest) -> ApiResponse:
    return _submit_bulk(db, req, "add")


def bulk_remove(db: Database, req: ApiRequest) -> ApiResponse:
    return _submit_bulk(db, req, "remove")


def _operation(conn: sqlite3.Connection, op_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM bulk_operations WHERE id = ?", (op_id,)).fetchone()
    if row is None:
        raise ApiError(404, "bulkOperationNotFound", f"no bulk operation has id {op_id}")
    return row  # type: ignore[no-any-return]


def get_operation(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        row = _operation(conn, req.params["operationId"])
    return ApiResponse(200, {"_id": row["id"], "status": row["status"], "createdAt": row["created_at"]})


def get_operation_results(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        row = _operation(conn, req.params["operationId"])
    if row["status"] not in ("completed", "error"):
        raise ApiError(400, "bulkOperationNotCompleted", "results exist once the operation completed")
    return ApiResponse(200, json.loads(row["results"] or "[]"))


def run_operation(db: Database, op_id: str) -> None:
    """Apply each item on its own: one bad item fails alone, as the LMS reports per item."""
    with db.transaction() as conn:
        row = _operation(conn, op_id)
        conn.execute("UPDATE bulk_operations SET status = 'running' WHERE id = ?", (op_id,))
    results: list[dict[str, Any]] = []
    for item in json.loads(row["input"]):
        try:
            user_id, group_id, role = (str(item.get(k, "")) for k in ("userId", "groupId", "role"))
            with db.transaction() as conn:
                if row["kind"] == "add":
                    add_role(conn, group_id, user_id, role)
                else:
                    remove_role(conn, group_id, user_id, role)
            results.append({"input": item, "status": "success", "resourceId": user_id})
        except ApiError as exc:
            results.append({"input": item, "status": "error", "errorMessage": f"{exc.code}: {exc.message}"})
    with db.transaction() as conn:
        conn.execute(
            "UPDATE bulk_operations SET status = 'completed', results = ? WHERE id = ?",
            (json.dumps(results), op_id),
        )


class BulkWorker:
    """Runs queued bulk operations in a background thread, oldest first.

    ``paused`` holds operations in ``pending`` so tests can observe the concurrency limit.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.paused = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sandbox-bulk", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            while not self.paused and not self._stop.is_set():
                with self.db.reading() as conn:
                    row = conn.execute(
                        "SELECT id FROM bulk_operations WHERE status IN ('pending', 'running') "
                        "ORDER BY seq LIMIT 1"
                    ).fetchone()
                if row is None:
                    break
                run_operation(self.db, str(row["id"]))


ROUTES: list[Route] = [
    route("GET", "/api/v2/groups", list_groups),
    route("POST", "/api/v2/groups", create_group),
    route("GET", "/api/v2/groups/{groupId}", get_group),
    route("GET", "/api/v2/groups/{groupId}/roles", group_roles),
    route("POST", "/api/v2/groups/{groupId}/{role}/{userId}", put_role),
    route("DELETE", "/api/v2/groups/{groupId}/{role}/{userId}", delete_role),
    route("POST", "/api/v2/bulk/groups/memberships", bulk_add),
    route("DELETE", "/api/v2/bulk/groups/memberships", bulk_remove),
    route("GET", "/api/v2/bulk/operations/{operationId}", get_operation),
    route("GET", "/api/v2/bulk/operations/{operationId}/results", get_operation_results),
]
