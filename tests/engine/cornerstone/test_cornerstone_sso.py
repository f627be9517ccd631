"""SSO verification: JWT login tokens and signed SAML responses, and provisioning on first login."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from lxml import etree
from pydantic import SecretStr

from connectors.sandbox_sso.directory import SqliteSsoDirectory
from connectors.sandbox_sso.login import LoginResult, handle_jwt_login, handle_saml_response
from engine.config.models import CustomerConfig, JwtSso, SamlSso
from engine.cornerstone.replay import MemoryReplayCache, SqliteReplayCache
from engine.cornerstone.sso_check import check_sso
from engine.cornerstone.sso_jwt import SsoIdentity, SsoRefused, make_login_token, verify_login_token
from engine.cornerstone.sso_saml import verify_saml_response
from engine.errors import ConfigError
from tests.fixtures.cornerstone import (
    SP_ENTITY,
    SigningIdentity,
    idp_metadata,
    make_signing_identity,
    saml_response,
)

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SECRET = SecretStr("a-shared-secret-that-is-long-enough-for-hs256")
JWT = JwtSso.model_validate({"type": "jwt", "secret": "env:ACME_SSO_SECRET", "max_age_seconds": 300})


def b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "email": "Ada@Example.com",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
        "jti": "j-1",
        "firstName": "Ada",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def verify(token: str, replay: MemoryReplayCache | None = None, now: datetime = NOW) -> SsoIdentity:
    return verify_login_token(token, JWT, SECRET, replay=replay or MemoryReplayCache(), now=now)


def test_valid_token_gives_the_identity() -> None:
    identity = verify(make_login_token(JWT, SECRET, "Ada@Example.com", now=NOW, first_name="Ada"))
    assert identity.email == "ada@example.com"
    assert identity.first_name == "Ada"
    assert "ada" not in repr(identity).lower()


KEY = SECRET.get_secret_value()
WRONG_KEY = "another-secret-that-is-also-long-enough-ok"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (jwt.encode(claims(), WRONG_KEY, algorithm="HS256"), "bad_signature"),
        (f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.", "unsigned"),
        (
            jwt.encode(claims(), KEY + "-padding-for-hs512-length-requirements-xx", algorithm="HS512"),
            "wrong_algorithm",
        ),
        (jwt.encode(claims(exp=int(NOW.timestamp()) - 120), KEY, algorithm="HS256"), "expired"),
        (
            jwt.encode(
                claims(iat=int(NOW.timestamp()) - 3600, exp=int(NOW.timestamp()) + 60), KEY, algorithm="HS256"
            ),
            "too_old",
        ),
        (jwt.encode(claims(iat=int(NOW.timestamp()) + 600), KEY, algorithm="HS256"), "not_yet_valid"),
        (jwt.encode(claims(jti=None), KEY, algorithm="HS256"), "missing_claim"),
        (jwt.encode(claims(email="not-an-email"), KEY, algorithm="HS256"), "bad_email"),
        ("garbage", "malformed"),
    ],
    ids=[
        "forged",
        "unsigned",
        "other-algorithm",
        "expired",
        "too-old",
        "future",
        "no-jti",
        "bad-email",
        "garbage",
    ],
)
def test_refused_tokens(token: str, reason: str) -> None:
    with pytest.raises(SsoRefused) as info:
        verify(token)
    assert info.value.reason == reason
    assert "ada" not in str(info.value).lower()


def test_replayed_jti_is_refused_and_forgery_does_not_burn_it() -> None:
    replay = MemoryReplayCache()
    with pytest.raises(SsoRefused):
        verify(jwt.encode(claims(), WRONG_KEY, algorithm="HS256"), replay)
    token = jwt.encode(claims(), KEY, algorithm="HS256")
    verify(token, replay)
    with pytest.raises(SsoRefused) as info:
        verify(token, replay)
    assert info.value.reason == "replayed"


def test_sqlite_replay_cache_is_shared_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite"
    a, b = SqliteReplayCache(path), SqliteReplayCache(path)
    until = NOW + timedelta(minutes=5)
    assert a.first_use("jwt:1", until, NOW) is True
    assert b.first_use("jwt:1", until, NOW) is False
    assert b.first_use("jwt:1", until, until + timedelta(seconds=1)) is True  # forgotten once expired
    a.close()
    b.close()


def test_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"at least|below"):
        make_login_token(JWT, SecretStr("short"), "a@b.co", now=NOW)


# --- SAML -----------------------------------------------------------------------------------


def saml_config(identity: SigningIdentity) -> SamlSso:
    return SamlSso.model_validate(
        {
            "type": "saml",
            "entity_id": SP_ENTITY,
            "metadata_xml": idp_metadata(identity),
            "attributes": {"first_name": "givenName", "last_name": "sn"},
        }
    )


def post(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


@pytest.mark.parametrize("sign", ["response", "assertion"])
def test_signed_response_is_accepted(saml_idp_identity: SigningIdentity, sign: str) -> None:
    xml = saml_response(saml_idp_identity, now=NOW, sign=sign)
    identity = verify_saml_response(
        post(xml), saml_config(saml_idp_identity), replay=MemoryReplayCache(), now=NOW
    )
    assert (identity.email, identity.first_name, identity.last_name) == ("ada@example.com", "Ada", "Lovelace")


def _altered(xml: bytes) -> bytes:
    return xml.replace(b"ada@example.com", b"eve@example.com")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda idp, other: _altered(saml_response(idp, now=NOW)), "bad_signature"),
        (lambda idp, other: _altered(saml_response(idp, now=NOW, sign="assertion")), "bad_signature"),
        (lambda idp, other: saml_response(other, now=NOW), "bad_signature"),
        (lambda idp, other: saml_response(None, now=NOW, sign="none"), "unsigned"),
        (
            lambda idp, other: saml_response(idp, now=NOW, audience="https://elsewhere.example"),
            "wrong_audience",
        ),
        (lambda idp, other: saml_response(idp, now=NOW, issuer="https://other-idp.example"), "wrong_issuer"),
        (lambda idp, other: saml_response(idp, now=NOW - timedelta(hours=1)), "expired"),
        (lambda idp, other: saml_response(idp, now=NOW, email="not-an-email"), "bad_email"),
        (
            lambda idp, other: saml_response(
                idp, now=NOW, status="urn:oasis:names:tc:SAML:2.0:status:Requester"
            ),
            "idp_refused",
        ),
        (
            lambda idp, other: (
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
            ),
            "malformed",
        ),
        (lambda idp, other: b"<not-closed", "malformed"),
    ],
    ids=[
        "altered-response",
        "altered-assertion",
        "other-key",
        "unsigned",
        "audience",
        "issuer",
        "expired",
        "bad-email",
        "idp-failure",
        "xxe",
        "not-xml",
    ],
)
def test_refused_saml_responses(
    saml_idp_identity: SigningIdentity,
    saml_other_identity: SigningIdentity,
    make: Callable[[SigningIdentity, SigningIdentity], bytes],
    reason: str,
) -> None:
    with pytest.raises(SsoRefused) as info:
        verify_saml_response(
            post(make(saml_idp_identity, saml_other_identity)),
            saml_config(saml_idp_identity),
            replay=MemoryReplayCache(),
            now=NOW,
        )
    assert info.value.reason == reason


def test_signature_wrapping_cannot_smuggle_an_identity(saml_idp_identity: SigningIdentity) -> None:
    """A forged assertion placed before a legitimately signed one is never read."""
    root = etree.fromstring(saml_response(saml_idp_identity, now=NOW, sign="assertion"))
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "ds": "http://www.w3.org/2000/09/xmldsig#"}
    genuine = root.find("saml:Assertion", ns)
    assert genuine is not None
    evil = etree.fromstring(etree.tostring(genuine))
    evil.remove(evil.find("ds:Signature", ns))
    evil.set("ID", "_evil")
    name_id = evil.find("saml:Subject/saml:NameID", ns)
    assert name_id is not None
    name_id.text = "eve@example.com"
    genuine.addprevious(evil)
    identity = verify_saml_response(
        post(etree.tostring(root)), saml_config(saml_idp_identity), replay=MemoryReplayCache(), now=NOW
    )
    assert identity.email == "ada@example.com"


def test_replayed_assertion_is_refused(saml_idp_identity: SigningIdentity) -> None:
    replay = MemoryReplayCache()
    data = post(saml_response(saml_idp_identity, now=NOW))
    verify_saml_response(data, saml_config(saml_idp_identity), replay=replay, now=NOW)
    with pytest.raises(SsoRefused, match="already used"):
        verify_saml_response(data, saml_config(saml_idp_identity), replay=replay, now=NOW)


# --- provisioning ---------------------------------------------------------------------------


def customer(method: dict[str, object], provision_group: str | None = "g-sso") -> CustomerConfig:
    return CustomerConfig.model_validate(
        {
            "version": 1,
            "customer": "acme",
            "environments": {
                "test": {"lms": {"url": "http://127.0.0.1:1", "client_id": "env:A", "client_secret": "env:B"}}
            },
            "cornerstone": {"sso": {"method": method, "provision_group": provision_group}},
        }
    )


def test_jwt_login_provisions_a_new_user_once() -> None:
    config = customer({"type": "jwt", "secret": "env:ACME_SSO_SECRET"})
    directory, replay = SqliteSsoDirectory(), MemoryReplayCache()

    def login() -> LoginResult:
        token = make_login_token(JWT, SECRET, "ada@example.com", now=NOW, first_name="Ada", last_name="L")
        return handle_jwt_login(config, token, directory=directory, replay=replay, now=NOW, secret=SECRET)

    first, second = login(), login()
    assert first.created is True and second.created is False
    assert first.user_id == second.user_id
    assert [(u[1], u[2]) for u in directory.users()] == [("ada@example.com", "Ada")]
    assert directory.learners("g-sso") == [first.user_id]


def test_refused_login_creates_nothing() -> None:
    config = customer({"type": "jwt", "secret": "env:ACME_SSO_SECRET"})
    directory = SqliteSsoDirectory()
    forged = jwt.encode(claims(), WRONG_KEY, algorithm="HS256")
    with pytest.raises(SsoRefused):
        handle_jwt_login(
            config, forged, directory=directory, replay=MemoryReplayCache(), now=NOW, secret=SECRET
        )
    assert directory.users() == []


def test_saml_login_provisions_and_wrong_method_is_refused(saml_idp_identity: SigningIdentity) -> None:
    config = customer(
        {
            "type": "saml",
            "entity_id": SP_ENTITY,
            "metadata_xml": idp_metadata(saml_idp_identity),
            "attributes": {"first_name": "givenName"},
        }
    )
    directory = SqliteSsoDirectory()
    result = handle_saml_response(
        config,
        post(saml_response(saml_idp_identity, now=NOW)),
        directory=directory,
        replay=MemoryReplayCache(),
        now=NOW,
    )
    assert result.created and directory.learners("g-sso") == [result.user_id]
    with pytest.raises(SsoRefused, match="SAML, not JWT"):
        handle_jwt_login(config, "x", directory=directory, replay=MemoryReplayCache(), now=NOW, secret=SECRET)


# --- check_sso (for lmsync validate) --------------------------------------------------------


def test_check_sso_is_quiet_for_a_good_section(saml_idp_identity: SigningIdentity) -> None:

    config = customer(
        {"type": "saml", "entity_id": SP_ENTITY, "metadata_xml": idp_metadata(saml_idp_identity)}
    )
    assert check_sso(config, now=datetime.now(UTC)) == []
    assert check_sso(customer({"type": "jwt", "secret": "env:S"})) == []


def test_check_sso_findings() -> None:

    expiring = make_signing_identity(valid_days=10)
    cases = [
        (
            {"certificate": expiring.cert_pem.decode(), "metadata_url": "https://idp.example/md"},
            [("sso-certificate-expiring", "warning")],
        ),
        (
            {"certificate": "not a certificate", "metadata_url": "https://idp.example/md"},
            [("sso-certificate", "error")],
        ),
        ({"metadata_url": "https://idp.example/md"}, [("sso-unpinned-certificate", "warning")]),
        (
            {"metadata_xml": "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'"},
            [("sso-metadata", "error")],
        ),
        ({"metadata_xml": '<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'}, [("sso-metadata", "error")]),
        ({"metadata_xml": idp_metadata(expiring)}, [("sso-certificate-expiring", "warning")]),
    ]
    for fields, expected in cases:
        config = customer({"type": "saml", "entity_id": SP_ENTITY, **fields})
        found = check_sso(config, now=datetime.now(UTC))
        assert [(f.code, f.severity) for f in found] == expected, fields
        assert all(f.path[:2] == ("cornerstone", "sso") for f in found)
    no_group = customer({"type": "jwt", "secret": "env:S"}, provision_group=None)
    assert [f.code for f in check_sso(no_group)] == ["sso-no-group"]
