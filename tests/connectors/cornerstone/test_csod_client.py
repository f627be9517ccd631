"""The Cornerstone client against the sandbox portal over real HTTP, and its error table."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypedDict, Unpack

import pytest
import requests
from pydantic import SecretStr

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.errors import error_for_status
from connectors.cornerstone.pacing import ThrottlePacer
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.errors import (
    RateLimitedError,
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)

pytestmark = pytest.mark.integration

ALL_SCOPES = "employee:read transcript:update learningassignment:read learningassignment:update"


class ClientOptions(TypedDict, total=False):
    """The CornerstoneClient keywords these tests vary; the rest keep the client's defaults."""

    backoff_seconds: float
    max_attempts: int
    pacer: ThrottlePacer
    sleep: Callable[[float], None]


def portal_client(
    sandbox: CornerstoneSandbox, *, scope: str = ALL_SCOPES, **options: Unpack[ClientOptions]
) -> CornerstoneClient:
    sandbox.store.add_client("lmsync", "s3cret-value", scope)
    options.setdefault("backoff_seconds", 0.01)
    return CornerstoneClient(
        sandbox.url, SecretStr("lmsync"), SecretStr("s3cret-value"), scope=scope, **options
    )


def seed_lo(sandbox: CornerstoneSandbox, lo_id: str = "c1") -> None:
    sandbox.store.ingest(
        {
            "ID": lo_id,
            "Title": "Course",
            "URL": "https://x/",
            "IsActive": True,
            "LastModifiedUTC": "2024-05-01T00:00:00Z",
        }
    )


@pytest.mark.parametrize(
    ("status", "error_type", "transient"),
    [
        (400, TargetConflictError, False),
        (401, TargetAuthError, False),
        (403, TargetAuthError, False),
        (404, TargetNotFoundError, False),
        (409, TargetConflictError, False),
        (418, TargetError, False),
        (429, RateLimitedError, True),
        (500, TargetUnavailableError, True),
        (503, TargetUnavailableError, True),
    ],
)
def test_status_maps_to_error_type(status: int, error_type: type[TargetError], transient: bool) -> None:
    error = error_for_status(status, call="GET employees", body={"error": {"code": str(status)}})
    assert type(error) is error_type
    assert error.transient is transient
    assert error.status == status
    assert "GET employees" in str(error)


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), ("0.5", 0.5), ("junk", None), (None, None)])
def test_retry_after_header(value: str | None, seconds: float | None) -> None:
    headers = {"Retry-After": value} if value is not None else {}
    error = error_for_status(429, call="GET employees", headers=headers)
    assert error.retry_after == seconds


def test_employee_lookup_and_token_cached(cornerstone_sandbox: CornerstoneSandbox) -> None:
    guid = cornerstone_sandbox.store.add_employee("E1")
    client = portal_client(cornerstone_sandbox)
    assert client.employee_guid("E1") == guid
    assert client.employee_guid("nobody") is None
    assert client.calls == 2
    assert "s3cret" not in repr(client)
    client.close()


def test_expired_token_is_renewed_once(cornerstone_sandbox: CornerstoneSandbox) -> None:
    cornerstone_sandbox.store.add_employee("E1")
    client = portal_client(cornerstone_sandbox)
    client.employee_guid("E1")
    cornerstone_sandbox.store.expire_tokens()
    assert client.employee_guid("E1") is not None
    statuses = [c["status"] for c in cornerstone_sandbox.store.calls("/services/api/x/users/v2/employees")]
    assert statuses == [200, 401, 200]
    client.close()


def test_wrong_secret_is_an_auth_error_without_the_secret(cornerstone_sandbox: CornerstoneSandbox) -> None:
    cornerstone_sandbox.store.add_client("lmsync", "right", ALL_SCOPES)
    client = CornerstoneClient(cornerstone_sandbox.url, SecretStr("lmsync"), SecretStr("wrong-secret"))
    with pytest.raises(TargetAuthError) as info:
        client.employee_guid("E1")
    assert "wrong-secret" not in str(info.value)
    client.close()


def test_missing_scope_is_refused(cornerstone_sandbox: CornerstoneSandbox) -> None:
    client = portal_client(cornerstone_sandbox, scope="employee:read")
    with pytest.raises(TargetAuthError, match="scopes"):
        client.complete_transcript("g", "c1")
    client.close()


