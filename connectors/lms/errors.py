"""Turning what the LMS answered (or failed to answer) into lmsync's typed errors.

This is the one place where HTTP statuses, the API's error codes and requests' exceptions
become ``engine.errors`` types: 429 -> ``RateLimitedError``; 5xx, timeouts, resets ->
``TargetUnavailableError`` (both transient); 401/403 -> ``TargetAuthError``; 404 ->
``TargetNotFoundError``; 400/409 with a code -> ``TargetConflictError``; anything else -> terminal
``TargetError``. Messages name the method, the path (never the query string, which may hold
an e-mail) and the code; e-mail addresses the server may echo are masked. This module must
never let a requests exception escape, nor put a token or a secret in a message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from engine.errors import (
    RateLimitedError,
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)

_MAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+")

#: What an SA can do about the codes they will actually meet.
HINTS: dict[str, str] = {
    "mailAlreadyUsed": "another LMS user already has this e-mail; link or rename that user",
    "mailInvalid": "fix the e-mail in the source file",
    "langInvalid": "map the language to one of the LMS's codes in `languages:`",
    "invalidUpdateOnDeletedUser": "the user is deleted in the LMS; create it again to restore it",
    "groupNotFound": "check `hris.group` and the group rules: the group id does not exist",
    "parentGroupNotFound": "the parent group was deleted in the LMS; the next run recreates the hierarchy",
    "nameAlreadyTaken": "a custom field already has this title in the LMS",
    "valueAlreadyUsed": "this external id is already linked to another LMS user",
    "invalid_client": "check the environment's client_id/client_secret references",
    "tooManyRequests": "the LMS rate limit was hit; the client backs off and retries",
    "bulkOperationsConcurrencyLimitReached": "3 bulk operations already run for this company; retried",
}


def mask_mails(text: str) -> str:
    """Servers may echo the address they refused; our messages must not carry it."""
    return _MAIL.sub("<e-mail>", text)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; None when absent or unreadable.
    Every HTTP target (the LMS, Cornerstone) reads the header through this one function."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def _code_and_text(response: requests.Response) -> tuple[str | None, str]:
    """The API's two error shapes: ``{"error": "code"}`` and ``{"error": {"code", "message"}}``."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error, ""
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code else None), mask_mails(str(message or ""))[:300]
    return None, ""


def error_from_response(method: str, path: str, response: requests.Response) -> TargetError:
    """The typed error for a non-2xx answer."""
    status = response.status_code
    code, text = _code_and_text(response)
    what = (
        f"LMS {method} {path}: HTTP {status}" + (f" {code}" if code else "") + (f" ({text})" if text else "")
    )
    hint = HINTS.get(code or "")
    kwargs: dict[str, Any] = {"status": status, "code": code, "hint": hint}
    if status == 429:
        return RateLimitedError(
            what, retry_after=retry_after_seconds(response.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return TargetUnavailableError(what, **kwargs)
    if status in (401, 403):
        return TargetAuthError(what, **kwargs)
    if status == 404:
        return TargetNotFoundError(what, **kwargs)
    if status in (400, 409) and code:
        return TargetConflictError(what, **kwargs)
    return TargetError(what, **kwargs)


def error_from_exception(
    method: str, path: str, exc: requests.RequestException, timeout: float
) -> TargetError:
    """The typed error for a request that got no answer; the caller raises it ``from exc``."""
    if isinstance(exc, requests.Timeout):
        return TargetUnavailableError(
            f"LMS {method} {path}: no answer within {timeout:g} s",
            code="timeout",
            hint="the LMS is slow or unreachable; retried with backoff",
        )
    if isinstance(exc, requests.ConnectionError):
        return TargetUnavailableError(
            f"LMS {method} {path}: connection failed or was reset ({type(exc).__name__})",
            code="connectionError",
            hint="check the environment's LMS url and the network; retried with backoff",
        )
    return TargetError(f"LMS {method} {path}: request failed ({type(exc).__name__})", code="requestError")
