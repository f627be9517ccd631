"""The LMS client's HTTP layer: session, OAuth2 token, pacing, retries, pagination, counters.

Every request goes: pace (client-side limiter) -> send with the cached bearer token and the
API version header -> on 401 ``invalid_token`` refresh the token once and resend -> map the
answer to a typed error. Transient errors (429, 5xx, timeouts, resets) are retried with
tenacity: exponential backoff with jitter, capped, honouring ``Retry-After`` when the server
gives one, each retry logged. A write whose answer was lost may have happened: callers pass
``already_done`` to check before re-sending, so a retry never doubles it.

This module must never log or raise with a token, the client secret, a request body or a
query string (they hold employees' e-mails), and never let a requests exception escape.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connectors.lms.errors import error_from_exception, error_from_response
from connectors.lms.ratelimit import RateLimiter, RateLimits
from engine.errors import LmsyncError, RateLimitedError, TargetAuthError, TargetError

API_VERSION = "v2.0"
TOKEN_PATH = "/api/v2/oauth2/token"
#: Refresh a token this long before the LMS says it expires, so no call races its expiry.
TOKEN_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``initial * 2**(n-1)`` capped at ``maximum`` seconds,
    then a random share in [50 %, 100 %] of it so concurrent clients do not retry in step."""

    initial: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(retry_after, self.maximum)
        base: float = min(self.maximum, self.initial * 2.0 ** max(attempt - 1, 0))
        return base * (0.5 + rng.random() / 2)


@dataclass
class RequestCounters:
    """What the client sent and met, for tests and benchmarks."""

    sent: Counter[str] = field(default_factory=Counter)  # API requests by method (retries included)
    rate_limited: int = 0  # 429 answers received
    retries: int = 0
    token_requests: int = 0

    @property
    def writes(self) -> int:
        return sum(n for m, n in self.sent.items() if m != "GET")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    next_url: str | None = None


class LmsTransport:
    def __init__(
        self,
        base_url: str,
        client_id: SecretStr,
        client_secret: SecretStr,
        *,
        timeout: float,
        max_retries: int,
        rate_limits: RateLimits,
        backoff: Backoff,
        logger: logging.Logger,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.limiter = RateLimiter(rate_limits)
        self.log = logger
        self.counters = RequestCounters()
        self._rng = random.Random()
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._session = requests.Session()
        # No hidden retries below ours: urllib3 would resend writes without asking.
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    # --- token ----------------------------------------------------------------------------------

    def _bearer(self, *, force: bool = False) -> str:
        with self._token_lock:
            if force or self._token is None or time.monotonic() >= self._token_expires:
                self._token, lifetime = self._fetch_token()
                self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        body = {
            "grant_type": "client_credentials",
            "client_id": self._client_id.get_secret_value(),
            "client_secret": self._client_secret.get_secret_value(),
        }
        with self._counter_lock:
            self.counters.token_requests += 1
        try:
            response = self._session.post(self.base_url + TOKEN_PATH, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise error_from_exception("POST", TOKEN_PATH, exc, self.timeout) from exc
        if response.status_code != 200:
            error = error_from_response("POST", TOKEN_PATH, response)
            if response.status_code in (400, 401):
                raise TargetAuthError(
                    "LMS refused the client credentials (invalid_client)",
                    status=response.status_code,
                    code="invalid_client",
                    hint="check the environment's client_id/client_secret references",
                )
            raise error
        try:
            data = response.json()
            return str(data["access_token"]), float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError("LMS token answer is not the documented JSON", status=200) from exc

    # --- one request ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        *,
        raw: bool = False,
    ) -> Reply:
        refreshed = False
        while True:
            pacer = self.limiter.pacer(method)
            pacer.acquire()
            headers = {"Authorization": f"Bearer {self._bearer()}", "360-api-version": API_VERSION}
            with self._counter_lock:
                self.counters.sent[method] += 1
            try:
                response = self._session.request(
                    method, url, params=params, json=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise error_from_exception(method, path, exc, self.timeout) from exc
            if response.status_code == 401 and not refreshed and _error_code(response) == "invalid_token":
                refreshed = True  # once: a second 401 is a real authorisation problem
                self._bearer(force=True)
                continue
            if response.status_code >= 400:
                error = error_from_response(method, path, response)
                if isinstance(error, RateLimitedError):
                    with self._counter_lock:
                        self.counters.rate_limited += 1
                    if error.retry_after is not None:
                        pacer.hold(error.retry_after)
                raise error
            if raw:  # the caller decodes the bytes (``connectors.lms.pages`` reads them natively)
                return Reply(
                    response.status_code,
                    response.content,
                    response.headers,
                    response.links.get("next", {}).get("url"),
                )
            try:
                data = response.json() if response.content else None
            except ValueError as exc:
                raise TargetError(
                    f"LMS {method} {path}: answer is not JSON", status=response.status_code
                ) from exc
            return Reply(
                response.status_code, data, response.headers, response.links.get("next", {}).get("url")
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        url: str | None = None,
        already_done: Callable[[], Reply | None] | None = None,
        raw: bool = False,
    ) -> Reply:
        """Send with retries; ``already_done`` (checked before every re-send of a write whose
        previous attempt may have taken effect) returns the reply to use instead, if any;
        ``raw``: the reply's body is the answer's bytes, not decoded."""
        target = url or self.base_url + path
        for attempt in Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            before_sleep=lambda state: self._log_retry(method, path, state),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1 and already_done is not None:
                    done = already_done()
                    if done is not None:
                        return done
                return self._send(method, target, path, params, json, raw=raw)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a listing, following ``Link: rel="next"`` until the last page."""
        for reply in self._replies(path, params, raw=False):
            yield from reply.body or []

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[bytes]:
        """Each page of a listing as the bytes the API sent (a JSON array), in order: for a
        reader that decodes a big listing faster than ``json`` does, item by item."""
        for reply in self._replies(path, params, raw=True):
            yield reply.body

    def _replies(self, path: str, params: Mapping[str, Any] | None, *, raw: bool) -> Iterator[Reply]:
        reply = self.request("GET", path, params=params, raw=raw)
        while True:
            yield reply
            if not reply.next_url:
                return
            reply = self.request("GET", urlsplit(reply.next_url).path, url=reply.next_url, raw=raw)

    # --- retry policy ---------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, TargetError) else None
        return self.backoff.delay(state.attempt_number, retry_after, self._rng)

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        with self._counter_lock:
            self.counters.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "LMS %s %s failed (%s); retry %d/%d in %.2f s",
            method,
            path,
            exc,
            state.attempt_number,
            self.max_retries,
            delay,
        )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, LmsyncError) and exc.transient


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
