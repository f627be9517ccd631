"""The SSO login routes in the LMS sandbox's own handler shape, ready for it to mount.

``sso_routes(configs, replay)`` returns two ``connectors.sandbox.protocol.Route`` values:

- ``GET  /api/sso/jwt/{customer}?jwt=...``
- ``POST /api/sso/saml/{customer}/acs`` with the form (or JSON) field ``SAMLResponse``

Each answers 200 ``{"userId", "created"}`` on a login (creating the user as a learner of the
provision group the first time) and 401 ``{"error": {"code": <reason>, "message"}}`` when the
token is refused; 404 for a customer without SSO; 409 ``provisionGroupNotFound`` when the
group first logins join does not exist; 500 ``ssoMisconfigured`` when the customer's SSO
secret cannot be resolved. ``SandboxSsoDirectory`` reaches the sandbox's users and roles
through its own record functions, in one transaction.

These routes authenticate by the login token itself: the sandbox must not ask them for an
API bearer token. Nothing here logs the token or the e-mail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from connectors.sandbox.db import Database
from connectors.sandbox.groups import insert_group
from connectors.sandbox.people import insert_user
from connectors.sandbox.protocol import ApiError, ApiRequest, ApiResponse, Route, route
from connectors.sandbox_sso.login import LoginResult, handle_jwt_login, handle_saml_response, provision_group
from engine.config.models import CustomerConfig
from engine.cornerstone.replay import ReplayCache
from engine.cornerstone.sso_jwt import SsoRefused
from engine.errors import LmsyncError


@dataclass(frozen=True)
class SsoCustomer:
    """A customer's configuration and the folder its ``file:`` secret references are relative to."""

    config: CustomerConfig
    base_dir: Path | None = None


ConfigLookup = Callable[[str], CustomerConfig | SsoCustomer | None]


class SandboxSsoDirectory:
    """``SsoDirectory`` over the sandbox database: users by mail, created with their membership."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find_user_by_email(self, email: str) -> str | None:
        with self.db.reading() as conn:
            row = conn.execute(
                "SELECT id FROM users WHERE lower(mail) = lower(?) AND status != 'deleted'", (email,)
            ).fetchone()
        return None if row is None else str(row["id"] if isinstance(row, sqlite3.Row) else row[0])

    def create_learner(self, email: str, first_name: str | None, last_name: str | None, group_id: str) -> str:
        body: dict[str, Any] = {"mail": email, "membership": {"groupId": group_id, "role": "learner"}}
        if first_name:
            body["firstName"] = first_name
        if last_name:
            body["lastName"] = last_name
        with self.db.transaction() as conn:
            user, _restored = insert_user(conn, body, send_invitation=False)
        return str(user["_id"])


def _refused(exc: SsoRefused) -> ApiResponse:
    return ApiResponse(401, {"error": {"code": exc.reason, "message": exc.message}})


def _failed(status: int, code: str, message: str) -> ApiResponse:
    return ApiResponse(status, {"error": {"code": code, "message": message}})


def _saml_field(body: Any) -> str | None:
    if isinstance(body, dict):
        value = body.get("SAMLResponse")
        return value if isinstance(value, str) else None
    if isinstance(body, bytes | str):
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        values = parse_qs(raw).get("SAMLResponse")
        return values[0] if values else None
    return None


def _customer(configs: ConfigLookup, slug: str) -> SsoCustomer | None:
    found = configs(slug)
    customer = SsoCustomer(found) if isinstance(found, CustomerConfig) else found
    if customer is None or customer.config.cornerstone is None or customer.config.cornerstone.sso is None:
        return None
    return customer


def _login(customer: SsoCustomer, attempt: Callable[[], LoginResult]) -> ApiResponse:
    """Run one login; every outcome becomes an answer, none a dropped connection."""
    try:
        result = attempt()
    except SsoRefused as exc:
        return _refused(exc)
    except ApiError as exc:
        if exc.code != "groupNotFound":
            raise
        return _failed(
            409,
            "provisionGroupNotFound",
            f"{customer.config.customer}: the group first logins join "
            f"({provision_group(customer.config)}) does not exist in this LMS: create it, or fix "
            "cornerstone.sso.provision_group (default hris.group)",
        )
    except LmsyncError as exc:
        # A secret reference that does not resolve (env var unset, file unreadable): the
        # message names the reference's field, never a value.
        hint = f" ({exc.hint})" if exc.hint else ""
        return _failed(500, "ssoMisconfigured", f"{exc.message}{hint}")
    return ApiResponse(200, {"userId": result.user_id, "created": result.created})


def sso_routes(
    configs: ConfigLookup,
    replay: ReplayCache,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Route]:
    """The two login routes; ``configs(customer)`` gives a customer's configuration or None."""
    # One directory per database, kept for the server's life: the login handlers serialise
    # first logins per directory, so two simultaneous first logins create one user.
    directories: dict[int, SandboxSsoDirectory] = {}

    def directory(db: Database) -> SandboxSsoDirectory:
        return directories.setdefault(id(db), SandboxSsoDirectory(db))

    def not_configured() -> ApiResponse:
        return _failed(404, "ssoNotConfigured", "no SSO for this customer")

    def jwt_login(db: Database, req: ApiRequest) -> ApiResponse:
        customer = _customer(configs, req.params["customer"])
        if customer is None:
            return not_configured()
        token = req.arg("jwt")
        if not token:
            return _failed(400, "jwtMissing", "the jwt query parameter is missing")
        return _login(
            customer,
            lambda: handle_jwt_login(
                customer.config,
                token,
                directory=directory(db),
                replay=replay,
                now=clock(),
                base_dir=customer.base_dir,
            ),
        )

    def saml_acs(db: Database, req: ApiRequest) -> ApiResponse:
        customer = _customer(configs, req.params["customer"])
        if customer is None:
            return not_configured()
        response = _saml_field(req.body)
        if not response:
            return _failed(400, "samlResponseMissing", "the SAMLResponse field is missing")
        return _login(
            customer,
            lambda: handle_saml_response(
                customer.config, response, directory=directory(db), replay=replay, now=clock()
            ),
        )

    return [
        route("GET", "/api/sso/jwt/{customer}", jwt_login),
        route("POST", "/api/sso/saml/{customer}/acs", saml_acs),
    ]


def ensure_provision_groups(db: Database, customers: Iterable[SsoCustomer]) -> list[tuple[str, str]]:
    """Create, under the platform group, each SSO customer's provision group the sandbox lacks.

    The real LMS has the customer's groups; a fresh sandbox has only its platform group, so a
    first login would have nowhere to go. Returns ``(customer, group id)`` for each group
    created, for the caller to announce. Customers without a group to provision into are
    left to the login to report.
    """
    created: list[tuple[str, str]] = []
    platform = db.meta("platform_group_id")
    for customer in customers:
        config = customer.config
        if config.cornerstone is None or config.cornerstone.sso is None:
            continue
        try:
            group = provision_group(config)
        except LmsyncError:
            continue
        with db.transaction() as conn:
            if conn.execute("SELECT 1 FROM groups WHERE id = ?", (group,)).fetchone() is not None:
                continue
            insert_group(conn, f"{config.customer} SSO learners", platform, False, group)
        created.append((config.customer, group))
    return created
