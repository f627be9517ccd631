"""Sandbox custom-field definitions, external ids, courses and course statistics.

External ids are how a connector remembers which LMS user a source record became: they
survive a soft delete so a sync can see that a managed user was deleted in the LMS. Courses
and their statistics are read-only in the API (the Cornerstone connector reads them); the
admin surface seeds them. This module must never decide HTTP framing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from connectors.sandbox.db import Database, new_id, now_iso
from connectors.sandbox.protocol import ApiError, ApiRequest, ApiResponse, Route, paginate, require_str, route

FIELD_TYPES = ("string", "date")
COURSE_STATUSES = ("published", "archived")


def field_object(row: sqlite3.Row) -> dict[str, Any]:
    return {"_id": row["id"], "name": row["name"], "targetType": row["target_type"], "type": row["type"]}


def insert_custom_field(
    conn: sqlite3.Connection, name: str, field_type: str, field_id: str | None = None
) -> dict[str, Any]:
    if field_type not in FIELD_TYPES:
        raise ApiError(400, "typeInvalid", f"type must be one of {', '.join(FIELD_TYPES)}")
    if conn.execute("SELECT 1 FROM custom_fields WHERE name = ?", (name,)).fetchone() is not None:
        raise ApiError(400, "nameAlreadyTaken", "a custom field already has this name")
    fid = field_id or new_id()
    conn.execute(
        "INSERT INTO custom_fields (id, name, type, target_type, created_at) VALUES (?, ?, ?, 'users', ?)",
        (fid, name, field_type, now_iso()),
    )
    return field_object(conn.execute("SELECT * FROM custom_fields WHERE id = ?", (fid,)).fetchone())


def delete_custom_field(conn: sqlite3.Connection, field_id: str) -> None:
    """Admin only (the API has no such endpoint): lets tests play 'an admin deleted the field'."""
    conn.execute("DELETE FROM custom_values WHERE field_id = ?", (field_id,))
    conn.execute("DELETE FROM custom_fields WHERE id = ?", (field_id,))


def external_id_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "platform": row["platform"],
        "targetType": row["target_type"],
        "targetId": row["target_id"],
        "value": row["value"],
    }


def insert_external_id(conn: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
    platform, target_id, value = (require_str(body, k) for k in ("platform", "targetId", "value"))
    if body.get("targetType", "user") != "user":
        raise ApiError(400, "targetTypeInvalid", "targetType must be user")
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (target_id,)).fetchone() is None:
        raise ApiError(404, "userNotFound", f"no user has id {target_id}")
    if (
        conn.execute(
            "SELECT 1 FROM external_ids WHERE platform = ? AND value = ?", (platform, value)
        ).fetchone()
        is not None
    ):
        raise ApiError(400, "valueAlreadyUsed", f"this value is already used on platform {platform}")
    eid = new_id()
    conn.execute(
        "INSERT INTO external_ids (id, platform, target_type, target_id, value, created_at) "
        "VALUES (?, ?, 'user', ?, ?, ?)",
        (eid, platform, target_id, value, now_iso()),
    )
    return external_id_object(conn.execute("SELECT * FROM external_ids WHERE id = ?", (eid,)).fetchone())


def course_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "lang": row["lang"],
        "status": row["status"],
        "tags": json.loads(row["tags"]),
        "createdAt": row["created_at"],
        "modifiedAt": row["modified_at"],
        "imageUrl": row["image_url"],
        "duration": row["duration"],
    }


def insert_course(conn: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
    status = body.get("status", "published")
    if status not in COURSE_STATUSES:
        raise ApiError(400, "statusInvalid", f"course status must be one of {', '.join(COURSE_STATUSES)}")
    cid = str(body.get("_id") or new_id())
    created = str(body.get("createdAt") or now_iso())
    conn.execute(
        "INSERT INTO courses (id, name, description, lang, status, tags, created_at, modified_at, image_url, "
        "duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            cid,
            require_str(body, "name"),
            body.get("description"),
            body.get("lang", "en"),
            status,
            json.dumps(list(body.get("tags", []))),
            created,
            str(body.get("modifiedAt") or created),
            body.get("imageUrl"),
            body.get("duration"),
        ),
    )
    return course_object(conn.execute("SELECT * FROM courses WHERE id = ?", (cid,)).fetchone())


STAT_KEYS = ("courseId", "userId", "progress", "score", "completedAt", "timeSpent", "startedAt")


def insert_course_stat(conn: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
    for key in ("courseId", "userId"):
        require_str(body, key)
    conn.execute(
        "INSERT INTO course_stats (course_id, user_id, progress, score, completed_at, time_spent, "
        "started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            *(body.get(k) for k in STAT_KEYS[:4]),
            normalize_instant(str(body["completedAt"])) if body.get("completedAt") else None,
            *(body.get(k) for k in STAT_KEYS[5:]),
        ),
    )
    return {k: body.get(k) for k in STAT_KEYS}


def normalize_instant(raw: str) -> str:
    """Any ISO 8601 date or date-time -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC (naive means UTC),
    so stored instants and filter bounds compare correctly as strings."""
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat(timespec="milliseconds") + "Z"


def _instant(req: ApiRequest, name: str) -> str | None:
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        return normalize_instant(raw)
    except ValueError as exc:
        raise ApiError(400, "dateInvalid", f"{name} must be an ISO 8601 date or date-time") from exc


# --- API handlers ---------------------------------------------------------------------------


def list_custom_fields(db: Database, req: ApiRequest) -> ApiResponse:
    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                "SELECT * FROM custom_fields WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()

    return paginate(req, "custom-fields", fetch, lambda rows: [field_object(r) for r in rows])


def create_custom_field(db: Database, req: ApiRequest) -> ApiResponse:
    body = req.json_object()
    name, field_type = require_str(body, "name"), require_str(body, "type")
    if body.get("targetType", "users") != "users":
        raise ApiError(400, "targetTypeInvalid", "targetType must be users")
    assert name is not None and field_type is not None
    with db.transaction() as conn:
        return ApiResponse(201, insert_custom_field(conn, name, field_type))


def list_external_ids(db: Database, req: ApiRequest) -> ApiResponse:
    where, args = ["seq > ?"], []
    for name, column in (("platform[eq]", "platform"), ("value[eq]", "value"), ("targetId[eq]", "target_id")):
        value = req.arg(name)
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)

    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                f"SELECT * FROM external_ids WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                (after, *args, limit),
            ).fetchall()

    return paginate(req, "external-ids", fetch, lambda rows: [external_id_object(r) for r in rows])


def create_external_id(db: Database, req: ApiRequest) -> ApiResponse:
    with db.transaction() as conn:
        return ApiResponse(201, insert_external_id(conn, req.json_object()))


def list_courses(db: Database, req: ApiRequest) -> ApiResponse:
    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                "SELECT * FROM courses WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()

    return paginate(req, "courses", fetch, lambda rows: [course_object(r) for r in rows])


def list_course_stats(db: Database, req: ApiRequest) -> ApiResponse:
    where, args = ["seq > ?"], []
    for name, op in (("completedAt[gte]", ">="), ("completedAt[lt]", "<")):
        bound = _instant(req, name)
        if bound is not None:
            where.append(f"completed_at IS NOT NULL AND completed_at {op} ?")
            args.append(bound)

    def fetch(after: int, limit: int) -> list[sqlite3.Row]:
        with db.reading() as conn:
            return conn.execute(
                f"SELECT * FROM course_stats WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                (after, *args, limit),
            ).fetchall()

    def render(rows: list[sqlite3.Row]) -> list[Any]:
        return [
            {
                "courseId": r["course_id"],
                "userId": r["user_id"],
                "progress": r["progress"],
                "score": r["score"],
                "completedAt": r["completed_at"],
                "timeSpent": r["time_spent"],
                "startedAt": r["started_at"],
            }
            for r in rows
        ]

    return paginate(req, "course-stats", fetch, render)  # type: ignore[arg-type]


ROUTES: list[Route] = [
    route("GET", "/api/v2/custom-fields", list_custom_fields),
    route("POST", "/api/v2/custom-fields", create_custom_field),
    route("GET", "/api/v2/external-ids", list_external_ids),
    route("POST", "/api/v2/external-ids", create_external_id),
    route("GET", "/api/v2/courses", list_courses),
    route("GET", "/api/v2/courses/stats", list_course_stats),
]
