"""Sandbox users: profiles, soft delete and restore, managers, custom values, invitations.

User objects carry their custom values and manager ids inline, so a snapshot of the whole
company is one paged listing, not one GET per user. Deleting is soft: the user keeps its id
and external ids but loses its roles and manager links; creating a user with a deleted
user's mail restores it (200), without its old groups. This module must never log or echo
a mail or a name in an error message: the API's messages name ids only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

from connectors.sandbox.db import Database, new_id, now_iso
from connectors.sandbox.groups import add_role, check_role
from connectors.sandbox.protocol import (
    MAIL_PATTERN,
    ApiError,
    ApiRequest,
    ApiResponse,
    Route,
    paginate,
    require_str,
    route,
)
from engine.config.models import LMS_LANGUAGES

#: API field -> column, for the profile fields POST and PATCH accept.
PROFILE_COLUMNS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "job": "job",
    "organization": "organization",
    "lang": "lang",
}
STATUSES = ("active", "invited", "deleted")


def user_objects(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    """Rows -> API objects, with custom values and managers fetched in two queries per page."""
    ids = [str(r["id"]) for r in rows]
    values: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    managers: dict[str, list[str]] = {i: [] for i in ids}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for v in conn.execute(
            "SELECT v.user_id, v.field_id, v.value, f.type FROM custom_values v "
            f"JOIN custom_fields f ON f.id = v.field_id WHERE v.user_id IN ({marks}) ORDER BY f.seq",
            chunk,
        ):
            values[v["user_id"]].append(
                {"customFieldId": v["field_id"], "type": v["type"], "value": v["value"]}
            )
        for m in conn.execute(
            f"SELECT user_id, manager_id FROM managers WHERE user_id IN ({marks}) ORDER BY rowid", chunk
        ):
            managers[m["user_id"]].append(m["manager_id"])
    return [
        {
            "_id": r["id"],
            "mail": r["mail"],
            "firstName": r["first_name"],
            "lastName": r["last_name"],
            "job": r["job"],
            "organization": r["organization"],
            "lang": r["lang"],
            "status": r["status"],
            "createdAt": r["created_at"],
            "customFields": values[r["id"]],
            "managers": managers[r["id"]],
        }
        for r in rows
    ]


def find_user(conn: sqlite3.Connection, user_id: str, *, code: str = "userNotFound") -> sqlite3.Row:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise ApiError(404, code, f"no user has id {user_id}")
    return row  # type: ignore[no-any-return]


def _live(row: sqlite3.Row) -> None:
    if row["status"] == "deleted":
        raise ApiError(
            400, "invalidUpdateOnDeletedUser", f"user {row['id']} is deleted; create it again to restore it"
        )


def _profile(body: dict[str, Any]) -> dict[str, str | None]:
    """The profile columns present in ``body``, validated; absent keys are not returned."""
    unknown = set(body) - set(PROFILE_COLUMNS) - {"mail", "membership"}
    if unknown:
        raise ApiError(400, "bodyInvalid", f"unknown field(s): {', '.join(sorted(unknown))}")
    changes: dict[str, str | None] = {}
    for key, column in PROFILE_COLUMNS.items():
        if key in body:
            changes[column] = require_str(body, key, optional=True)
    lang = changes.get("lang")
    if lang is not None and lang not in LMS_LANGUAGES:
        raise ApiError(400, "langInvalid", "lang must be one of the platform's language codes")
    return changes


def _mail(body: dict[str, Any]) -> str:
    mail = require_str(body, "mail")
    if mail is None or not MAIL_PATTERN.match(mail):
        # Echoes the address, as APIs often do: the client must mask it (a harsher peer).
        raise ApiError(400, "mailInvalid", f"mail {mail!r} is not a valid e-mail address")
    return mail


def insert_user(
    conn: sqlite3.Connection, body: dict[str, Any], *, send_invitation: bool, user_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Create, or restore a deleted user with that mail; returns (user, restored)."""
    mail = _mail(body)
    profile = _profile(body)
    membership = body.get("membership")
    if not isinstance(membership, dict):
        raise ApiError(400, "bodyInvalid", "membership {groupId, role} is required")
    group_id = require_str(membership, "groupId")
    role = require_str(membership, "role", optional=True) or "learner"
    check_role(role)
    if conn.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone() is None:
        raise ApiError(404, "groupNotFound", f"no group has id {group_id}")
    status = "invited" if send_invitation else "active"
    existing = conn.execute("SELECT * FROM users WHERE lower(mail) = lower(?)", (mail,)).fetchone()
    if existing is not None and existing["status"] != "deleted":
        raise ApiError(400, "mailAlreadyUsed", f"mail {mail} is already used by user {existing['id']}")
    if existing is not None:
        uid, restored = str(existing["id"]), True
        sets = ", ".join(f"{c} = ?" for c in profile)
        conn.execute(
            f"UPDATE users SET status = ?, mail = ?{', ' + sets if sets else ''} WHERE id = ?",
            (status, mail, *profile.values(), uid),
        )
    else:
        uid, restored = user_id or new_id(), False
        columns = ["id", "mail", "status", "created_at", *profile]
        conn.execute(
            f"INSERT INTO users ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (uid, mail, status, now_iso(), *profile.values()),
        )
    assert group_id is not None
    add_role(conn, group_id, uid, role)
    if send_invitation:
        conn.execute("INSERT INTO invitations (user_id, sent_at) VALUES (?, ?)", (uid, now_iso()))
    return user_objects(conn, [find_user(conn, uid)])[0], restored


