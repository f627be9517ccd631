"""Pure parts of the client: error mapping, Retry-After, backoff, pacing. No server needed."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests

from connectors.lms.errors import error_from_exception, error_from_response, mask_mails, retry_after_seconds
from connectors.lms.ratelimit import Pacer, RateLimiter, RateLimits
from connectors.lms.transport import Backoff
from connectors.sandbox.policy import Fault, FaultDice, Faults
from engine.errors import (
    RateLimitedError,
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)


def _response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"" if body is None else json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "body", "error_type", "code", "transient"),
    [
        (429, {"error": "tooManyRequests"}, RateLimitedError, "tooManyRequests", True),
        (500, None, TargetUnavailableError, None, True),
        (
            503,
            {"error": {"code": "serviceUnavailable", "message": "down"}},
            TargetUnavailableError,
            "serviceUnavailable",
            True,
        ),
        (401, {"error": "invalid_token"}, TargetAuthError, "invalid_token", False),
        (403, {"error": {"code": "forbidden", "message": "no"}}, TargetAuthError, "forbidden", False),
        (
            404,
            {"error": {"code": "userNotFound", "message": "x"}},
            TargetNotFoundError,
            "userNotFound",
            False,
        ),
        (
            400,
            {"error": {"code": "mailAlreadyUsed", "message": "x"}},
            TargetConflictError,
            "mailAlreadyUsed",
            False,
        ),
        (409, {"error": {"code": "conflict", "message": "x"}}, TargetConflictError, "conflict", False),
        (400, "not an object", TargetError, None, False),
        (422, {"error": {"code": "weird", "message": "x"}}, TargetError, "weird", False),
    ],
)
def test_status_maps_to_error_type(
    status: int, body: Any, error_type: type[TargetError], code: str | None, transient: bool
) -> None:
    error = error_from_response("POST", "/api/v2/users", _response(status, body))
    assert type(error) is error_type
    assert (error.status, error.code, error.transient) == (status, code, transient)
    assert str(error).startswith(f"LMS POST /api/v2/users: HTTP {status}")


def test_server_message_is_kept_but_e_mails_are_masked() -> None:
    body = {"error": {"code": "mailAlreadyUsed", "message": "jane.doe@acme.example is used"}}
    error = error_from_response("POST", "/api/v2/users", _response(400, body))
    assert "jane.doe" not in str(error) and "<e-mail> is used" in str(error)
    assert "link or rename" in str(error)  # the hint for the SA
    assert mask_mails("a@b.c and x@y.z") == "<e-mail> and <e-mail>"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0.5", 0.5),
        ("-2", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
    headers = {} if header is None else {"Retry-After": header}
    error = error_from_response("GET", "/api/v2/users", _response(429, {"error": "tooManyRequests"}, headers))
    assert isinstance(error, RateLimitedError) and error.retry_after == seconds


@pytest.mark.parametrize(
    ("exc", "code"),
    [(requests.ReadTimeout(), "timeout"), (requests.ConnectionError(), "connectionError")],
)
def test_network_failures_are_transient(exc: requests.RequestException, code: str) -> None:
    error = error_from_exception("GET", "/api/v2/users", exc, 30)
    assert isinstance(error, TargetUnavailableError) and error.code == code and error.transient


def test_other_request_failures_are_terminal() -> None:
    error = error_from_exception("GET", "/x", requests.exceptions.InvalidURL(), 30)
    assert not error.transient and type(error) is TargetError


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    backoff, rng = Backoff(initial=0.5, maximum=4.0), random.Random(7)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [backoff.delay(attempt, None, rng) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays)
        assert len(set(delays)) > 1
    assert backoff.delay(3, 1.5, rng) == 1.5  # Retry-After wins
    assert backoff.delay(3, 60.0, rng) == 4.0  # but within the cap


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_pacer_spaces_requests_evenly_at_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(21):
        pacer.acquire()
        sent.append(clock.now)
    assert sent[-1] - sent[0] == pytest.approx(2.0)  # 20 gaps of 0.1 s: exactly the limit
    pacer.hold(5.0)
    pacer.acquire()
    assert clock.now == pytest.approx(sent[-1] + 5.0)


def test_pacer_unlimited_and_method_classes() -> None:
    assert Pacer(None).acquire() == 0.0
    limiter = RateLimiter(RateLimits(get=50, write=10))
    assert limiter.pacer("get") is limiter.get
    assert all(limiter.pacer(m) is limiter.write for m in ("POST", "PATCH", "PUT", "DELETE"))


def test_fault_dice_storms_and_shares() -> None:
    dice = FaultDice()
    dice.configure(Faults(rate_429=1.0, storm_length=3, seed=1))
    assert [dice.draw() for _ in range(3)] == [Fault.RATE_429] * 3
    dice.configure(Faults(error_5xx=0.2, seed=42))
    draws = [dice.draw() for _ in range(5000)]
    share = sum(d in (Fault.ERROR_5XX_AFTER, Fault.ERROR_5XX_BEFORE) for d in draws) / len(draws)
    assert 0.17 < share < 0.23 and Fault.ERROR_5XX_AFTER in draws and Fault.ERROR_5XX_BEFORE in draws
