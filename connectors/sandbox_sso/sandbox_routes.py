"""The SSO login routes in the LMS sandbox's own handler shape, ready for it to mount.

``sso_routes(configs, replay)`` returns two ``connectors.sandbox.protocol.Route`` values:

- ``GET  /api/sso/jwt/{customer}?jwt=...``
- ``POST /api/sso/saml/{customer}/acs`` with the form (or JSON) field ``SAMLResponse``

Each answers 200 ``{"userId", "created"}`` on a login (creating the user as a learner of the
provision group the first time) and 401 ``{"error": {"code": <reason>, "message"}}`` when the
token is refused; 404 for a customer without SSO. ``SandboxSsoDirectory`` reaches the
sandbox's users and roles through its own record functions, in one transaction.

These routes authenticate by the login token itself: the sandbox must not ask them for an
API bearer token. Nothing here logs the token or the e-mail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from connectors.sandbox.db import Database
from connectors.sandbox.people import insert_user
from connectors.sandbox.protocol import ApiRequest, ApiResponse, Route, route
from connectors.sandbox_sso.login import handle_jwt_login, handle_saml_response
from engine.config.models import CustomerConfig
from engine.cornerstone.replay import ReplayCache
from engine.cornerstone.sso_jwt import SsoRefused

ConfigLookup = Callable[[str], CustomerConfig | None]


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


def _saml_field(body: Any) -> str | None:
    if isinstance(body, dict):
        value = body.get("SAMLResponse")
        return value if isinstance(value, str) else None
    if isinstance(body, bytes | str):
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        values = parse_qs(raw).get("SAMLResponse")
        return values[0] if values else None
    return None


def sso_routes(
    configs: ConfigLookup,
    replay: ReplayCache,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Route]:
    """The two login routes; ``configs(customer)`` gives a customer's configuration or None."""

    def customer_config(req: ApiRequest) -> CustomerConfig | None:
        config = configs(req.params["customer"])
        if config is None or config.cornerstone is None or config.cornerstone.sso is None:
            return None
        return config

    def jwt_login(db: Database, req: ApiRequest) -> ApiResponse:
        config = customer_config(req)
        if config is None:
            return ApiResponse(
                404, {"error": {"code": "ssoNotConfigured", "message": "no SSO for this customer"}}
            )
        token = req.arg("jwt")
        if not token:
            return ApiResponse(
                400, {"error": {"code": "jwtMissing", "message": "the jwt query parameter is missing"}}
            )
        try:
            result = handle_jwt_login(
                config, token, directory=SandboxSsoDirectory(db), replay=replay, now=clock()
            )
        except SsoRefused as exc:
            return _refused(exc)
        return ApiResponse(200, {"userId": result.user_id, "created": result.created})

    def saml_acs(db: Database, req: ApiRequest) -> ApiResponse:
        config = customer_config(req)
        if config is None:
            return ApiResponse(
                404, {"error": {"code": "ssoNotConfigured", "message": "no SSO for this customer"}}
            )
        response = _saml_field(req.body)
        if not response:
            return ApiResponse(
                400,
                {"error": {"code": "samlResponseMissing", "message": "the SAMLResponse field is missing"}},
            )
        try:
            result = handle_saml_response(
                config, response, directory=SandboxSsoDirectory(db), replay=replay, now=clock()
            )
        except SsoRefused as exc:
            return _refused(exc)
        return ApiResponse(200, {"userId": result.user_id, "created": result.created})

    return [
        route("GET", "/api/sso/jwt/{customer}", jwt_login),
        route("POST", "/api/sso/saml/{customer}/acs", saml_acs),
    ]
