"""SSO logins over real HTTP against the LMS sandbox serving a folder of customer files.

The sandbox is composed the way ``lmsync sandbox serve --customers DIR`` composes it (the
customer folder, a SQLite replay cache beside the database, the provision groups), and a
browser's requests are sent with ``requests``: a JWT link, a SAML form post. What a login did
is read back through the LMS API. The last test runs the commands themselves, as an SA would.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from pydantic import SecretStr

from connectors.sandbox_sso.customers import SsoCustomers
from connectors.sandbox_sso.sandbox_routes import SsoCustomer, ensure_provision_groups, sso_routes
from engine.cli.sandbox import replay_cache_path
from engine.config.models import JwtSso
from engine.console import SilentReporter
from engine.cornerstone.replay import SqliteReplayCache
from engine.cornerstone.sso_jwt import make_login_token
from tests.fixtures.cornerstone import SP_ENTITY, SigningIdentity, idp_metadata, saml_response
from tests.fixtures.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

SECRET = "a-shared-secret-that-is-long-enough-for-hs256"
GROUP = "acme-all-staff"
TIMEOUT = 10

JWT_CUSTOMER = """\
version: 1
customer: {slug}
environments:
  test:
    lms: {{url: "{url}", client_id: "env:ACME_TEST_ID", client_secret: "env:ACME_TEST_SECRET"}}
hris:
  source: {{type: folder, path: inbox}}
  group: "{group}"
  admin: sa@acme.example
cornerstone:
  sso:
    method:
      type: jwt
      secret: env:{secret_env}
"""

SAML_CUSTOMER = """\
version: 1
customer: {slug}
environments:
  test:
    lms: {{url: "{url}", client_id: "env:A_ID", client_secret: "env:A_SECRET"}}
cornerstone:
  sso:
    provision_group: "{group}"
    method:
      type: saml
      entity_id: "{entity}"
      attributes: {{first_name: givenName, last_name: sn}}
      metadata_xml: |
{metadata}
"""

NO_SSO_CUSTOMER = """\
version: 1
customer: plain
environments:
  test:
    lms: {{url: "http://127.0.0.1:8360", client_id: "env:A_ID", client_secret: "env:A_SECRET"}}
