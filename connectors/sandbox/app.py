"""The sandbox's request pipeline, independent of sockets: auth, limits, faults, dispatch, log.

``SandboxApp.handle`` takes a method, a path, headers and a body and returns what to answer
(or that the connection must be dropped). Order matters and mirrors the real API: unknown
route -> 404; missing/expired token -> 401 ``invalid_token``; over the company's limit ->
429 ``tooManyRequests``; then injected faults; then the handler. This module must never log
a token, a client secret or a request body (bodies hold employees' personal data).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from connectors.sandbox import groups, people, records
from connectors.sandbox.admin_api import handle_admin
from connectors.sandbox.db import Database
from connectors.sandbox.policy import CompanyLimiter, Fault, FaultDice, Faults, RateLimits
from connectors.sandbox.protocol import (
    DEFAULT_PAGE_SIZES,
    ApiError,
    ApiRequest,
    ApiResponse,
    Outcome,
    Route,
    json_outcome,
)

API_VERSION = "v2.0"
TOKEN_PATH = "/api/v2/oauth2/token"
ADMIN_PREFIX = "/_sandbox/"
ROUTES: list[Route] = [*people.ROUTES, *groups.ROUTES, *records.ROUTES]


class SandboxApp:
    """Everything one sandbox company is: its database, credentials, limits and faults."""

    def __init__(
        self,
        db: Database,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        admin_token: str | None = None,
        rate_limits: RateLimits | None = None,
        faults: Faults | None = None,
        token_ttl: int = 3600,
        public_routes: Sequence[Route] = (),
    ) -> None:
        self.db = db
        # Routes that authenticate by their own means (e.g. SSO logins carry a signed token):
        # no bearer token, no API version header, no rate limit, no faults.
        self.public_routes = list(public_routes)
        # Credentials are created once per database and kept, so a restarted sandbox accepts
        # the same client; explicit ones (a demo passing them via env) replace the stored ones.
        self.client_id = self._credential("client_id", client_id, lambda: "sandbox-" + secrets.token_hex(8))
        self.client_secret = self._credential(
            "client_secret", client_secret, lambda: secrets.token_urlsafe(24)
        )
        self.admin_token = self._credential("admin_token", admin_token, lambda: secrets.token_urlsafe(18))
        self.platform_group_id = groups.platform_group_id(db)
        self.limiter = CompanyLimiter(rate_limits or RateLimits())
        self.dice = FaultDice()
        self.dice.configure(faults or Faults())
        self.token_ttl = token_ttl
        self.page_sizes: dict[str, int] = dict(DEFAULT_PAGE_SIZES)
        self.bulk = groups.BulkWorker(db)
        self.stopping = threading.Event()
        self._tokens: dict[str, float] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._log_lock = threading.Lock()

    def _credential(self, key: str, given: str | None, make: Any) -> str:
        if given:
            self.db.set_meta(key, given)
            return given
        stored = self.db.meta(key)
        if stored:
            return stored
        value = str(make())
        self.db.set_meta(key, value)
        return value

    # --- request log (method, path, status, time) for tests ----------------------------------

    def _record(self, method: str, path: str, query: str, status: int | None, fault: Fault) -> None:
        entry = {"method": method, "path": path, "query": query, "status": status, "at": time.time()}
        if fault is not Fault.NONE:
            entry["fault"] = fault.value
        with self._log_lock:
            self._log.append(entry)

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def reset_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # --- tokens ---------------------------------------------------------------------------------

    def issue_token(self, body: Any) -> Outcome:
        if (
            not isinstance(body, dict)
            or body.get("grant_type") != "client_credentials"
            or not secrets.compare_digest(str(body.get("client_id", "")), self.client_id)
            or not secrets.compare_digest(str(body.get("client_secret", "")), self.client_secret)
        ):
            return json_outcome(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.token_ttl
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (time.time(),))
            conn.execute("INSERT INTO tokens (token, expires_at) VALUES (?, ?)", (token, expires))
        self._tokens[token] = expires
        return json_outcome(
            200, {"token_type": "Bearer", "access_token": token, "expires_in": self.token_ttl}
        )

    def expire_tokens(self) -> None:
        """Admin: every issued token stops working now (tests of refresh on 401)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM tokens")
        self._tokens.clear()

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        expires = self._tokens.get(token)
        if expires is None:
            with self.db.reading() as conn:
                row = conn.execute("SELECT expires_at FROM tokens WHERE token = ?", (token,)).fetchone()
            if row is None:
                return False
            expires = float(row["expires_at"])
            self._tokens[token] = expires
        return expires > time.time()

    # --- the pipeline ---------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes, base_url: str
    ) -> Outcome:
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        if path.startswith(ADMIN_PREFIX.rstrip("/")):
            return handle_admin(self, method, path, headers=headers, raw_body=raw_body)
        outcome, fault = self._api(
            method, path, query=split.query, headers=headers, raw_body=raw_body, base_url=base_url
        )
        # A public route's query is its credential (an SSO login token, which names the user):
        # the request log keeps the path only. Elsewhere a look-up by address keeps its key only.
        query = "" if _match(self.public_routes, method, path) else _loggable_query(split.query)
        self._record(method, path, query, None if outcome.drop else outcome.status, fault)
        return outcome

    def _api(
        self, method: str, path: str, *, query: str, headers: dict[str, str], raw_body: bytes, base_url: str
    ) -> tuple[Outcome, Fault]:
        try:
            body: Any = json.loads(raw_body) if raw_body else None
            is_json = True
        except ValueError:
            body, is_json = raw_body, False  # public routes may take forms (SAML posts one)
        public = _match(self.public_routes, method, path)
        if public is not None:
            return self._run(
                public, method=method, path=path, query=query, body=body, base_url=base_url
            ), Fault.NONE
        if not is_json:
            return json_outcome(400, ApiError(400, "bodyInvalid", "the body is not JSON").body()), Fault.NONE
        if method == "POST" and path == TOKEN_PATH:
            return self.issue_token(body), Fault.NONE
        matched = _match(ROUTES, method, path)
        if matched is None:
            return json_outcome(
                404, ApiError(404, "routeNotFound", f"no route {method} {path}").body()
            ), Fault.NONE
        if not self._authorized(headers.get("authorization")):
            return json_outcome(401, {"error": "invalid_token"}), Fault.NONE
        if headers.get("360-api-version") != API_VERSION:
            error = ApiError(400, "apiVersionInvalid", f"send the header 360-api-version: {API_VERSION}")
            return json_outcome(400, error.body()), Fault.NONE
        if not self.limiter.allow(method):
            return json_outcome(429, {"error": "tooManyRequests"}), Fault.NONE
        fault = self.dice.draw()
        if fault is Fault.RATE_429:
            extra = (
                {}
                if self.dice.faults.retry_after is None
                else {"Retry-After": str(self.dice.faults.retry_after)}
            )
            return json_outcome(429, {"error": "tooManyRequests"}, extra), fault
        if fault is Fault.ERROR_5XX_BEFORE:
            return json_outcome(503, {"error": {"code": "serviceUnavailable", "message": "injected"}}), fault
        if fault is Fault.DROP_BEFORE:
            return Outcome(0, drop=True), fault
        outcome = self._run(matched, method=method, path=path, query=query, body=body, base_url=base_url)
        if outcome.status == 202:
            self.bulk.notify()
        if outcome.status >= 400:
            return outcome, fault
        if fault is Fault.ERROR_5XX_AFTER:
            return json_outcome(502, {"error": {"code": "badGateway", "message": "injected"}}), fault
        if fault is Fault.DROP_AFTER:
            return Outcome(0, drop=True), fault
        if fault is Fault.SLOW:
            outcome.delay = self.dice.faults.slow_seconds
        return outcome, fault

    def _run(
        self,
        matched: tuple[Route, dict[str, str]],
        *,
        method: str,
        path: str,
        query: str,
        body: Any,
        base_url: str,
    ) -> Outcome:
        route, params = matched
        request = ApiRequest(method, path, params, parse_qs(query), body, base_url, self.page_sizes)
        try:
            response: ApiResponse = route.handler(self.db, request)
        except ApiError as exc:
            return json_outcome(exc.status, exc.body())
        return json_outcome(response.status, response.body, response.headers)


def _loggable_query(query: str) -> str:
    """The query without personal data: a ``mail`` value (or any value holding an address)
    becomes ``<masked>``; cursors, filters and flags stay as sent."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(key == "mail" or "@" in value for key, value in pairs):
        return query
    return urlencode(
        [(key, "<masked>" if key == "mail" or "@" in value else value) for key, value in pairs], safe="<>"
    )


def _match(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if route.method == method:
            m = route.pattern.match(path)
            if m:
                return route, m.groupdict()
    return None
