"""The sandbox server itself: persistence, auth, admin surface, bulk limit, CLI lifecycle."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.sandbox import SandboxAdmin, SandboxServer
from connectors.sandbox.admin import SandboxAdminError
from connectors.sandbox.protocol import ApiRequest, ApiResponse, route

pytestmark = pytest.mark.integration


def _token(url: str, client_id: str, secret: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return requests.post(f"{url}/api/v2/oauth2/token", json=body, timeout=5)


def test_state_and_credentials_persist_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    with SandboxServer(db) as first:
        ids = (first.client_id, first.client_secret, first.admin_token, first.platform_group_id)
        with SandboxAdmin(first.url, first.admin_token) as admin:
            admin.seed(users=[{"mail": "kept@example.com"}])
        token = _token(first.url, first.client_id, first.client_secret).json()["access_token"]
    with SandboxServer(db) as second:
        assert (second.client_id, second.client_secret, second.admin_token, second.platform_group_id) == ids
        with SandboxAdmin(second.url, second.admin_token) as admin:
            assert [u["mail"] for u in admin.users()] == ["kept@example.com"]
        headers = {"Authorization": f"Bearer {token}", "360-api-version": "v2.0"}
        assert requests.get(f"{second.url}/api/v2/users", headers=headers, timeout=5).status_code == 200


def test_given_credentials_replace_generated_ones(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "s.sqlite", client_id="demo-id", client_secret="demo-secret") as server:
        assert _token(server.url, "demo-id", "demo-secret").status_code == 200
        refused = _token(server.url, "demo-id", "wrong")
        assert (refused.status_code, refused.json()) == (401, {"error": "invalid_client"})
        assert "demo-secret" not in repr(server)


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 401, {"error": "invalid_token"}),
        ({"Authorization": "Bearer forged"}, 401, {"error": "invalid_token"}),
        ({"Authorization": "Bearer {token}"}, 400, "apiVersionInvalid"),
        ({"Authorization": "Bearer {token}", "360-api-version": "v2.0"}, 200, None),
    ],
)
def test_api_requires_token_and_version(
    sandbox: Any, headers: dict[str, str], status: int, body: Any
) -> None:
    token = _token(sandbox.url, sandbox.client_id, sandbox.client_secret).json()["access_token"]
    sent = {k: v.format(token=token) for k, v in headers.items()}
    answer = requests.get(f"{sandbox.url}/api/v2/groups", headers=sent, timeout=5)
    assert answer.status_code == status
    if isinstance(body, dict):
        assert answer.json() == body
    elif body:
        assert answer.json()["error"]["code"] == body


def test_admin_surface_needs_its_token(sandbox: Any) -> None:
    with (
        SandboxAdmin(sandbox.url, "not-the-token") as intruder,
        pytest.raises(SandboxAdminError, match="401"),
    ):
        intruder.state()
    assert requests.get(f"{sandbox.url}/_sandbox/state", timeout=5).status_code == 401


def test_seeding_an_id_twice_is_a_409_and_keeps_nothing_of_that_seed(sandbox: Any) -> None:
    sandbox.admin.seed(groups=[{"_id": "g-fixed", "name": "Fixed"}])
    with pytest.raises(SandboxAdminError, match=r"409.*idAlreadyUsed"):
        sandbox.admin.seed(groups=[{"_id": "g-new", "name": "New"}, {"_id": "g-fixed", "name": "Again"}])
    held = {group["_id"]: group["name"] for group in sandbox.admin.state()["groups"]}
    assert held.get("g-fixed") == "Fixed" and "g-new" not in held  # one transaction: all or nothing


def test_forged_cursor_is_refused(sandbox: Any) -> None:
    token = _token(sandbox.url, sandbox.client_id, sandbox.client_secret).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "360-api-version": "v2.0"}
    answer = requests.get(f"{sandbox.url}/api/v2/users?next=Z3JvdXBzOjE", headers=headers, timeout=5)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalidCursor")


def test_request_log_shows_what_was_sent_and_can_be_reset(sandbox: Any) -> None:
    sandbox.client.create_group("G", sandbox.platform_group_id)
    assert [(r["method"], r["path"], r["status"]) for r in sandbox.admin.write_requests()] == [
        ("POST", "/api/v2/groups", 201)
    ]
    sandbox.admin.reset_requests()
    list(sandbox.client.iter_groups())
    assert sandbox.admin.write_requests() == [] and len(sandbox.admin.requests()) == 1


def test_bulk_concurrency_limit(sandbox: Any) -> None:
    token = _token(sandbox.url, sandbox.client_id, sandbox.client_secret).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "360-api-version": "v2.0"}
    sandbox.admin.configure(bulk_paused=True)
    url = f"{sandbox.url}/api/v2/bulk/groups/memberships"
    answers = [requests.post(url, json={"input": []}, headers=headers, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[3].json()["error"]["code"] == "bulkOperationsConcurrencyLimitReached"
    assert answers[0].headers["Location"].startswith(f"{sandbox.url}/api/v2/bulk/operations/")
    sandbox.admin.configure(bulk_paused=False)
    deadline = time.monotonic() + 10
    while any(op["status"] != "completed" for op in sandbox.admin.state()["bulkOperations"]):
        assert time.monotonic() < deadline, "bulk operations never completed"
        time.sleep(0.01)


def test_keep_alive_serves_many_requests_on_one_connection(sandbox: Any) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/api/v2/groups")
        connection.getresponse().read()
        first_socket = connection.sock
        for _ in range(20):
            connection.request("GET", "/api/v2/groups")
            response = connection.getresponse()
            response.read()
            assert response.status == 401
        assert connection.sock is first_socket is not None
    finally:
        connection.close()


def test_cli_prints_url_and_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli.main",
            "sandbox",
            "--port",
            "0",
            "--db",
            str(tmp_path / "s.sqlite"),
            "--client-id",
            "demo-id",
            "--client-secret",
            "demo-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sandbox LMS listening on http://127.0.0.1:")
        url = first.split()[-1]
        assert "demo-id" in process.stdout.readline()
        assert _token(url, "demo-id", "demo-secret").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_public_routes_are_served_without_a_bearer_token(make_sandbox: Any) -> None:
    def echo(db: Any, req: ApiRequest) -> ApiResponse:
        body = req.body.decode() if isinstance(req.body, bytes) else req.body
        return ApiResponse(200, {"who": req.params["name"], "body": body})

    sandbox = make_sandbox(public_routes=[route("POST", "/api/sso/echo/{name}", echo)])
    form = requests.post(f"{sandbox.url}/api/sso/echo/acme", data={"SAMLResponse": "x"}, timeout=5)
    assert (form.status_code, form.json()) == (200, {"who": "acme", "body": "SAMLResponse=x"})
    api = requests.post(f"{sandbox.url}/api/v2/groups", data="not json", timeout=5)
    assert api.status_code == 400 and api.json()["error"]["code"] == "bodyInvalid"
