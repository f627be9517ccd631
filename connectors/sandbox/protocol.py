"""What a sandbox API handler receives and returns, the API's error shape, and pagination.

Handlers are plain functions ``(db, request) -> response`` so they can be tested and reused
(the admin seeding calls the same rules the API enforces). This module must never touch a
socket: the HTTP server in ``server.py`` turns these values into bytes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from connectors.sandbox.db import Database, decode_cursor, encode_cursor

#: Page sizes of the real API; the admin surface may lower them so tests page cheaply.
DEFAULT_PAGE_SIZES: Mapping[str, int] = {
    "users": 500,
    "groups": 500,
    "custom-fields": 1000,
    "external-ids": 5000,
    "courses": 500,
    "course-stats": 500,
}

MAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ApiError(Exception):
    """An error the API answers as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    base_url: str
    page_sizes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_SIZES))

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, "bodyInvalid", "the request body must be a JSON object")
        return self.body


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Database, ApiRequest], ApiResponse]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, template: str, handler: Handler) -> Route:
    """``/api/v2/users/{userId}`` -> a route whose path parameters land in ``request.params``."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), handler)


def paginate(
    request: ApiRequest,
    kind: str,
    fetch: Callable[[int, int], Sequence[sqlite3.Row]],
    render: Callable[[Sequence[sqlite3.Row]], list[Any]],
) -> ApiResponse:
    """One page of a listing ordered by ``seq``, with ``Link: <...>; rel="next"`` unless last.

    ``fetch(after_seq, limit)`` returns rows with a ``seq`` column; one extra row is asked
    for to know whether another page exists without a COUNT.
    """
    try:
        after = decode_cursor(kind, request.arg("next")) or 0
    except ValueError as exc:
        raise ApiError(400, "invalidCursor", "the next cursor is not one this API issued") from exc
    size = request.page_sizes.get(kind, DEFAULT_PAGE_SIZES[kind])
    rows = fetch(after, size + 1)
    headers: dict[str, str] = {}
    if len(rows) > size:
        rows = rows[:size]
        query = [(k, v) for k, vs in request.query.items() if k != "next" for v in vs]
        query.append(("next", encode_cursor(kind, int(rows[-1]["seq"]))))
        headers["Link"] = f'<{request.base_url}{request.path}?{urlencode(query)}>; rel="next"'
    return ApiResponse(200, render(rows), headers)


def require_str(body: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if optional:
            return None
        raise ApiError(400, "bodyInvalid", f"{key} is required")
    if not isinstance(value, str):
        raise ApiError(400, "bodyInvalid", f"{key} must be a string")
    return value


@dataclass
class Outcome:
    """What the HTTP layer must do: answer ``status`` with ``body``, after ``delay`` seconds,
    or drop the connection without answering."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


def json_outcome(status: int, body: Any, headers: dict[str, str] | None = None) -> Outcome:
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return Outcome(status, data, headers or {})
