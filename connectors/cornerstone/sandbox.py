"""A local Cornerstone portal: the API contract the connector uses, over real HTTP.

Implements OAuth2 client credentials, employees by external id, transcript completion and
learning assignments, with Cornerstone's per-URI throttling (its two headers on every answer
and its documented 429 body), plus ``/admin`` routes to seed employees, clients and
assignments, read what the portal holds, and pull a catalog feed (``poller.CatalogPoller``).

Binds 127.0.0.1 only (port 0 picks a free one). It is a test instance with synthetic data:
it must never be exposed beyond loopback or fed real employees.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.cornerstone.pacing import LIMIT_HEADER, REMAINING_HEADER
from connectors.cornerstone.poller import CatalogPoller
from connectors.cornerstone.sandbox_store import DowngradeRefusedError, NotFoundError, SandboxStore

TOKEN_LIFETIME_SECONDS = 3600

#: Scope each API route needs, as on a real portal.
ROUTE_SCOPES = {
    "/services/api/x/users/v2/employees": "employee:read",
    "/services/api/v1/transcripts/complete": "transcript:update",
    "GET /services/api/v1/LearningAssignments": "learningassignment:read",
    "PATCH /services/api/v1/LearningAssignments/{id}": "learningassignment:update",
}


class UriThrottle:
    """Fixed-window request budget per route: ``limit`` calls per ``window_seconds``."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_seconds, self._clock = limit, window_seconds, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, route: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, seconds until the window resets)."""
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(route, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            reset = self.window_seconds - (now - start)
            if used >= self.limit:
                self._windows[route] = (start, used)
                return False, 0, reset
            self._windows[route] = (start, used + 1)
            return True, self.limit - used - 1, reset


def too_many_requests_body() -> dict[str, Any]:
    """Cornerstone's documented 429 body."""
    return {
        "status": "429",
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "error": {"errorId": str(uuid.uuid4()), "message": "CSOD Too many requests.", "code": "429"},
    }


def _envelope(data: Any, status: str = "200") -> dict[str, Any]:
    return {"status": status, "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"), "data": data}


