"""JWT single sign-on: verifying a login token, and minting one for a test link.

The algorithm is the configured one (HS256), never the token header's: a header saying
``none`` or ``RS256`` cannot change how we check the signature. A token must carry ``iat``,
``exp`` and ``jti``; it is refused when its signature is wrong, when it is expired, issued
in the future, older than ``max_age_seconds``, or when its ``jti`` was already used.

Nothing here logs; refusals carry a reason code and never the token, the secret or the
e-mail inside it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import SecretStr

from engine.config.models import EMAIL_PATTERN, JwtSso
from engine.cornerstone.replay import ReplayCache
from engine.errors import ConfigError, LmsyncError

#: Clock skew tolerated between the token issuer and us.
LEEWAY = timedelta(seconds=30)

#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32


class SsoRefused(LmsyncError):  # noqa: N818 - a refusal is an outcome, "Error" would mislead
    """A login attempt that must not log anyone in. ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SsoIdentity:
    """Who the IdP says is logging in. Personal data stays out of the repr."""

    email: str = field(repr=False)
    first_name: str | None = field(default=None, repr=False)
    last_name: str | None = field(default=None, repr=False)


def _checked_secret(secret: SecretStr) -> bytes:
    raw = secret.get_secret_value().encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"cornerstone.sso.method.secret: the HS256 secret is {len(raw)} bytes, below {MIN_SECRET_BYTES}",
            hint="generate one with `openssl rand -base64 48` and share it with the identity provider",
        )
    return raw


def normalised_email(value: Any) -> str:
    if not isinstance(value, str) or not re.match(EMAIL_PATTERN, value.strip()):
        raise SsoRefused("bad_email", "the login token's e-mail claim is missing or not an e-mail address")
    return value.strip().lower()


def make_login_token(
    config: JwtSso,
    secret: SecretStr,
    email: str,
    *,
    now: datetime,
    first_name: str | None = None,
    last_name: str | None = None,
    lifetime: timedelta | None = None,
    jti: str | None = None,
) -> str:
    """A signed login token as the IdP would make it (for ``lmsync sso jwt-link`` and tests)."""
    issued = int(now.timestamp())
    life = lifetime if lifetime is not None else timedelta(seconds=config.max_age_seconds)
    claims: dict[str, Any] = {
        config.claims.get("email", "email"): email,
        "iat": issued,
        "exp": issued + int(life.total_seconds()),
        "jti": jti or uuid.uuid4().hex,
    }
    for ours, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None and ours in config.claims:
            claims[config.claims[ours]] = value
    return jwt.encode(claims, _checked_secret(secret), algorithm=config.algorithm)


def _numeric(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SsoRefused("malformed", f"the login token's '{name}' claim is not a timestamp")
    return datetime.fromtimestamp(value, UTC)


def verify_login_token(
    token: str, config: JwtSso, secret: SecretStr, *, replay: ReplayCache, now: datetime
) -> SsoIdentity:
    """The identity in ``token``, or ``SsoRefused`` with why (never which user)."""
    key = _checked_secret(secret)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise SsoRefused("malformed", "the login token is not a JWT") from exc
    if str(header.get("alg", "")).lower() == "none":
        raise SsoRefused("unsigned", "the login token is unsigned (alg none): refused")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[config.algorithm],  # from our configuration only
            options={
                "require": ["iat", "exp", "jti"],
                # Times are checked below against the injected clock, with one leeway.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidAlgorithmError as exc:
        raise SsoRefused("wrong_algorithm", f"the login token is not signed with {config.algorithm}") from exc
    except jwt.InvalidSignatureError as exc:
        raise SsoRefused(
            "bad_signature", "the login token's signature does not match the shared secret"
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise SsoRefused("missing_claim", f"the login token has no '{exc.claim}' claim") from exc
    except jwt.InvalidTokenError as exc:
        raise SsoRefused("malformed", f"the login token is invalid ({type(exc).__name__})") from exc

    issued, expires = _numeric(claims, "iat"), _numeric(claims, "exp")
    if issued > now + LEEWAY:
        raise SsoRefused("not_yet_valid", "the login token is issued in the future: check the IdP's clock")
    if expires <= now - LEEWAY:
        raise SsoRefused("expired", "the login token has expired")
    if now - issued > timedelta(seconds=config.max_age_seconds) + LEEWAY:
        raise SsoRefused(
            "too_old", f"the login token is older than max_age_seconds ({config.max_age_seconds})"
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise SsoRefused("malformed", "the login token's 'jti' claim is empty")

    email = normalised_email(claims.get(config.claims.get("email", "email")))
    names = {
        ours: str(claims[name]) if isinstance(claims.get(name), str) else None
        for ours, name in config.claims.items()
        if ours != "email"
    }
    # Last: only a token that passed every check may use up its jti.
    remember_until = max(expires, issued + timedelta(seconds=config.max_age_seconds)) + LEEWAY
    if not replay.first_use(f"jwt:{jti}", remember_until, now):
        raise SsoRefused("replayed", "the login token was already used")
    return SsoIdentity(email, names.get("first_name"), names.get("last_name"))
