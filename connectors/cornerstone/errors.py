"""Cornerstone HTTP answers translated once into lmsync's error tree.

The client calls ``error_for_status`` for every non-2xx answer and ``network_error`` for
every ``requests`` failure; the engine only ever sees ``TargetError`` subclasses and branches
on their type and ``transient`` marker, never on text. Messages name the call and the fix,
and never contain a token, a secret or a response body (which may hold personal data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.lms.errors import retry_after_seconds
from engine.errors import (
    RateLimitedError,
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)


def _error_code(body: Any) -> str | None:
    # Cornerstone's error envelope: {"status": "429", "error": {"errorId", "message", "code"}}.
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("code") is not None:
            return str(error["code"])
    return None


def error_for_status(
    status: int, *, call: str, headers: Mapping[str, str] | None = None, body: Any = None
) -> TargetError:
    """The error for a non-2xx answer to ``call`` (e.g. ``PATCH transcripts/complete``)."""
    code = _error_code(body)
    where = f"Cornerstone {call}: HTTP {status}"
    if status == 429:
        return RateLimitedError(
            f"{where}, too many requests",
            status=status,
            code=code or "429",
            retry_after=retry_after_seconds((headers or {}).get("Retry-After")),
            hint="the client slows down and retries; lower the job's concurrency if this persists",
        )
    if status >= 500:
        return TargetUnavailableError(
            f"{where}, the portal failed",
            status=status,
            code=code,
            hint="retried automatically; check Cornerstone's status page if it persists",
        )
    if status in (401, 403):
        return TargetAuthError(
            f"{where}, access refused",
            status=status,
            code=code,
            hint="check the portal's client_id/client_secret and that the API client has the scopes "
            "employee:read transcript:update learningassignment:read learningassignment:update",
        )
    if status == 404:
        return TargetNotFoundError(
            f"{where}, not found",
            status=status,
            code=code,
            hint="the learning object or employee does not exist on this portal",
        )
    if status in (400, 409, 422):
        return TargetConflictError(
            f"{where}, request refused",
            status=status,
            code=code,
            hint="the portal rejected the values sent; see its error code",
        )
    return TargetError(f"{where}", status=status, code=code)


def network_error(call: str, exc: Exception) -> TargetUnavailableError:
    """A connection failure or timeout: transient, the same call may succeed later."""
    return TargetUnavailableError(
        f"Cornerstone {call}: the portal could not be reached ({type(exc).__name__})",
        hint="retried automatically; check the portal URL and the network if it persists",
    )
