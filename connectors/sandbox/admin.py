"""``SandboxAdmin``: the Python side of the sandbox's admin surface, for tests and demos.

It arranges a company (seed), reads its full state, changes limits and faults at run time
and reads the API request log, so a test can assert "the second apply sent no write". It
talks HTTP like any other client of the sandbox; it must never be used against a real LMS
(it has no business there: only the sandbox serves ``/_sandbox/``).
"""

from __future__ import annotations

from typing import Any

import requests

from connectors.sandbox.policy import WRITE_METHODS


class SandboxAdminError(Exception):
    """The admin surface refused a request (bad seed data, wrong token)."""


class SandboxAdmin:
    """``SandboxAdmin(url, token)``; every method is one admin call."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"SandboxAdmin({self.url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(
            method,
            f"{self.url}/_sandbox/{path}",
            json=body,
            headers={"X-Sandbox-Admin-Token": self._token},
            timeout=self._timeout,
        )
        if response.status_code >= 400:
            raise SandboxAdminError(f"sandbox admin {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    # --- arranging ------------------------------------------------------------------------------

    def seed(
        self,
        *,
        groups: list[dict[str, Any]] | None = None,
        custom_fields: list[dict[str, Any]] | None = None,
        users: list[dict[str, Any]] | None = None,
        external_ids: list[dict[str, Any]] | None = None,
        courses: list[dict[str, Any]] | None = None,
        course_stats: list[dict[str, Any]] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Create objects in one transaction (groups first, stats last); returns them with ids.

        Users: ``{mail, firstName, ..., status (active|invited|deleted), roles: [{groupId,
        role}] (default: learner of the platform group), managers: [id], customFields:
        [{customFieldId, value}], _id (optional)}``.
        """
        body = {
            "groups": groups or [],
            "customFields": custom_fields or [],
            "users": users or [],
            "externalIds": external_ids or [],
            "courses": courses or [],
            "courseStats": course_stats or [],
        }
        result: dict[str, list[dict[str, Any]]] = self._call("POST", "seed", body)
        return result

    def delete_custom_field(self, field_id: str) -> None:
        """As an LMS administrator deleting a field definition (the API cannot)."""
        self._call("DELETE", f"custom-fields/{field_id}")

    # --- inspecting -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "state")
        return result

    def users(self) -> list[dict[str, Any]]:
        """Every user, deleted ones included."""
        users: list[dict[str, Any]] = self.state()["users"]
        return users

    def invitations(self) -> list[dict[str, Any]]:
        invitations: list[dict[str, Any]] = self.state()["invitations"]
        return invitations

    def requests(self) -> list[dict[str, Any]]:
        """The API request log: ``[{method, path, query, status, at, fault?}]``, oldest first."""
        log: list[dict[str, Any]] = self._call("GET", "requests")
        return log

    def write_requests(self) -> list[dict[str, Any]]:
        return [
            r for r in self.requests() if r["method"] in WRITE_METHODS and not r["path"].endswith("/token")
        ]

    def reset_requests(self) -> None:
        self._call("DELETE", "requests")

    # --- misbehaving on purpose -----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "config")
        return result

    def configure(
        self,
        *,
        rate_limits: dict[str, Any] | None = None,
        faults: dict[str, Any] | None = None,
        page_sizes: dict[str, int] | None = None,
        bulk_paused: bool | None = None,
        token_ttl: int | None = None,
    ) -> dict[str, Any]:
        """Change only what is given. ``faults`` keys: error_5xx, rate_429, slow, drop,
        slow_seconds, storm_length, retry_after, seed; ``rate_limits``: get, write, enabled."""
        body: dict[str, Any] = {}
        for key, value in (
            ("rateLimits", rate_limits),
            ("faults", faults),
            ("pageSizes", page_sizes),
            ("bulkPaused", bulk_paused),
            ("tokenTtl", token_ttl),
        ):
            if value is not None:
                body[key] = value
        result: dict[str, Any] = self._call("PUT", "config", body)
        return result

    def expire_tokens(self) -> None:
        """Every access token issued so far gets 401 invalid_token from now on."""
        self._call("POST", "tokens/expire")