"""


@dataclass
class SsoSandbox:
    """The LMS sandbox with SSO routes for the customer files of ``folder``."""

    lms: SandboxHandle
    folder: Path
    replay: SqliteReplayCache

    def jwt_url(self, slug: str) -> str:
        return f"{self.lms.url}/api/sso/jwt/{slug}"

    def login(self, slug: str, token: str) -> requests.Response:
        return requests.get(self.jwt_url(slug), params={"jwt": token}, timeout=TIMEOUT)

    def post_saml(self, slug: str, xml: bytes) -> requests.Response:
        # As a browser posts the IdP's auto-submitted form: urlencoded, base64 of the XML.
        return requests.post(
            f"{self.lms.url}/api/sso/saml/{slug}/acs",
            data={"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": "/"},
            timeout=TIMEOUT,
        )

    def user_id(self, email: str) -> str | None:
        user = self.lms.client.find_user_by_mail(email)
        return None if user is None else str(user["_id"])

    def learners(self, group: str) -> list[str]:
        return sorted(r["userId"] for r in self.lms.client.group_roles(group) if r.get("role") == "learner")


@pytest.fixture
def sso_sandbox(
    tmp_path: Path, make_sandbox: Callable[..., SandboxHandle], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SsoSandbox]:
    monkeypatch.setenv("ACME_SSO_SECRET", SECRET)
    folder = tmp_path / "customers"
    folder.mkdir()
    db_path = tmp_path / "sandbox.sqlite"
    customers = SsoCustomers(folder, SilentReporter())
    replay = SqliteReplayCache(replay_cache_path(db_path))
    lms = make_sandbox(db_path, public_routes=sso_routes(customers, replay))

    def provide_groups(changed: Mapping[str, SsoCustomer]) -> None:
        ensure_provision_groups(lms.server.db, changed.values())

    customers.on_change = provide_groups
    lms.admin.seed(groups=[{"_id": GROUP, "name": "Acme", "parentId": lms.platform_group_id}])
    write(folder, "acme", JWT_CUSTOMER, url=lms.url, group=GROUP, secret_env="ACME_SSO_SECRET")
    yield SsoSandbox(lms, folder, replay)
    replay.close()


def write(folder: Path, slug: str, template: str, **values: str) -> Path:
    path = folder / f"{slug}.yaml"
    path.write_text(template.format(slug=slug, **values), encoding="utf-8")
    return path


JWT_METHOD = JwtSso(type="jwt", secret="env:ACME_SSO_SECRET")


def token(
    email: str,
    *,
    now: datetime | None = None,
    secret: str = SECRET,
    first_name: str | None = None,
    last_name: str | None = None,
) -> str:
    return make_login_token(
        JWT_METHOD,
        SecretStr(secret),
        email,
        now=now or datetime.now(UTC),
        first_name=first_name,
        last_name=last_name,
    )


# --- JWT ------------------------------------------------------------------------------------


def test_a_jwt_login_provisions_a_new_user_once_into_the_synced_group(sso_sandbox: SsoSandbox) -> None:
    first = sso_sandbox.login("acme", token("New.Hire@Example.com", first_name="New", last_name="Hire"))
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True
    user_id = first.json()["userId"]

    again = sso_sandbox.login("acme", token("new.hire@example.com"))
    assert (again.status_code, again.json()) == (200, {"userId": user_id, "created": False})

    assert sso_sandbox.user_id("new.hire@example.com") == user_id
    assert sso_sandbox.learners(GROUP) == [user_id]
    state = sso_sandbox.lms.admin.state()
    (user,) = [u for u in state["users"] if u["_id"] == user_id]
    assert (user["firstName"], user["lastName"], user["status"]) == ("New", "Hire", "active")
    assert state["invitations"] == [], "a user logging in right now is not sent an invitation"
    logged = [r for r in sso_sandbox.lms.admin.requests() if r["path"] == "/api/sso/jwt/acme"]
    assert len(logged) == 2 and all(r["query"] == "" for r in logged), "login tokens stay out of the log"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda: token("eve@example.com", secret="another-secret-that-is-long-enough-for-hs256"),
            "bad_signature",
        ),
        (lambda: token("eve@example.com", now=datetime.now(UTC) - timedelta(hours=1)), "expired"),
        (
            lambda: jwt.encode(
                {
                    "email": "eve@example.com",
                    "iat": int(datetime.now(UTC).timestamp()),
                    "exp": 2**40,
                    "jti": "n",
                },
                "",  # no key: PyJWT reads "" as None for "none" (and types the key as str)
                algorithm="none",
            ),
            "unsigned",
        ),
        (
            lambda: jwt.encode(
                {
                    "email": "eve@example.com",
                    "iat": int(datetime.now(UTC).timestamp()),
                    "exp": 2**40,
                    "jti": "h",
                },
                SECRET * 2,  # long enough for HS512: the refusal is about the algorithm
                algorithm="HS512",
            ),
            "wrong_algorithm",
        ),
        (lambda: "not-a-jwt", "malformed"),
    ],
    ids=["forged", "expired", "alg-none", "alg-hs512", "garbage"],
)
def test_a_forged_expired_or_unsigned_token_is_refused_and_creates_nobody(
    sso_sandbox: SsoSandbox, make: Callable[[], str], reason: str
) -> None:
    answer = sso_sandbox.login("acme", make())
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == reason
    assert "eve@example.com" not in answer.text, "a refusal never echoes who tried"
    assert sso_sandbox.user_id("eve@example.com") is None
    assert sso_sandbox.learners(GROUP) == []


def test_a_replayed_token_is_refused_even_after_a_restart(
    sso_sandbox: SsoSandbox, make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    link = token("ada@example.com")
    assert sso_sandbox.login("acme", link).status_code == 200
    replayed = sso_sandbox.login("acme", link)
    assert (replayed.status_code, replayed.json()["error"]["code"]) == (401, "replayed")

    # The replay cache lives beside the database: a restarted sandbox still refuses it.
    sso_sandbox.lms.close()
    sso_sandbox.replay.close()
    db_path = tmp_path / "sandbox.sqlite"
    replay = SqliteReplayCache(replay_cache_path(db_path))
    try:
        customers = SsoCustomers(sso_sandbox.folder, SilentReporter())
        restarted = make_sandbox(db_path, public_routes=sso_routes(customers, replay))
        write(
            sso_sandbox.folder,
            "acme",
            JWT_CUSTOMER,
            url=restarted.url,
            group=GROUP,
            secret_env="ACME_SSO_SECRET",
        )
        answer = requests.get(f"{restarted.url}/api/sso/jwt/acme", params={"jwt": link}, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "replayed")
    finally:
        replay.close()


def test_simultaneous_first_logins_of_one_person_create_one_user(sso_sandbox: SsoSandbox) -> None:
    tokens = [token("grace@example.com") for _ in range(8)]
    answers: list[requests.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def login(link: str) -> None:
        start.wait()
        answer = sso_sandbox.login("acme", link)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=login, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200] * len(tokens)
    assert sorted(a.json()["created"] for a in answers) == [False] * (len(tokens) - 1) + [True]
    assert len({a.json()["userId"] for a in answers}) == 1
    assert len(sso_sandbox.learners(GROUP)) == 1


def test_an_unset_secret_or_a_missing_group_is_a_clear_answer_not_a_dropped_connection(
    sso_sandbox: SsoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_SSO_SECRET")
    answer = sso_sandbox.login("acme", token("ada@example.com"))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "ssoMisconfigured"
    assert "ACME_SSO_SECRET is not set" in answer.json()["error"]["message"]
    monkeypatch.setenv("ACME_SSO_SECRET", SECRET)

    # A group deleted from the instance after the sandbox created it: say which, create no one.
    with sso_sandbox.lms.server.db.transaction() as conn:
        conn.execute("DELETE FROM groups WHERE id = ?", (GROUP,))
    answer = sso_sandbox.login("acme", token("ada@example.com"))
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "provisionGroupNotFound")
    assert GROUP in answer.json()["error"]["message"]
    assert sso_sandbox.user_id("ada@example.com") is None

    for slug, expected in (("nobody", 404), ("plain", 404)):
        write(sso_sandbox.folder, "plain", NO_SSO_CUSTOMER)
        answer = sso_sandbox.login(slug, token("ada@example.com"))
        assert (answer.status_code, answer.json()["error"]["code"]) == (expected, "ssoNotConfigured")
    missing = requests.get(sso_sandbox.jwt_url("acme"), timeout=TIMEOUT)
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "jwtMissing")


def test_an_edited_customer_file_is_used_by_the_next_login(
    sso_sandbox: SsoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SSO_SECRET_V2", "the-rotated-secret-which-is-also-long-enough")
    old = token("ada@example.com")
    write(
        sso_sandbox.folder,
        "acme",
        JWT_CUSTOMER,
        url=sso_sandbox.lms.url,
        group=GROUP,
        secret_env="ACME_SSO_SECRET_V2",
    )
    refused = sso_sandbox.login("acme", old)
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "bad_signature")
    rotated = token("ada@example.com", secret="the-rotated-secret-which-is-also-long-enough")
    assert sso_sandbox.login("acme", rotated).json()["created"] is True


# --- SAML -----------------------------------------------------------------------------------


@pytest.fixture
def saml_customer(sso_sandbox: SsoSandbox, saml_idp_identity: SigningIdentity) -> str:
    metadata = "".join(f"        {line}\n" for line in idp_metadata(saml_idp_identity).splitlines())
    write(
        sso_sandbox.folder,
        "initech",
        SAML_CUSTOMER,
        url=sso_sandbox.lms.url,
        group="initech-learners",
        entity=SP_ENTITY,
        metadata=metadata.rstrip("\n"),
    )
    return "initech"


def test_a_signed_saml_response_is_accepted_and_provisions_into_a_created_group(
    sso_sandbox: SsoSandbox, saml_customer: str, saml_idp_identity: SigningIdentity
) -> None:
    answer = sso_sandbox.post_saml(saml_customer, saml_response(saml_idp_identity, now=datetime.now(UTC)))
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] is True
    user_id = answer.json()["userId"]
    assert sso_sandbox.user_id("ada@example.com") == user_id
    # The sandbox had no "initech-learners" group: serving the file created it, so the first
    # login had somewhere to go.
    assert sso_sandbox.learners("initech-learners") == [user_id]
    (user,) = [u for u in sso_sandbox.lms.admin.state()["users"] if u["_id"] == user_id]
    assert (user["firstName"], user["lastName"]) == ("Ada", "Lovelace")

    signed_by_assertion = saml_response(
        saml_idp_identity, now=datetime.now(UTC), sign="assertion", assertion_id="_second"
    )
    again = sso_sandbox.post_saml(saml_customer, signed_by_assertion)
    assert (again.status_code, again.json()) == (200, {"userId": user_id, "created": False})


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda idp, other, now: saml_response(idp, now=now, assertion_id="_a1").replace(b"ada@", b"eve@"),
            "bad_signature",
        ),
        (lambda idp, other, now: saml_response(other, now=now, email="eve@example.com"), "bad_signature"),
        (lambda idp, other, now: saml_response(None, now=now, email="eve@example.com"), "unsigned"),
        (
            lambda idp, other, now: saml_response(
                idp, now=now - timedelta(hours=1), email="eve@example.com", assertion_id="_old"
            ),
            "expired",
        ),
        (
            lambda idp, other, now: saml_response(
                idp, now=now, email="eve@example.com", audience="https://elsewhere.example/saml"
            ),
            "wrong_audience",
        ),
    ],
    ids=["altered", "other-key", "unsigned", "expired", "wrong-audience"],
)
def test_an_altered_or_foreign_saml_response_is_refused(
    sso_sandbox: SsoSandbox,
    saml_customer: str,
    saml_idp_identity: SigningIdentity,
    saml_other_identity: SigningIdentity,
    make: Callable[[SigningIdentity, SigningIdentity, datetime], bytes],
    reason: str,
) -> None:
    answer = sso_sandbox.post_saml(
        saml_customer, make(saml_idp_identity, saml_other_identity, datetime.now(UTC))
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == reason
    assert sso_sandbox.user_id("eve@example.com") is None
    assert sso_sandbox.user_id("ada@example.com") is None


def test_a_saml_response_is_accepted_once(
    sso_sandbox: SsoSandbox, saml_customer: str, saml_idp_identity: SigningIdentity
) -> None:
    posted = saml_response(saml_idp_identity, now=datetime.now(UTC), assertion_id="_once")
    assert sso_sandbox.post_saml(saml_customer, posted).status_code == 200
    replayed = sso_sandbox.post_saml(saml_customer, posted)
    assert (replayed.status_code, replayed.json()["error"]["code"]) == (401, "replayed")
    wrong_method = sso_sandbox.login(saml_customer, token("ada@example.com"))
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (401, "wrong_method")


# --- the commands, as an SA runs them -------------------------------------------------------


def test_sandbox_serve_with_customers_and_a_jwt_link(tmp_path: Path) -> None:
    folder = tmp_path / "customers"
    folder.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ACME_SSO_SECRET": SECRET}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli.main",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--no-rate-limit",
            "--db",
            str(tmp_path / "sandbox.sqlite"),
            "--customers",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        lines = [server.stdout.readline() for _ in range(6)]
        assert lines[-1].startswith("  SSO logins:     none"), lines
        # The file is written once the port is known; the sandbox picks it up on the next login.
        config = write(folder, "acme", JWT_CUSTOMER, url=url, group=GROUP, secret_env="ACME_SSO_SECRET")
        link = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "sso",
                "jwt-link",
                str(config),
                "--email",
                "ada@example.com",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        ).stdout.strip()
        assert link.startswith(f"{url}/api/sso/jwt/acme?jwt=")
        first = requests.get(link, timeout=TIMEOUT)
        assert first.status_code == 200, first.text
        assert first.json()["created"] is True
        second = requests.get(link, timeout=TIMEOUT)
        assert (second.status_code, second.json()["error"]["code"]) == (401, "replayed")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        assert server.stderr is not None
        log = server.stderr.read()
        assert f"acme: group {GROUP} created in the sandbox for first SSO logins" in log
        assert "ada@example.com" not in log and SECRET not in log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()
    assert (tmp_path / "sandbox.sso-replay.sqlite").exists()