def test_complete_transcript_is_idempotent_and_unknown_lo_is_not_found(
    cornerstone_sandbox: CornerstoneSandbox,
) -> None:
    guid = cornerstone_sandbox.store.add_employee("E1")
    seed_lo(cornerstone_sandbox)
    client = portal_client(cornerstone_sandbox)
    client.complete_transcript(guid, "c1")
    client.complete_transcript(guid, "c1")
    [row] = cornerstone_sandbox.store.transcripts()
    assert (row["status"], row["completions"]) == ("Completed", 2)
    with pytest.raises(TargetNotFoundError):
        client.complete_transcript(guid, "unknown")
    client.close()


def test_completed_assignment_is_never_downgraded_by_the_portal(
    cornerstone_sandbox: CornerstoneSandbox,
) -> None:
    guid = cornerstone_sandbox.store.add_employee("E1")
    seed_lo(cornerstone_sandbox)
    assignment = cornerstone_sandbox.store.add_assignment(guid, "c1", "Completed")
    client = portal_client(cornerstone_sandbox)
    [found] = client.learning_assignments(guid, "c1")
    assert (found.id, found.status) == (assignment, "Completed")
    with pytest.raises(TargetConflictError):
        client.update_learning_assignment(assignment, "In Progress", datetime(2024, 5, 1, tzinfo=UTC))
    client.close()


def test_throttled_calls_are_slowed_down_not_failed() -> None:
    with CornerstoneSandbox(rate_limit=5, window_seconds=0.4) as sandbox:
        sandbox.store.add_employee("E1")
        pacer = ThrottlePacer(window_seconds=0.4)
        client = portal_client(sandbox, pacer=pacer)
        started = time.monotonic()
        results = [client.employee_guid("E1") for _ in range(15)]
        elapsed = time.monotonic() - started
        assert all(results)  # every call succeeded
        assert pacer.waits > 0  # the pacer spaced calls out as the budget ran low
        assert elapsed >= 0.4  # 15 calls at 5 per 0.4 s cannot fit in one window
        calls = sandbox.store.calls("/services/api/x/users/v2/employees")
        assert sum(1 for c in calls if c["status"] == 200) == 15
        # Pacing keeps 429s rare: at most a few per window boundary, never a failure.
        assert client.rate_limited <= 3
        client.close()


def test_429_answer_has_documented_body_and_headers() -> None:
    with CornerstoneSandbox(rate_limit=1, window_seconds=60) as sandbox:
        url = sandbox.url + "/services/api/x/users/v2/employees"
        requests.get(url, timeout=10)
        response = requests.get(url, timeout=10)
        assert response.status_code == 429
        body = response.json()
        assert body["status"] == "429"
        assert body["error"]["message"] == "CSOD Too many requests."
        assert body["error"]["code"] == "429"
        assert response.headers["x-csod-throttling-rate-limit-urilevel"] == "1"
        assert response.headers["x-csod-requests-remaining-urilevel"] == "0"
        assert float(response.headers["Retry-After"]) > 0


def test_persistent_429_ends_as_rate_limited() -> None:
    with CornerstoneSandbox(rate_limit=1, window_seconds=60) as sandbox:
        sleeps: list[float] = []
        client = portal_client(sandbox, max_attempts=3, sleep=sleeps.append)
        client.employee_guid("E1")
        with pytest.raises(RateLimitedError):
            client.employee_guid("E1")
        assert client.rate_limited == 3
        assert sleeps and max(sleeps) > 1  # it waited what the portal asked (recorded, not slept)
        client.close()


def test_admin_seeding_and_form_token_over_http(cornerstone_sandbox: CornerstoneSandbox) -> None:
    url = cornerstone_sandbox.url
    # curl -d sends a form content type even for a JSON body: the admin routes read JSON first.
    seeded = requests.post(
        url + "/admin/employees",
        data='[{"externalId": "E1"}]',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert seeded.status_code == 201 and "E1" in seeded.json()
    cornerstone_sandbox.store.add_client("form-client", "form-secret", "employee:read")
    token = requests.post(
        url + "/services/api/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "form-client", "client_secret": "form-secret"},
        timeout=10,
    ).json()
    assert token["scope"] == "employee:read" and token["token_type"] == "Bearer"
    answer = requests.get(
        url + "/services/api/x/users/v2/employees",
        params={"externalId": "E1"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert set(answer) == {"timestamp", "nextpagetoken", "count", "data"}
    assert answer["count"] == 1 and answer["data"][0]["externalId"] == "E1"
