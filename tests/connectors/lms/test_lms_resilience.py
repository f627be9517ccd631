"""The client under stress, against the sandbox over real HTTP: token expiry, pagination,
rate limits, Retry-After, timeouts, and a 1,000-write workload under injected faults."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from connectors.lms import Backoff, RateLimits
from connectors.sandbox import Faults
from connectors.sandbox import RateLimits as ServerRateLimits
from engine.errors import TargetAuthError, TargetUnavailableError

pytestmark = pytest.mark.integration


def clear_fault_after_first(sandbox: Any, fault: str, setting: str) -> None:
    """Inject exactly one fault: a background thread turns ``setting`` off as soon as the
    request log shows one ``fault``."""

    def clear() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(r.get("fault") == fault for r in sandbox.admin.requests()):
                sandbox.admin.configure(faults={setting: 0.0})
                return
            time.sleep(0.01)

    threading.Thread(target=clear, daemon=True).start()


def test_expired_token_is_refreshed_once(sandbox: Any) -> None:
    client = sandbox.client
    client.get_group(sandbox.platform_group_id)
    sandbox.admin.expire_tokens()
    client.get_group(sandbox.platform_group_id)
    assert client.counters.token_requests == 2
    statuses = [r["status"] for r in sandbox.admin.requests() if r["method"] == "GET"]
    assert statuses == [200, 401, 200]


def test_token_that_keeps_failing_is_an_auth_error(sandbox: Any) -> None:
    sandbox.admin.configure(token_ttl=-1)  # every token is born expired
    with pytest.raises(TargetAuthError) as caught:
        sandbox.client.get_group(sandbox.platform_group_id)
    assert caught.value.status == 401 and caught.value.code == "invalid_token"


@pytest.mark.parametrize(("count", "page", "pages"), [(0, 3, 1), (3, 3, 1), (4, 3, 2), (10, 3, 4)])
def test_pagination_follows_link_across_pages(sandbox: Any, count: int, page: int, pages: int) -> None:
    sandbox.admin.configure(page_sizes={"users": page})
    seeded = sandbox.admin.seed(users=[{"mail": f"u{i}@example.com"} for i in range(count)])
    sandbox.admin.reset_requests()
    assert [u["_id"] for u in sandbox.client.iter_users()] == [u["_id"] for u in seeded["users"]]
    listing = [r for r in sandbox.admin.requests() if r["path"] == "/api/v2/users"]
    assert len(listing) == pages
    assert all("next=" in r["query"] for r in listing[1:])


def test_pagination_keeps_filters_on_next_pages(sandbox: Any) -> None:
    sandbox.admin.configure(page_sizes={"users": 2})
    sandbox.admin.seed(
        users=[{"mail": f"u{i}@example.com", "status": "deleted" if i % 2 else "active"} for i in range(9)]
    )
    assert len(list(sandbox.client.iter_users(status="deleted"))) == 4


def test_client_paces_writes_at_the_server_limit(sandbox: Any) -> None:
    sandbox.admin.configure(rate_limits={"enabled": True, "write": 40, "get": 200})
    client = sandbox.new_client(rate_limits=RateLimits(get=200, write=40))
    started = time.monotonic()
    for i in range(80):
        client.create_custom_field(f"F{i}")
    elapsed = time.monotonic() - started
    assert client.counters.rate_limited == 0
    assert 80 / 40 * 0.9 <= elapsed + 1 / 40 <= 80 / 40 * 1.5  # at the limit, not far below it


def test_unpaced_client_bounces_off_the_limit_and_still_completes(sandbox: Any) -> None:
    sandbox.admin.configure(rate_limits={"enabled": True, "write": 20})
    client = sandbox.new_client(max_retries=20)  # no client-side limits
    for i in range(40):
        client.create_custom_field(f"F{i}")
    assert client.counters.rate_limited > 0
    assert len(sandbox.admin.state()["customFields"]) == 40


def test_retry_after_is_honoured_and_retries_are_logged(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = sandbox.new_client(backoff=Backoff(initial=0.001, maximum=5))
    client.get_group(sandbox.platform_group_id)  # the token is fetched before the storm
    sandbox.admin.configure(faults={"rate_429": 1.0, "storm_length": 1, "retry_after": 1})
    clear_fault_after_first(sandbox, "429", "rate_429")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="lmsync.lms"):
        client.get_group(sandbox.platform_group_id)
    assert client.counters.rate_limited == 1
    assert time.monotonic() - started >= 1.0
    assert any("retry 1/" in r.getMessage() and "429" in r.getMessage() for r in caplog.records)
    assert all(sandbox.client_secret not in r.getMessage() for r in caplog.records)


def test_timeouts_are_transient_and_exhaust_to_target_unavailable(sandbox: Any) -> None:
    sandbox.admin.configure(faults={"slow": 1.0, "slow_seconds": 0.5})
    client = sandbox.new_client(timeout=0.1, max_retries=2)
    with pytest.raises(TargetUnavailableError) as caught:
        client.get_group(sandbox.platform_group_id)
    assert caught.value.code == "timeout" and caught.value.transient
    assert client.counters.sent["GET"] == 3


@pytest.mark.parametrize("write", ["user", "group", "custom field", "external id", "delete"])
def test_timed_out_write_is_not_doubled(sandbox: Any, write: str) -> None:
    """The write happens but its answer is late: the retry finds it instead of re-sending."""
    pg = sandbox.platform_group_id
    target = sandbox.admin.seed(users=[{"mail": "t@example.com"}])["users"][0]["_id"]
    client = sandbox.new_client(timeout=0.2, max_retries=3)
    client.get_group(pg)  # token first: only the write meets the slow answer
    sandbox.admin.configure(faults={"slow": 1.0, "slow_seconds": 0.5})
    clear_fault_after_first(sandbox, "slow", "slow")
    calls = {
        "user": lambda: client.create_user("late@example.com", pg),
        "group": lambda: client.create_group("Late", pg),
        "custom field": lambda: client.create_custom_field("Late"),
        "external id": lambda: client.create_external_id(target, "hris", "late"),
        "delete": lambda: client.delete_user(target),
    }
    calls[write]()
    assert client.counters.retries == 1
    state = sandbox.admin.state()
    assert len(state["users"]) == (2 if write == "user" else 1)
    assert [g["name"] for g in state["groups"]].count("Late") == (write == "group")
    assert len(state["customFields"]) + len(state["externalIds"]) == (
        write in ("custom field", "external id")
    )
    assert state["users"][0]["status"] == ("deleted" if write == "delete" else "active")


def test_thousand_writes_under_faults_lose_nothing_and_double_nothing(make_sandbox: Any) -> None:
    sandbox = make_sandbox(
        rate_limits=ServerRateLimits(enabled=False),
        faults=Faults(error_5xx=0.2, rate_429=0.03, storm_length=5, drop=0.03, seed=20240501),
    )
    client = sandbox.new_client(max_retries=15, timeout=5, backoff=Backoff(initial=0.002, maximum=0.03))
    pg = sandbox.platform_group_id
    field = client.create_custom_field("Site")
    groups = [client.create_group(f"Team {i}", pg) for i in range(49)]
    users = []
    for i in range(190):
        user, _ = client.create_user(f"user{i}@example.com", pg, first_name=f"U{i}")
        users.append(user)
        client.create_external_id(user["_id"], "hris", f"E{i}")
        client.update_user(user["_id"], {"job": f"Job {i}"})
        client.put_custom_values(
            user["_id"], [{"customFieldId": field["_id"], "type": "string", "value": f"S{i}"}]
        )
        client.add_role(groups[i % len(groups)]["_id"], "learner", user["_id"])
    # 1 + 49 + 190 * 5 = 1,000 logical writes.

    state = sandbox.admin.state()
    lost_answers = [
        r for r in sandbox.admin.write_requests() if r.get("fault") in ("5xx-after", "drop-after")
    ]
    assert len(lost_answers) > 50  # writes that happened while the client saw a failure
    assert client.counters.retries > 100 and client.counters.rate_limited > 0  # the faults were real
    assert sorted(u["mail"] for u in state["users"]) == sorted(f"user{i}@example.com" for i in range(190))
    assert len(state["groups"]) == 1 + 49 and len({g["name"] for g in state["groups"]}) == 50
    assert len(state["customFields"]) == 1
    assert sorted(e["value"] for e in state["externalIds"]) == sorted(f"E{i}" for i in range(190))
    by_id = {u["_id"]: u for u in state["users"]}
    for i, user in enumerate(users):
        stored = by_id[user["_id"]]
        assert (stored["job"], stored["customFields"][0]["value"]) == (f"Job {i}", f"S{i}")
    learner_roles = [r for r in state["roles"] if r["groupId"] != pg]
    assert len(learner_roles) == 190
