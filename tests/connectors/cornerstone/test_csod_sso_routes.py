"""The SSO login routes on the LMS sandbox's database: provisioning seen through the LMS API."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from pydantic import SecretStr

from connectors.sandbox.db import Database
from connectors.sandbox.protocol import ApiRequest, Route
from connectors.sandbox_sso.sandbox_routes import sso_routes
from engine.config.models import CustomerConfig, JwtSso
from engine.cornerstone.replay import MemoryReplayCache
from engine.cornerstone.sso_jwt import make_login_token
from tests.fixtures.cornerstone import SP_ENTITY, SigningIdentity, idp_metadata, saml_response
from tests.fixtures.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

SECRET = "a-shared-secret-that-is-long-enough-for-hs256"


def config(method: dict[str, Any], group: str) -> CustomerConfig:
    return CustomerConfig.model_validate(
        {
            "version": 1,
            "customer": "acme",
            "environments": {
                "test": {"lms": {"url": "http://127.0.0.1:1", "client_id": "env:A", "client_secret": "env:B"}}
            },
            "cornerstone": {"sso": {"method": method, "provision_group": group}},
        }
    )


def call(
    routes: list[Route],
    method: str,
    path: str,
    *,
    query: dict[str, list[str]] | None = None,
    body: Any = None,
    db: Database,
) -> tuple[int, Any]:
    for candidate in routes:
        match = candidate.pattern.match(path)
        if candidate.method == method and match:
            req = ApiRequest(method, path, match.groupdict(), query or {}, body, "http://sandbox")
            response = candidate.handler(db, req)
            return response.status, response.body
    raise AssertionError(f"no route for {method} {path}")


def test_jwt_login_provisions_once_into_the_group(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SSO_SECRET", SECRET)
    group = sandbox.platform_group_id
    cfg = config({"type": "jwt", "secret": "env:ACME_SSO_SECRET"}, group)
    routes = sso_routes(lambda slug: cfg if slug == "acme" else None, MemoryReplayCache())
    db = sandbox.server.db
    assert cfg.cornerstone is not None and cfg.cornerstone.sso is not None
    method = cfg.cornerstone.sso.method
    assert isinstance(method, JwtSso)

    def token() -> str:
        return make_login_token(
            method, SecretStr(SECRET), "new.hire@example.com", now=datetime.now(UTC), first_name="New"
        )

    status, first = call(routes, "GET", "/api/sso/jwt/acme", query={"jwt": [token()]}, db=db)
    assert (status, first["created"]) == (200, True)
    status, second = call(routes, "GET", "/api/sso/jwt/acme", query={"jwt": [token()]}, db=db)
    assert (status, second["created"], second["userId"]) == (200, False, first["userId"])

    user = sandbox.client.find_user_by_mail("new.hire@example.com")
    assert user is not None and user["_id"] == first["userId"]
    roles = sandbox.client.group_roles(group)
    assert sum(1 for r in roles if r.get("userId") == first["userId"] and r.get("role") == "learner") == 1

    replayed = token()
    call(routes, "GET", "/api/sso/jwt/acme", query={"jwt": [replayed]}, db=db)
    status, body = call(routes, "GET", "/api/sso/jwt/acme", query={"jwt": [replayed]}, db=db)
    assert (status, body["error"]["code"]) == (401, "replayed")
    forged = jwt.encode(
        {"email": "eve@example.com", "iat": 1, "exp": 2, "jti": "x"}, "x" * 40, algorithm="HS256"
    )
    status, body = call(routes, "GET", "/api/sso/jwt/acme", query={"jwt": [forged]}, db=db)
    assert (status, body["error"]["code"]) == (401, "bad_signature")
    assert sandbox.client.find_user_by_mail("eve@example.com") is None
    assert call(routes, "GET", "/api/sso/jwt/other", query={"jwt": ["x"]}, db=db)[0] == 404


def test_saml_acs_accepts_signed_and_refuses_altered(
    sandbox: SandboxHandle, saml_idp_identity: SigningIdentity
) -> None:
    cfg = config(
        {
            "type": "saml",
            "entity_id": SP_ENTITY,
            "metadata_xml": idp_metadata(saml_idp_identity),
            "attributes": {"first_name": "givenName"},
        },
        sandbox.platform_group_id,
    )
    routes = sso_routes(lambda slug: cfg, MemoryReplayCache())
    db = sandbox.server.db
    now = datetime.now(UTC)
    signed = base64.b64encode(saml_response(saml_idp_identity, now=now)).decode()
    altered = base64.b64encode(
        saml_response(saml_idp_identity, now=now, assertion_id="_other").replace(b"ada@", b"eve@")
    ).decode()
    status, body = call(routes, "POST", "/api/sso/saml/acme/acs", body={"SAMLResponse": signed}, db=db)
    assert (status, body["created"]) == (200, True)
    status, body = call(
        routes, "POST", "/api/sso/saml/acme/acs", body=urlencode({"SAMLResponse": altered}), db=db
    )
    assert (status, body["error"]["code"]) == (401, "bad_signature")
    assert sandbox.client.find_user_by_mail("ada@example.com") is not None
    assert sandbox.client.find_user_by_mail("eve@example.com") is None