def soft_delete(conn: sqlite3.Connection, user_id: str) -> None:
    find_user(conn, user_id)
    conn.execute("UPDATE users SET status = 'deleted' WHERE id = ?", (user_id,))
    conn.execute("DELETE FROM roles WHERE user_id = ?", (user_id,))
    conn.execute("DELETE FROM managers WHERE user_id = ? OR manager_id = ?", (user_id, user_id))


def replace_custom_values(conn: sqlite3.Connection, user_id: str, values: Any) -> None:
    """PUT semantics: the given list becomes the user's values; fields not listed lose theirs."""
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise ApiError(400, "bodyInvalid", "customValues must be a list of {customFieldId, type, value}")
    rows: list[tuple[str, str, str]] = []
    for item in values:
        field_id = str(item.get("customFieldId", ""))
        spec = conn.execute("SELECT type FROM custom_fields WHERE id = ?", (field_id,)).fetchone()
        if spec is None:
            raise ApiError(404, "customFieldNotFound", f"no custom field has id {field_id}")
        if item.get("type", spec["type"]) != spec["type"]:
            raise ApiError(400, "customValueInvalid", f"custom field {field_id} is of type {spec['type']}")
        value = item.get("value")
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ApiError(400, "customValueInvalid", f"value of custom field {field_id} must be a string")
        if spec["type"] == "date" and not _is_date(value):
            raise ApiError(400, "customValueInvalid", f"value of date field {field_id} must be YYYY-MM-DD")
        rows.append((user_id, field_id, value))
    conn.execute("DELETE FROM custom_values WHERE user_id = ?", (user_id,))
    conn.executemany("INSERT OR REPLACE INTO custom_values (user_id, field_id, value) VALUES (?, ?, ?)", rows)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


# --- API handlers ---------------------------------------------------------------------------


def list_users(db: Database, req: ApiRequest) -> ApiResponse:
    """All users, deleted ones included unless ``status`` filters them (documented choice)."""
    where, args = ["seq > ?"], []
    status = req.arg("status")
    if status is not None:
        if status not in STATUSES:
            raise ApiError(400, "statusInvalid", f"status must be one of {', '.join(STATUSES)}")
        where.append("status = ?")
        args.append(status)
    mail = req.arg("mail")
    if mail is not None:
        where.append("lower(mail) = lower(?)")
        args.append(mail)

    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                f"SELECT * FROM users WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (after, *args, limit)
            ).fetchall()

    def render(rows: Sequence[sqlite3.Row]) -> list[Any]:
        with db.reading() as conn:
            return user_objects(conn, rows)

    return paginate(req, "users", fetch, render)


