"""Cornerstone HTTP answers translated once into lmsync's error tree.

The client calls ``error_for_status`` for every non-2xx answer and ``network_error`` for
every ``requests`` failure; the engine only ever sees ``TargetError`` subclasses and branches
on their type and ``transient`` marker, never on text. Messages name the call and the fix,
and never contain a token, a secret or a whole response body (which may hold personal data): only
the portal's own error code and message, with any e-mail address masked and the length capped,
because "HTTP 404" alone does not say whether the employee or the learning object is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.lms.errors import mask_mails, retry_after_seconds
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


#: The longest portal message an error carries; Cornerstone's are one sentence.
MAX_PORTAL_MESSAGE = 200


def _error_message(body: Any) -> str:
    """The envelope's ``error.message``, e-mails masked: a portal may echo what it refused."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return mask_mails(" ".join(str(error["message"]).split()))[:MAX_PORTAL_MESSAGE]
    return ""


def error_for_status(
    status: int, *, call: str, headers: Mapping[str, str] | None = None, body: Any = None
) -> TargetError:
    """The error for a non-2xx answer to ``call`` (e.g. ``PATCH transcripts/complete``)."""
    code = _error_code(body)
    said = _error_message(body)
    where = f"Cornerstone {call}: HTTP {status}"
    if code and code != str(status):
        where += f" {code}"
    if said:
        where += f' "{said}"'
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
