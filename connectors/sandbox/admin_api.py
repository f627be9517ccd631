"""The sandbox's admin surface under ``/_sandbox/``: seed, inspect, misconfigure on purpose.

Separate from the API (its own token, ``X-Sandbox-Admin-Token``, printed at start; never
rate limited, never faulted, never in the request log) so tests and demos can arrange a
company and assert on its full state -- including what the API hides or cannot do, such as
invitations sent or a custom field deleted by an LMS admin. Endpoints:

- ``GET  /_sandbox/state``                 users (deleted too), groups, roles, managers,
  custom fields and values, external ids, invitations, courses, stats, bulk operations
- ``POST /_sandbox/seed``                  ``{groups, customFields, users, externalIds,
  courses, courseStats}`` -> the created objects, in that order
- ``GET|PUT /_sandbox/config``             ``{rateLimits, faults, pageSizes, bulkPaused, tokenTtl}``
- ``GET|DELETE /_sandbox/requests``        the API request log (method, path, query, status, at)
- ``POST /_sandbox/tokens/expire``         every access token stops working
- ``DELETE /_sandbox/custom-fields/{id}``  an LMS admin deletes a field definition

This module must never be reachable without the admin token.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from connectors.sandbox import groups, people, records
from connectors.sandbox.policy import Faults
from connectors.sandbox.protocol import DEFAULT_PAGE_SIZES, ApiError, Outcome, json_outcome

if TYPE_CHECKING:
    from connectors.sandbox.app import SandboxApp

ADMIN_HEADER = "x-sandbox-admin-token"


def handle_admin(
    app: SandboxApp, method: str, path: str, *, headers: dict[str, str], raw_body: bytes
) -> Outcome:
    if not secrets.compare_digest(headers.get(ADMIN_HEADER, ""), app.admin_token):
        return json_outcome(
            401, {"error": {"code": "adminTokenInvalid", "message": "send X-Sandbox-Admin-Token"}}
        )
    try:
        body = json.loads(raw_body) if raw_body else {}
        status, result = _dispatch(app, method, path, body)
    except ApiError as exc:
        return json_outcome(exc.status, exc.body())
    except sqlite3.IntegrityError as exc:
        # A seed naming an id (or a unique value) the sandbox already holds: nothing was kept.
        return json_outcome(
            409,
            {
                "error": {
                    "code": "idAlreadyUsed",
                    "message": f"the sandbox already holds this record ({exc}); nothing of the seed was kept",
                }
            },
        )
    except (ValueError, TypeError, KeyError) as exc:
        return json_outcome(400, {"error": {"code": "adminRequestInvalid", "message": str(exc)}})
    return json_outcome(status, result)


def _dispatch(app: SandboxApp, method: str, path: str, body: Any) -> tuple[int, Any]:
    if (method, path) == ("GET", "/_sandbox/state"):
        return 200, state(app)
    if (method, path) == ("POST", "/_sandbox/seed"):
        return 201, seed(app, body)
    if (method, path) == ("GET", "/_sandbox/config"):
        return 200, config(app)
    if (method, path) == ("PUT", "/_sandbox/config"):
        configure(app, body)
        return 200, config(app)
    if (method, path) == ("GET", "/_sandbox/requests"):
        return 200, app.request_log()
    if (method, path) == ("DELETE", "/_sandbox/requests"):
        app.reset_request_log()
        return 204, None
    if (method, path) == ("POST", "/_sandbox/tokens/expire"):
        app.expire_tokens()
        return 204, None
    field = re.fullmatch(r"/_sandbox/custom-fields/([^/]+)", path)
    if method == "DELETE" and field:
        with app.db.transaction() as conn:
            records.delete_custom_field(conn, field.group(1))
        return 204, None
    raise ApiError(404, "routeNotFound", f"no admin route {method} {path}")


def config(app: SandboxApp) -> dict[str, Any]:
    return {
        "rateLimits": asdict(app.limiter.limits),
        "faults": app.dice.faults.to_dict(),
        "pageSizes": dict(app.page_sizes),
        "bulkPaused": app.bulk.paused,
        "tokenTtl": app.token_ttl,
        "platformGroupId": app.platform_group_id,
    }


def configure(app: SandboxApp, body: dict[str, Any]) -> None:
    """Partial update: only the keys given change."""
    if "rateLimits" in body:
        app.limiter.configure(replace(app.limiter.limits, **body["rateLimits"]))
    if "faults" in body:
        app.dice.configure(Faults.from_dict(body["faults"], base=app.dice.faults))
    if "pageSizes" in body:
        unknown = set(body["pageSizes"]) - set(DEFAULT_PAGE_SIZES)
        if unknown:
            raise ValueError(f"unknown listing(s): {', '.join(sorted(unknown))}")
        app.page_sizes.update({k: int(v) for k, v in body["pageSizes"].items()})
    if "bulkPaused" in body:
        app.bulk.paused = bool(body["bulkPaused"])
        app.bulk.notify()
    if "tokenTtl" in body:
        app.token_ttl = int(body["tokenTtl"])


def seed(app: SandboxApp, body: dict[str, Any]) -> dict[str, list[Any]]:
    """Create everything in one transaction, through the same rules the API enforces."""
    out: dict[str, list[Any]] = {
        k: [] for k in ("groups", "customFields", "users", "externalIds", "courses", "courseStats")
    }
    with app.db.transaction() as conn:
        for g in body.get("groups", []):
            row = groups.insert_group(
                conn, g["name"], g.get("parentId"), bool(g.get("public", False)), g.get("_id")
            )
            out["groups"].append(groups.group_object(row))
        for f in body.get("customFields", []):
            out["customFields"].append(
                records.insert_custom_field(conn, f["name"], f.get("type", "string"), f.get("_id"))
            )
        for u in body.get("users", []):
            out["users"].append(_seed_user(app, conn, u))
        for e in body.get("externalIds", []):
            out["externalIds"].append(records.insert_external_id(conn, e))
        for c in body.get("courses", []):
            out["courses"].append(records.insert_course(conn, c))
        for s in body.get("courseStats", []):
            out["courseStats"].append(records.insert_course_stat(conn, s))
    return out


def _seed_user(app: SandboxApp, conn: Any, u: dict[str, Any]) -> dict[str, Any]:
    profile = {k: u[k] for k in ("mail", *people.PROFILE_COLUMNS) if k in u}
    roles = u.get("roles") or [{"groupId": app.platform_group_id, "role": "learner"}]
    profile["membership"] = roles[0]
    user, _ = people.insert_user(
        conn, profile, send_invitation=u.get("status") == "invited", user_id=u.get("_id")
    )
    uid = user["_id"]
    for extra in roles[1:]:
        groups.add_role(conn, extra["groupId"], uid, extra.get("role", "learner"))
    for manager_id in u.get("managers", []):
        conn.execute("INSERT OR IGNORE INTO managers (user_id, manager_id) VALUES (?, ?)", (uid, manager_id))
    if u.get("customFields"):
        people.replace_custom_values(conn, uid, u["customFields"])
    if u.get("status") == "deleted":
        people.soft_delete(conn, uid)
    return people.user_objects(conn, [people.find_user(conn, uid)])[0]


def state(app: SandboxApp) -> dict[str, Any]:
    with app.db.reading() as conn:
        return {
            "platformGroupId": app.platform_group_id,
            "users": people.user_objects(conn, conn.execute("SELECT * FROM users ORDER BY seq").fetchall()),
            "groups": [groups.group_object(r) for r in conn.execute("SELECT * FROM groups ORDER BY seq")],
            "roles": [
                {"groupId": r["group_id"], "userId": r["user_id"], "role": r["role"]}
                for r in conn.execute("SELECT * FROM roles ORDER BY rowid")
            ],
            "managers": [
                {"userId": r["user_id"], "managerId": r["manager_id"]}
                for r in conn.execute("SELECT * FROM managers ORDER BY rowid")
            ],
            "customFields": [
                records.field_object(r) for r in conn.execute("SELECT * FROM custom_fields ORDER BY seq")
            ],
            "externalIds": [
                records.external_id_object(r) for r in conn.execute("SELECT * FROM external_ids ORDER BY seq")
            ],
            "invitations": [
                {"userId": r["user_id"], "sentAt": r["sent_at"]}
                for r in conn.execute("SELECT * FROM invitations ORDER BY seq")
            ],
            "courses": [records.course_object(r) for r in conn.execute("SELECT * FROM courses ORDER BY seq")],
            "courseStats": [
                {
                    "courseId": r["course_id"],
                    "userId": r["user_id"],
                    "progress": r["progress"],
                    "score": r["score"],
                    "completedAt": r["completed_at"],
                    "timeSpent": r["time_spent"],
                    "startedAt": r["started_at"],
                }
                for r in conn.execute("SELECT * FROM course_stats ORDER BY seq")
            ],
            "bulkOperations": [
                {"_id": r["id"], "kind": r["kind"], "status": r["status"]}
                for r in conn.execute("SELECT id, kind, status FROM bulk_operations ORDER BY seq")
            ],
        }
