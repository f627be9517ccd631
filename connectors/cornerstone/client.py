"""HTTP client of a Cornerstone OnDemand portal: what the completions push needs, and no more.

OAuth2 client credentials (``POST /services/api/oauth2/token``) with the token cached until
shortly before it expires and refreshed once on a 401; every call paced from the portal's
throttling headers (``pacing.ThrottlePacer``) and retried with tenacity when it failed
transiently (429 after ``Retry-After``, 5xx, timeouts). Failures leave as ``TargetError``
subclasses (``errors.py``). It implements ``engine.cornerstone.ports.CornerstoneTarget``.

It must never log or put in a repr or message the client secret, the access token, or an
employee's personal data (answers are read for ids and statuses only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connectors.cornerstone.errors import error_for_status, network_error
from connectors.cornerstone.pacing import ThrottlePacer
from engine.config.models import CornerstoneEndpoint
from engine.config.secrets import resolve_secret
from engine.cornerstone.ports import LearningAssignment
from engine.errors import LmsyncError, RateLimitedError, TargetAuthError, TargetError

TOKEN_PATH = "/services/api/oauth2/token"
EMPLOYEES_PATH = "/services/api/x/users/v2/employees"
COMPLETE_PATH = "/services/api/v1/transcripts/complete"
ASSIGNMENTS_PATH = "/services/api/v1/LearningAssignments"

#: A token is renewed this many seconds before Cornerstone says it expires.
TOKEN_MARGIN_SECONDS = 60.0


def parse_cornerstone_time(value: Any) -> datetime | None:
    """Cornerstone dates are ISO 8601, with or without offset (naive means UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CornerstoneClient:
    """One portal, one API client identity. Thread-safe for the token and the pacing."""

    def __init__(
        self,
        url: str,
        client_id: SecretStr,
        client_secret: SecretStr,
        *,
        scope: str = "employee:read transcript:read transcript:update",
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        pacer: ThrottlePacer | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._clock = clock
        self.pacer = pacer or ThrottlePacer(sleep=sleep, clock=clock)
        self._session = session or requests.Session()
        self._token: SecretStr | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.calls = 0
        self.rate_limited = 0

    @classmethod
    def from_endpoint(
        cls,
        endpoint: CornerstoneEndpoint,
        *,
        environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        **options: Any,
    ) -> CornerstoneClient:
        """A client for a configured portal, resolving its secret references now."""

        def secret(reference: str, what: str) -> SecretStr:
            return resolve_secret(reference, environ=environ, base_dir=base_dir, what=what)

        return cls(
            endpoint.url,
            secret(endpoint.client_id, "cornerstone client_id"),
            secret(endpoint.client_secret, "cornerstone client_secret"),
            scope=endpoint.scope,
            **options,
        )

    def __repr__(self) -> str:
        return f"CornerstoneClient(url={self.url!r})"

    def close(self) -> None:
        self._session.close()

    # --- authentication -----------------------------------------------------------------------

    def _access_token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or self._token is None or self._clock() >= self._token_expires:
                self._token, lifetime = self._fetch_token()
                self._token_expires = self._clock() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
            return self._token.get_secret_value()

    def _fetch_token(self) -> tuple[SecretStr, float]:
        call = "POST oauth2/token"
        body = {
            "clientId": self._client_id.get_secret_value(),
            "clientSecret": self._client_secret.get_secret_value(),
            "grantType": "client_credentials",
            "scope": self.scope,
        }

        def attempt() -> requests.Response:
            try:
                response = self._session.post(self.url + TOKEN_PATH, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                raise network_error(call, exc) from exc
            if response.status_code >= 400:
                raise error_for_status(
                    response.status_code, call=call, headers=response.headers, body=_json_or_none(response)
                )
            return response

        response = self._retrying()(attempt)
        payload = _json_or_none(response)
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise TargetAuthError(
                f"Cornerstone {call}: the answer holds no access_token",
                status=response.status_code,
                hint="check the portal URL",
            )
        return SecretStr(payload["access_token"]), float(payload.get("expires_in") or 3600)

    # --- the request loop ---------------------------------------------------------------------

    def _retrying(self) -> Retrying:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                return exc.retry_after
            return float(min(self.backoff_seconds * 2 ** (state.attempt_number - 1), 60.0))

        return Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, LmsyncError) and exc.transient),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait,
            sleep=self._sleep,
            reraise=True,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        uri: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        """One API call: paced per ``uri`` (the route, not the full path), retried, translated."""
        call = f"{method} {uri}"
        renewed = False

        def attempt() -> Any:
            nonlocal renewed
            self.pacer.before(uri)
            token = self._access_token()
            self.calls += 1
            try:
                response = self._session.request(
                    method,
                    self.url + path,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise network_error(call, exc) from exc
            self.pacer.after(uri, response.headers)
            if response.status_code == 401 and not renewed:
                # An expired or revoked token: renew once, then let a second 401 be an error.
                renewed = True
                self._access_token(renew=True)
                return attempt()
            if response.status_code >= 400:
                error = error_for_status(
                    response.status_code, call=call, headers=response.headers, body=_json_or_none(response)
                )
                if isinstance(error, RateLimitedError):
                    self.rate_limited += 1
                    self.pacer.hold(uri, error.retry_after or self.backoff_seconds)
                    # The pacer now holds the wait; tenacity must not wait a second time.
                    error.retry_after = 0.0
                raise error
            return _json_or_none(response)

        return self._retrying()(attempt)

    # --- CornerstoneTarget --------------------------------------------------------------------

    def employee_guid(self, external_id: str) -> str | None:
        payload = self._call("GET", EMPLOYEES_PATH, uri=EMPLOYEES_PATH, params={"externalId": external_id})
        rows = payload.get("data") if isinstance(payload, dict) else None
        for row in rows or []:
            if isinstance(row, dict) and str(row.get("externalId", "")) == external_id and row.get("guid"):
                return str(row["guid"])
        return None

    def complete_transcript(self, user_guid: str, learning_object_id: str) -> None:
        self._call(
            "PATCH",
            COMPLETE_PATH,
            uri=COMPLETE_PATH,
            json={"userGuid": user_guid, "learningObjectId": learning_object_id, "ignoreWorkflow": True},
        )

    def learning_assignments(self, user_guid: str, learning_object_id: str) -> list[LearningAssignment]:
        payload = self._call(
            "GET",
            ASSIGNMENTS_PATH,
            uri=ASSIGNMENTS_PATH,
            params={"userId": user_guid, "loId": learning_object_id},
        )
        rows = payload.get("data") if isinstance(payload, dict) else payload
        assignments = []
        for row in rows or []:
            if not isinstance(row, dict) or row.get("Id") is None:
                raise TargetError(
                    "Cornerstone GET LearningAssignments: an assignment has no Id",
                    hint="the portal answered in an unexpected format",
                )
            assignments.append(
                LearningAssignment(
                    id=str(row["Id"]),
                    status=str(row.get("Status", "")),
                    last_access=parse_cornerstone_time(row.get("LastAccessDate")),
                )
            )
        return assignments

    def update_learning_assignment(self, assignment_id: str, status: str, last_access: datetime) -> None:
        stamp = last_access.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._call(
            "PATCH",
            f"{ASSIGNMENTS_PATH}/{quote(assignment_id, safe='')}",
            uri=ASSIGNMENTS_PATH + "/{id}",
            json={"Status": status, "LastAccessDate": stamp},
        )


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
