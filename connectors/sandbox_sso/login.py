"""SSO logins as the LMS sandbox receives them, with auto-provisioning on the first one.

The sandbox mounts two handlers (see the README's Cornerstone section):
``GET /api/sso/jwt/{customer}?jwt=...`` → ``handle_jwt_login`` and the ACS
``POST /api/sso/saml/{customer}/acs`` (form field ``SAMLResponse``) → ``handle_saml_response``.
Both verify the token (``engine.cornerstone.sso_jwt`` / ``sso_saml``); a verified identity
unknown to the LMS is created once and made a learner of the provision group, a known one
is just logged in. A refused login raises ``SsoRefused`` (the route answers 401 with its
``reason``) and changes nothing.

Users are reached through ``SsoDirectory`` so the sandbox's own store plugs in; these
handlers never log the e-mail or the token.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from engine.config.models import CustomerConfig, JwtSso, SamlSso
from engine.config.secrets import resolve_secret
from engine.cornerstone.replay import ReplayCache
from engine.cornerstone.sso_jwt import SsoIdentity, SsoRefused, verify_login_token
from engine.cornerstone.sso_saml import verify_saml_response
from engine.errors import ConfigError


class SsoDirectory(Protocol):
    """The LMS users an SSO login may find or create."""

    def find_user_by_email(self, email: str) -> str | None:
        """The user's id, or None."""
        ...

    def create_learner(self, email: str, first_name: str | None, last_name: str | None, group_id: str) -> str:
        """Create a user as a learner of ``group_id``, in one step (no invitation e-mail: they
        are logging in right now); its id. One step, so no user ever exists outside the group."""
        ...


@dataclass(frozen=True)
class LoginResult:
    user_id: str
    created: bool
    email: str = field(repr=False)


def provision_group(config: CustomerConfig) -> str:
    """Where first logins are provisioned: ``sso.provision_group``, else ``hris.group``."""
    sso = config.cornerstone.sso if config.cornerstone else None
    group = (sso.provision_group if sso else None) or (config.hris.group if config.hris else None)
    if not group:
        raise ConfigError(
            f"{config.customer}: cornerstone.sso has no group to provision users into",
            hint="set cornerstone.sso.provision_group (or hris.group)",
        )
    return group


def _sso_method(config: CustomerConfig) -> JwtSso | SamlSso:
    if config.cornerstone is None or config.cornerstone.sso is None:
        raise SsoRefused("sso_disabled", f"SSO is not configured for {config.customer}")
    return config.cornerstone.sso.method


# One lock per directory object: two simultaneous first logins of one person create one user.
# Weak keys: a directory that is gone takes its lock along (an id() could be reused).
_provision_locks: weakref.WeakKeyDictionary[SsoDirectory, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _provision(identity: SsoIdentity, directory: SsoDirectory, group: str) -> LoginResult:
    with _locks_guard:
        lock = _provision_locks.setdefault(directory, threading.Lock())
    with lock:
        user_id = directory.find_user_by_email(identity.email)
        if user_id is not None:
            return LoginResult(user_id, False, identity.email)
        user_id = directory.create_learner(identity.email, identity.first_name, identity.last_name, group)
        return LoginResult(user_id, True, identity.email)


def handle_jwt_login(
    config: CustomerConfig,
    token: str,
    *,
    directory: SsoDirectory,
    replay: ReplayCache,
    now: datetime,
    secret: SecretStr | None = None,
    base_dir: Path | None = None,
) -> LoginResult:
    """``GET /api/sso/jwt/{customer}?jwt=``: verify, then log in or provision once."""
    method = _sso_method(config)
    if not isinstance(method, JwtSso):
        raise SsoRefused("wrong_method", f"{config.customer} uses SAML, not JWT")
    key = secret or resolve_secret(method.secret, base_dir=base_dir, what="cornerstone.sso.method.secret")
    identity = verify_login_token(token, method, key, replay=replay, now=now)
    return _provision(identity, directory, provision_group(config))


def handle_saml_response(
    config: CustomerConfig,
    saml_response: str,
    *,
    directory: SsoDirectory,
    replay: ReplayCache,
    now: datetime,
    certificates: list[str] | None = None,
) -> LoginResult:
    """``POST /api/sso/saml/{customer}/acs`` (``SAMLResponse``): verify, then log in or provision."""
    method = _sso_method(config)
    if not isinstance(method, SamlSso):
        raise SsoRefused("wrong_method", f"{config.customer} uses JWT, not SAML")
    identity = verify_saml_response(saml_response, method, replay=replay, now=now, certificates=certificates)
    return _provision(identity, directory, provision_group(config))
