"""The CLI commands end to end: a customer file, the LMS sandbox and the Cornerstone sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import SecretStr

from connectors.cornerstone.feed_server import FeedServer, feed_route
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.cli.main import main
from engine.config.models import JwtSso
from engine.cornerstone.replay import MemoryReplayCache
from engine.cornerstone.sso_jwt import verify_login_token

pytestmark = pytest.mark.integration

SSO_SECRET = "a-shared-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def customer_file(
    tmp_path: Path, sandbox: Any, cornerstone_sandbox: CornerstoneSandbox, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cornerstone_sandbox.store.add_client("lmsync", "csod-secret", "employee:read transcript:update")
    for name, value in {
        "ACME_LMS_ID": sandbox.client_id,
        "ACME_LMS_SECRET": sandbox.client_secret,
        "ACME_CSOD_ID": "lmsync",
        "ACME_CSOD_SECRET": "csod-secret",
        "ACME_FEED_PASSWORD": "feed-pass",
        "ACME_SSO_SECRET": SSO_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "acme.yaml"
    path.write_text(
        f"""version: 1
customer: acme
environments:
  test:
    lms: {{url: "{sandbox.url}", client_id: env:ACME_LMS_ID, client_secret: env:ACME_LMS_SECRET}}
    cornerstone:
      url: "{cornerstone_sandbox.url}"
      client_id: env:ACME_CSOD_ID
      client_secret: env:ACME_CSOD_SECRET
      scope: employee:read transcript:update
cornerstone:
  catalog:
    launch_url: "https://acme.example/course/{{course_id}}"
    subjects: {{sales: [Sales]}}
    auth: {{type: basic, username: csod, password: env:ACME_FEED_PASSWORD}}
  completions: {{timezone: Europe/Paris}}
  sso:
    method: {{type: jwt, secret: env:ACME_SSO_SECRET}}
    provision_group: g-sso
""",
        encoding="utf-8",
    )
    return path


def test_catalog_prints_the_feed(
    customer_file: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.admin.seed(
        courses=[
            {"_id": "c1", "name": "Onboarding", "tags": ["sales"]},
            {"_id": "c2", "name": "Old", "status": "archived"},
        ]
    )
    assert main(["cornerstone", "catalog", str(customer_file), "--env", "test"]) == 0
    feed = json.loads(capsys.readouterr().out)
    assert [(i["ID"], i["IsActive"], i["Subjects"]) for i in feed] == [
        ("c1", True, ["Sales"]),
        ("c2", False, []),
    ]


def test_completions_push_once_and_dry_run_pushes_nothing(
    customer_file: Path,
    sandbox: Any,
    cornerstone_sandbox: CornerstoneSandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded = sandbox.admin.seed(
        users=[{"mail": "ada@example.com"}], courses=[{"_id": "c1", "name": "Onboarding"}]
    )
    ada = seeded["users"][0]["_id"]
    sandbox.admin.seed(
        external_ids=[{"platform": "lmsync-hris", "targetId": ada, "value": "E-ADA"}],
        course_stats=[
            {"courseId": "c1", "userId": ada, "progress": 100, "completedAt": "2024-05-01T10:00:00Z"}
        ],
    )
    cornerstone_sandbox.store.add_employee("E-ADA")
    cornerstone_sandbox.store.ingest(
        {
            "ID": "c1",
            "Title": "Onboarding",
            "URL": "https://x/",
            "IsActive": True,
            "LastModifiedUTC": "2024-05-01T00:00:00Z",
        }
    )
    args = [
        "cornerstone",
        "completions",
        str(customer_file),
        "--day",
        "2024-05-01",
        "--ledger",
        str(tmp_path / "ledger.sqlite"),
    ]
    assert main([*args, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["dry_run"], len(dry["to_push"])) == (True, 1)
    assert cornerstone_sandbox.store.transcripts() == []
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["pushed"], second["pushed"], second["already_pushed"]) == (1, 0, 1)
    assert len(cornerstone_sandbox.store.transcripts()) == 1


def test_jwt_link_is_a_valid_one_time_login(customer_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["sso", "jwt-link", str(customer_file), "--email", "ada@example.com", "--first-name", "Ada"])
        == 0
    )
    out = capsys.readouterr()
    assert SSO_SECRET not in out.out + out.err
    link = urlsplit(out.out.strip())
    assert link.path == "/api/sso/jwt/acme"
    token = parse_qs(link.query)["jwt"][0]
    config = JwtSso.model_validate({"type": "jwt", "secret": "env:X"})
    identity = verify_login_token(
        token, config, SecretStr(SSO_SECRET), replay=MemoryReplayCache(), now=datetime.now(UTC)
    )
    assert (identity.email, identity.first_name) == ("ada@example.com", "Ada")


def test_sso_check_and_missing_sections(
    customer_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sso", "check", str(customer_file)]) == 0
    assert main(["cornerstone", "catalog", str(customer_file), "--env", "production"]) == 1
    assert "no environment 'production'" in capsys.readouterr().err


def test_sandbox_command_serves_a_portal_that_pulls_our_feed(
    tmp_path: Path, cornerstone_lms: Any, cornerstone_catalog: Any
) -> None:

    cornerstone_lms.publish("c1", "Onboarding", at=datetime(2024, 5, 1, tzinfo=UTC))
    route = feed_route("acme", cornerstone_catalog, cornerstone_lms, environ={"ACME_FEED_PASSWORD": "pw"})
    with FeedServer([route]) as feed:
        env = {**os.environ, "CSOD_FEED_SECRET": "pw"}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "cornerstone",
                "sandbox",
                "--port",
                "0",
                "--db",
                str(tmp_path / "portal.sqlite"),
                "--feed",
                feed.feed_url("acme"),
                "--feed-user",
                "csod",
                "--client-secret",
                "given",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert process.stderr is not None
            first = process.stderr.readline()  # blocks until the portal is listening
            url = first.split(": ", 1)[1].strip()
            answer = requests.post(url + "/admin/catalog/poll", timeout=10).json()
            assert [(r["status"], r["created"]) for r in answer] == [(200, 1)]
            assert requests.get(url + "/admin/learning-objects", timeout=10).json()["c1"]["IsActive"] is True
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
        assert process.returncode == 0