def get_user(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        return ApiResponse(200, user_objects(conn, [find_user(conn, req.params["userId"])])[0])


def create_user(db: Database, req: ApiRequest) -> ApiResponse:
    invite = (req.arg("sendInvitationEmail") or "false").lower() == "true"
    with db.transaction() as conn:
        user, restored = insert_user(conn, req.json_object(), send_invitation=invite)
    return ApiResponse(200 if restored else 201, user)


def update_user(db: Database, req: ApiRequest) -> ApiResponse:
    body = req.json_object()
    if "membership" in body:
        raise ApiError(400, "bodyInvalid", "membership cannot be changed by PATCH; use the group roles")
    with db.transaction() as conn:
        row = find_user(conn, req.params["userId"])
        _live(row)
        changes: dict[str, Any] = _profile(body)
        if "mail" in body:
            mail = _mail(body)
            other = conn.execute(
                "SELECT id FROM users WHERE lower(mail) = lower(?) AND id != ?", (mail, row["id"])
            ).fetchone()
            if other is not None:
                raise ApiError(400, "mailAlreadyUsed", f"mail {mail} is already used by user {other['id']}")
            changes["mail"] = mail
        if changes:
            sets = ", ".join(f"{c} = ?" for c in changes)
            conn.execute(f"UPDATE users SET {sets} WHERE id = ?", (*changes.values(), row["id"]))
        return ApiResponse(200, user_objects(conn, [find_user(conn, row["id"])])[0])


def delete_user(db: Database, req: ApiRequest) -> ApiResponse:
    """204 even when already deleted: deleting is idempotent, like the other writes here."""
    with db.transaction() as conn:
        soft_delete(conn, req.params["userId"])
    return ApiResponse(204)


def list_managers(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        find_user(conn, req.params["userId"])
        rows = conn.execute(
            "SELECT manager_id FROM managers WHERE user_id = ? ORDER BY rowid", (req.params["userId"],)
        ).fetchall()
    return ApiResponse(200, [r["manager_id"] for r in rows])


def add_manager(db: Database, req: ApiRequest) -> ApiResponse:
    with db.transaction() as conn:
        _live(find_user(conn, req.params["userId"]))
        manager = find_user(conn, req.params["managerId"], code="managerNotFound")
        if manager["status"] == "deleted":
            raise ApiError(404, "managerNotFound", f"manager {manager['id']} is deleted")
        if manager["id"] == req.params["userId"]:
            raise ApiError(400, "managerInvalid", "a user cannot be their own manager")
        conn.execute(
            "INSERT OR IGNORE INTO managers (user_id, manager_id) VALUES (?, ?)",
            (req.params["userId"], req.params["managerId"]),
        )
    return ApiResponse(204)


def remove_manager(db: Database, req: ApiRequest) -> ApiResponse:
    with db.transaction() as conn:
        find_user(conn, req.params["userId"])
        conn.execute(
            "DELETE FROM managers WHERE user_id = ? AND manager_id = ?",
            (req.params["userId"], req.params["managerId"]),
        )
    return ApiResponse(204)


def get_custom_values(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        user = user_objects(conn, [find_user(conn, req.params["userId"])])[0]
    return ApiResponse(200, {"customValues": user["customFields"]})


def put_custom_values(db: Database, req: ApiRequest) -> ApiResponse:
    body = req.json_object()
    with db.transaction() as conn:
        _live(find_user(conn, req.params["userId"]))
        replace_custom_values(conn, req.params["userId"], body.get("customValues"))
        user = user_objects(conn, [find_user(conn, req.params["userId"])])[0]
    return ApiResponse(200, {"customValues": user["customFields"]})


def user_roles(db: Database, req: ApiRequest) -> ApiResponse:
    with db.reading() as conn:
        find_user(conn, req.params["userId"])
        rows = conn.execute(
            "SELECT group_id, role FROM roles WHERE user_id = ? ORDER BY rowid", (req.params["userId"],)
        ).fetchall()
    return ApiResponse(200, [{"groupId": r["group_id"], "role": r["role"]} for r in rows])


ROUTES: list[Route] = [
    route("GET", "/api/v2/users", list_users),
    route("POST", "/api/v2/users", create_user),
    route("GET", "/api/v2/users/{userId}", get_user),
    route("PATCH", "/api/v2/users/{userId}", update_user),
    route("DELETE", "/api/v2/users/{userId}", delete_user),
    route("GET", "/api/v2/users/{userId}/managers", list_managers),
    route("POST", "/api/v2/users/{userId}/managers/{managerId}", add_manager),
    route("DELETE", "/api/v2/users/{userId}/managers/{managerId}", remove_manager),
    route("GET", "/api/v2/users/{userId}/custom-fields/values", get_custom_values),
    route("PUT", "/api/v2/users/{userId}/custom-fields/values", put_custom_values),
    route("GET", "/api/v2/users/{userId}/roles", user_roles),
]
