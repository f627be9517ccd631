"""Bulk group memberships: submit, poll to completion, read per-item results.

The LMS takes up to 20,000 membership changes per operation and runs at most three
operations per company at once. ``run_bulk`` chunks beyond 20,000, keeps at most three of
its own operations in flight, polls each to the end and returns one result per input item,
in input order. Adding or removing a role is idempotent, so an operation re-submitted after
a lost answer does no harm. This module must never decide which memberships to change.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from connectors.lms.transport import LmsTransport
from engine.errors import TargetError

BULK_PATH = "/api/v2/bulk/groups/memberships"
MAX_ITEMS = 20_000
MAX_CONCURRENT = 3
#: Polls start fast (small operations finish in milliseconds) and slow down to one a second.
POLL_FIRST, POLL_MAX = 0.02, 1.0


@dataclass(frozen=True)
class Membership:
    user_id: str
    group_id: str
    role: str = "learner"


@dataclass(frozen=True)
class BulkItemResult:
    """One input item's outcome; ``error`` holds the LMS's reason when ``ok`` is False."""

    membership: Membership
    ok: bool
    resource_id: str | None = None
    error: str | None = None


def run_bulk(
    transport: LmsTransport,
    op: Literal["add", "remove"],
    items: Iterable[Membership],
    *,
    chunk_size: int = MAX_ITEMS,
    timeout: float = 3600.0,
) -> list[BulkItemResult]:
    memberships = list(items)
    chunks = [memberships[i : i + chunk_size] for i in range(0, len(memberships), min(chunk_size, MAX_ITEMS))]
    results: list[BulkItemResult] = []
    for wave_start in range(0, len(chunks), MAX_CONCURRENT):
        wave = chunks[wave_start : wave_start + MAX_CONCURRENT]
        operations = [_submit(transport, op, chunk) for chunk in wave]
        for op_url, chunk in zip(operations, wave, strict=True):
            _wait_done(transport, op_url, timeout)
            results.extend(_results(transport, op_url, chunk))
    return results


def _submit(transport: LmsTransport, op: str, chunk: Sequence[Membership]) -> str:
    body = {"input": [{"userId": m.user_id, "groupId": m.group_id, "role": m.role} for m in chunk]}
    reply = transport.request("POST" if op == "add" else "DELETE", BULK_PATH, json=body)
    location = reply.headers.get("Location")
    if not location and isinstance(reply.body, Mapping) and reply.body.get("_id"):
        location = f"{transport.base_url}/api/v2/bulk/operations/{reply.body['_id']}"
    if not location:
        raise TargetError(f"LMS {BULK_PATH}: 202 without a Location header", status=reply.status)
    return location


def _path(url: str) -> str:
    return urlsplit(url).path


def _wait_done(transport: LmsTransport, op_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        reply = transport.request("GET", _path(op_url), url=op_url)
        status = reply.body.get("status") if isinstance(reply.body, Mapping) else None
        if status in ("completed", "error"):
            return
        if time.monotonic() > deadline:
            raise TargetError(
                f"LMS bulk operation {_path(op_url)} still {status} after {timeout:g} s",
                hint="the LMS is overloaded; the next run re-plans and retries these memberships",
            )
        time.sleep(pause)
        pause = min(pause * 2, POLL_MAX)


def _results(transport: LmsTransport, op_url: str, chunk: Sequence[Membership]) -> list[BulkItemResult]:
    by_key: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    for item in transport.paginate(_path(op_url) + "/results"):
        given = item.get("input") or {}
        key = (str(given.get("userId")), str(given.get("groupId")), str(given.get("role")))
        by_key.setdefault(key, []).append(item)
    out = []
    for m in chunk:
        matches = by_key.get((m.user_id, m.group_id, m.role)) or []
        item = matches.pop(0) if matches else None
        if item is None:
            out.append(BulkItemResult(m, False, error="no result reported for this item"))
        elif item.get("status") == "success":
            out.append(BulkItemResult(m, True, resource_id=str(item.get("resourceId") or "") or None))
        else:
            out.append(BulkItemResult(m, False, error=str(item.get("errorMessage") or "failed")))
    return out
