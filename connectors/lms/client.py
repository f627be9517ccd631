"""``LmsClient``: the LMS (360Learning API v2) as typed Python calls.

Methods mirror the API's resources and return its JSON objects as dicts, with the API's
field names (``_id``, ``mail``, ``firstName``, ``customFields``...), so what other parts
code against is the documented contract itself; bulk results are small dataclasses.
Listings are generators that follow pagination. Errors are ``engine.errors`` types.

Writes are safe to retry. PATCH, PUT, role and manager changes are idempotent by nature.
A POST whose answer was lost (timeout, reset, 5xx) may have taken effect, so before
re-sending the client checks whether it did: ``create_user`` looks the mail up,
``create_group`` looks for a group of that name under that parent, ``create_custom_field``
for a field of that name, ``create_external_id`` for that platform and value; a retried
``delete_user`` first checks whether the user is already deleted. This module must never
log or raise with a secret, an e-mail or a name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import SecretStr

from connectors.lms.bulk import BulkItemResult, Membership, run_bulk
from connectors.lms.ratelimit import RateLimits
from connectors.lms.transport import Backoff, LmsTransport, Reply, RequestCounters

User = dict[str, Any]
Group = dict[str, Any]

#: The profile fields ``update_user`` accepts (API names).
PROFILE_FIELDS = frozenset({"mail", "firstName", "lastName", "job", "organization", "lang"})


class LmsClient:
    """A company's LMS, reached with OAuth2 client credentials.

    >>> client = LmsClient(url, SecretStr(client_id), SecretStr(client_secret))
    >>> user, restored = client.create_user("ada@example.com", group_id, send_invitation=False)
    >>> for user in client.iter_users(status="active"): ...
    """

    def __init__(
        self,
        base_url: str,
        client_id: SecretStr,
        client_secret: SecretStr,
        *,
        timeout: float = 30.0,
        max_retries: int = 8,
        rate_limits: RateLimits = RateLimits(get=50, write=10),  # noqa: B008 (frozen value)
        backoff: Backoff = Backoff(),  # noqa: B008 (frozen value)
        logger: logging.Logger | None = None,
    ) -> None:
        self._http = LmsTransport(
            base_url,
            client_id,
            client_secret,
            timeout=timeout,
            max_retries=max_retries,
            rate_limits=rate_limits,
            backoff=backoff,
            logger=logger or logging.getLogger("lmsync.lms"),
        )

    def __repr__(self) -> str:  # the URL only: never the credentials
        return f"LmsClient({self._http.base_url!r})"

    @property
    def counters(self) -> RequestCounters:
        """Requests sent by method, 429s received, retries, token requests."""
        return self._http.counters

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LmsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- users ----------------------------------------------------------------------------------

    def iter_users(self, status: str | None = None, mail: str | None = None) -> Iterator[User]:
        """Every user (deleted ones too unless ``status`` says otherwise), values inline."""
        params = {k: v for k, v in (("status", status), ("mail", mail)) if v is not None}
        yield from self._http.paginate("/api/v2/users", params)

    def user_pages(self) -> Iterator[bytes]:
        """``iter_users()`` page by page, undecoded (``connectors.lms.pages.read_users``)."""
        yield from self._http.pages("/api/v2/users")

    def get_user(self, user_id: str) -> User:
        return dict(self._http.request("GET", f"/api/v2/users/{user_id}").body)

    def find_user_by_mail(self, mail: str) -> User | None:
        return next(self.iter_users(mail=mail), None)

    def create_user(
        self,
        mail: str,
        group_id: str,
        role: str = "learner",
        *,
        send_invitation: bool = False,
        first_name: str | None = None,
        last_name: str | None = None,
        job: str | None = None,
        organization: str | None = None,
        lang: str | None = None,
    ) -> tuple[User, bool]:
        """Create a user (member of ``group_id`` with ``role``), or restore the deleted user
        with this mail; returns ``(user, restored)``. ``send_invitation=False`` is silent."""
        body: dict[str, Any] = {"mail": mail, "membership": {"groupId": group_id, "role": role}}
        for key, value in (
            ("firstName", first_name),
            ("lastName", last_name),
            ("job", job),
            ("organization", organization),
            ("lang", lang),
        ):
            if value is not None:
                body[key] = value

        def already_done() -> Reply | None:
            existing = self.find_user_by_mail(mail)
            if existing is not None and existing.get("status") != "deleted":
                return Reply(201, existing, {})
            return None

        reply = self._http.request(
            "POST",
            "/api/v2/users",
            params={"sendInvitationEmail": "true" if send_invitation else "false"},
            json=body,
            already_done=already_done,
        )
        return dict(reply.body), reply.status == 200

    def update_user(self, user_id: str, changes: Mapping[str, str | None]) -> User:
        """PATCH the given profile fields (API names); ``None`` clears a field."""
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise ValueError(f"update_user: not profile fields: {', '.join(sorted(unknown))}")
        return dict(self._http.request("PATCH", f"/api/v2/users/{user_id}", json=dict(changes)).body)

    def delete_user(self, user_id: str) -> None:
        """Soft delete: the user keeps its id and external ids, loses roles and managers."""

        def already_done() -> Reply | None:
            return Reply(204, None, {}) if self.get_user(user_id).get("status") == "deleted" else None

        self._http.request("DELETE", f"/api/v2/users/{user_id}", already_done=already_done)

    # --- managers -------------------------------------------------------------------------------

    def list_managers(self, user_id: str) -> list[str]:
        return [str(m) for m in self._http.request("GET", f"/api/v2/users/{user_id}/managers").body]

    def add_manager(self, user_id: str, manager_id: str) -> None:
        self._http.request("POST", f"/api/v2/users/{user_id}/managers/{manager_id}")

    def remove_manager(self, user_id: str, manager_id: str) -> None:
        self._http.request("DELETE", f"/api/v2/users/{user_id}/managers/{manager_id}")

    # --- groups and roles -----------------------------------------------------------------------

    def iter_groups(self) -> Iterator[Group]:
        yield from self._http.paginate("/api/v2/groups")

    def get_group(self, group_id: str) -> Group:
        return dict(self._http.request("GET", f"/api/v2/groups/{group_id}").body)

    def create_group(self, name: str, parent_id: str | None = None, public: bool = False) -> Group:
        """Create a group; a retry after a lost answer reuses the group of that name under
        that parent (the identity the hierarchy sync gives a group) instead of doubling it."""

        def already_done() -> Reply | None:
            for group in self.iter_groups():
                if group.get("name") == name and group.get("parentId") == parent_id:
                    return Reply(201, group, {})
            return None

        body = {"name": name, "public": public, "parentId": parent_id}
        return dict(self._http.request("POST", "/api/v2/groups", json=body, already_done=already_done).body)

    def add_role(self, group_id: str, role: str, user_id: str) -> None:
        self._http.request("POST", f"/api/v2/groups/{group_id}/{role}/{user_id}")

    def remove_role(self, group_id: str, role: str, user_id: str) -> None:
        """Removing ``learner`` also removes it from the group's public subgroups (LMS rule)."""
        self._http.request("DELETE", f"/api/v2/groups/{group_id}/{role}/{user_id}")

    def group_roles(self, group_id: str) -> list[dict[str, str]]:
        """``[{userId, role}]`` in this group only (not its subgroups)."""
        return list(self._http.request("GET", f"/api/v2/groups/{group_id}/roles").body)

    def user_roles(self, user_id: str) -> list[dict[str, str]]:
        """``[{groupId, role}]`` of one user."""
        return list(self._http.request("GET", f"/api/v2/users/{user_id}/roles").body)

    def bulk_memberships(
        self, op: Literal["add", "remove"], items: Iterable[Membership]
    ) -> list[BulkItemResult]:
        """Add or remove many roles at once; one result per item, in input order."""
        return run_bulk(self._http, op, items)

    # --- custom fields --------------------------------------------------------------------------

    def iter_custom_fields(self) -> Iterator[dict[str, Any]]:
        yield from self._http.paginate("/api/v2/custom-fields")

    def create_custom_field(self, name: str, type: Literal["string", "date"] = "string") -> dict[str, Any]:
        def already_done() -> Reply | None:
            for field in self.iter_custom_fields():
                if field.get("name") == name:
                    return Reply(201, field, {})
            return None

        body = {"name": name, "targetType": "users", "type": type}
        return dict(
            self._http.request("POST", "/api/v2/custom-fields", json=body, already_done=already_done).body
        )

    def get_custom_values(self, user_id: str) -> list[dict[str, Any]]:
        body = self._http.request("GET", f"/api/v2/users/{user_id}/custom-fields/values").body
        return list(body.get("customValues", []))

    def put_custom_values(self, user_id: str, values: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace ALL the user's values: to keep unmanaged fields, read, merge, then put."""
        body = {"customValues": [dict(v) for v in values]}
        reply = self._http.request("PUT", f"/api/v2/users/{user_id}/custom-fields/values", json=body)
        return list((reply.body or {}).get("customValues", []))

    # --- external ids ---------------------------------------------------------------------------

    def create_external_id(self, user_id: str, platform: str, value: str) -> dict[str, Any]:
        """Link ``value`` (e.g. the HRIS uniqueId) to a user under ``platform``."""

        def already_done() -> Reply | None:
            for existing in self.iter_external_ids(platform, value):
                if existing.get("targetId") == user_id:
                    return Reply(201, existing, {})
            return None

        body = {"platform": platform, "targetType": "user", "targetId": user_id, "value": value}
        return dict(
            self._http.request("POST", "/api/v2/external-ids", json=body, already_done=already_done).body
        )

    def iter_external_ids(self, platform: str, value: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"platform[eq]": platform}
        if value is not None:
            params["value[eq]"] = value
        yield from self._http.paginate("/api/v2/external-ids", params)

    # --- courses --------------------------------------------------------------------------------

    def iter_courses(self) -> Iterator[dict[str, Any]]:
        yield from self._http.paginate("/api/v2/courses")

    def iter_course_stats(
        self,
        completed_gte: datetime | date | str | None = None,
        completed_lt: datetime | date | str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Statistics of courses completed in ``[completed_gte, completed_lt)``."""
        params = {}
        for key, bound in (("completedAt[gte]", completed_gte), ("completedAt[lt]", completed_lt)):
            if bound is not None:
                params[key] = bound if isinstance(bound, str) else bound.isoformat()
        yield from self._http.paginate("/api/v2/courses/stats", params)