def _error(status: int, message: str) -> dict[str, Any]:
    return {
        "status": str(status),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "error": {"errorId": str(uuid.uuid4()), "message": message, "code": str(status)},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the sandbox is quiet; its api_call table is the log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # --- plumbing -------------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            pass
        # The token endpoint also takes the standard OAuth2 form fields.
        if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            return {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        return None

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/")
        sandbox = self.server.sandbox
        if path.startswith("/admin/"):
            status, body = sandbox.admin(method, path, query, self._body())
            self._send(status, body)
            return
        if method == "POST" and path == "/services/api/oauth2/token":
            status, body = sandbox.token(self._body())
            self._send(status, body)
            return
        route, params = _route(method, path)
        if route is None:
            self._send(404, _error(404, "No such API route"))
            return
        allowed, remaining, reset = sandbox.throttle.take(route)
        headers = {LIMIT_HEADER: str(sandbox.throttle.limit), REMAINING_HEADER: str(remaining)}
        if not allowed:
            headers["Retry-After"] = f"{max(reset, 0.001):.3f}"
            sandbox.store.log_call(route, method, 429)
            self._send(429, too_many_requests_body(), headers)
            return
        scope = ROUTE_SCOPES.get(route) or ROUTE_SCOPES.get(f"{method} {route}")
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        scopes = sandbox.store.token_scopes(token, time.time()) if token else None
        if scopes is None:
            status, body = 401, _error(401, "Invalid or expired access token")
        elif scope is not None and scope not in scopes:
            status, body = 403, _error(403, f"Missing scope {scope}")
        else:
            status, body = sandbox.api(method, route, params, query, self._body())
        sandbox.store.log_call(route, method, status)
        self._send(status, body, headers)


#: The body each admin POST takes, as its error message states it.
ADMIN_BODIES = {
    "/admin/clients": 'one object {"clientId": ..., "clientSecret": ..., "scope": "..."}',
    "/admin/employees": 'a list [{"externalId": "E1"}, ...]',
    "/admin/assignments": 'one object {"userGuid": ..., "loId": ..., "Status": "Assigned"} (Status optional)',
    "/admin/learning-objects": 'a list of catalog items [{"ID": ..., "Title": ..., "IsActive": true, '
    '"LastModifiedUTC": "2024-05-01T00:00:00Z"}, ...]',
}
_REQUIRED = {
    "/admin/clients": ("clientId", "clientSecret"),
    "/admin/employees": ("externalId",),
    "/admin/assignments": ("userGuid", "loId"),
    "/admin/learning-objects": ("ID", "Title", "IsActive", "LastModifiedUTC"),
}


def _body_problem(path: str, body: Any) -> str | None:
    """What is wrong with an admin POST body, or None: nothing is stored from a wrong one."""
    many = path in ("/admin/employees", "/admin/learning-objects")
    if many and not isinstance(body, list):
        return f"got {_shape(body)}"
    if not many and not isinstance(body, dict):
        return f"got {_shape(body)}"
    for index, item in enumerate(body if many else [body]):
        where = f"item {index}" if many else "the body"
        if not isinstance(item, dict):
            return f"got {_shape(item)} as {where}"
        absent = [key for key in _REQUIRED[path] if item.get(key) in (None, "")]
        if absent:
            return f"{where} lacks {', '.join(absent)}"
    return None


def _shape(value: Any) -> str:
    if value is None:
        return "a body that is not JSON"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"a JSON {type(value).__name__}"


_ASSIGNMENT = re.compile(r"^/services/api/v1/LearningAssignments/([^/]+)$")


def _route(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    fixed = {
        ("GET", "/services/api/x/users/v2/employees"),
        ("PATCH", "/services/api/v1/transcripts/complete"),
        ("GET", "/services/api/v1/LearningAssignments"),
    }
    if (method, path) in fixed:
        return path, {}
    match = _ASSIGNMENT.match(path)
    if method == "PATCH" and match:
        return "/services/api/v1/LearningAssignments/{id}", {"id": match.group(1)}
    return None, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: CornerstoneSandbox) -> None:
        self.sandbox = sandbox
        super().__init__((sandbox.host, sandbox.requested_port), _Handler)


class CornerstoneSandbox:
    """``CornerstoneSandbox(db, port=0).start()``; ``.url``; ``.store``; ``.stop()``.

    ``rate_limit`` calls per ``window_seconds`` per API route (Cornerstone: per hour).
    """

    def __init__(
        self,
        db: str | Path = ":memory:",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        rate_limit: int = 1000,
        window_seconds: float = 3600.0,
    ) -> None:
        self.store = SandboxStore(db)
        self.host, self.requested_port = host, port
        self.throttle = UriThrottle(rate_limit, window_seconds)
        self.pollers: list[CatalogPoller] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> CornerstoneSandbox:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="cornerstone-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        for poller in self.pollers:
            poller.close()
        self.store.close()

    def __enter__(self) -> CornerstoneSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- OAuth2 ---------------------------------------------------------------------------

    def token(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, _error(400, "Body must be JSON or form fields")
        client_id = body.get("clientId") or body.get("client_id") or ""
        secret = body.get("clientSecret") or body.get("client_secret") or ""
        grant = body.get("grantType") or body.get("grant_type")
        if grant != "client_credentials":
            return 400, _error(400, "grantType must be client_credentials")
        scope = str(body.get("scope") or "")
        token = self.store.issue_token(
            str(client_id), str(secret), scope, time.time(), TOKEN_LIFETIME_SECONDS
        )
        if token is None:
            return 401, _error(401, "Invalid client credentials")
        scopes = self.store.token_scopes(token, time.time()) or set()
        return 200, {
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }

    # --- the API --------------------------------------------------------------------------

    def api(
        self, method: str, route: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if route == "/services/api/x/users/v2/employees":
            rows = self.store.employees(query.get("externalId"))
            return 200, {
                "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                "nextpagetoken": None,
                "count": len(rows),
                "data": rows,
            }
        if route == "/services/api/v1/transcripts/complete":
            if not isinstance(body, dict) or not body.get("userGuid") or not body.get("learningObjectId"):
                return 400, _error(400, "userGuid and learningObjectId are required")
            try:
                self.store.complete(str(body["userGuid"]), str(body["learningObjectId"]))
            except NotFoundError as exc:
                return 404, _error(404, f"{exc} not found")
            return 200, _envelope(
                {"userGuid": body["userGuid"], "learningObjectId": body["learningObjectId"]}
            )
        if route == "/services/api/v1/LearningAssignments":
            return 200, _envelope(self.store.assignments(query.get("userId"), query.get("loId")))
        # PATCH /services/api/v1/LearningAssignments/{id}
        if not isinstance(body, dict) or not body.get("Status"):
            return 400, _error(400, "Status is required")
        try:
            self.store.update_assignment(params["id"], str(body["Status"]), body.get("LastAccessDate"))
        except NotFoundError as exc:
            return 404, _error(404, f"{exc} not found")
        except DowngradeRefusedError:
            return 400, _error(400, "A Completed learning assignment cannot be downgraded")
        return 200, _envelope({"Id": params["id"], "Status": body["Status"]})

    # --- admin ----------------------------------------------------------------------------

    def admin(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """Seeding and inspection; a known route sent the wrong body says which body it takes."""
        store = self.store
        if method == "GET" and path == "/admin/learning-objects":
            return 200, store.learning_objects()
        if method == "GET" and path == "/admin/transcripts":
            return 200, store.transcripts()
        if method == "GET" and path == "/admin/assignments":
            return 200, store.assignments()
        if method == "GET" and path == "/admin/calls":
            return 200, store.calls(query.get("route"), query.get("method"))
        if method == "POST" and path == "/admin/catalog/poll":
            return 200, [poller.poll().as_dict() for poller in self.pollers]
        if method != "POST" or path not in ADMIN_BODIES:
            return 404, _error(404, f"No such admin route: {method} {path}")
        missing = _body_problem(path, body)
        if missing is not None:
            return 400, _error(400, f"POST {path} {missing}; it expects {ADMIN_BODIES[path]}")
        if path == "/admin/clients":
            store.add_client(str(body["clientId"]), str(body["clientSecret"]), str(body.get("scope", "")))
            return 201, {"clientId": body["clientId"]}
        if path == "/admin/employees":
            return 201, store.seed(str(e["externalId"]) for e in body)
        if path == "/admin/assignments":
            assignment = store.add_assignment(
                str(body["userGuid"]), str(body["loId"]), str(body.get("Status", "Assigned"))
            )
            return 201, {"Id": assignment}
        return 201, {"ingested": [store.ingest(item, "admin").outcome for item in body]}

    def add_feed(self, poller: CatalogPoller) -> None:
        """Pull this feed on every ``POST /admin/catalog/poll`` (Cornerstone pulls daily)."""
        self.pollers.append(poller)
