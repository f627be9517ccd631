"""The sandbox portal's catalog pull: what Cornerstone's Online Content connector does daily.

It GETs a provider's course-list feed with ``If-Modified-Since`` (the ``Last-Modified`` of
its previous successful pull), authenticating with HTTP Basic or with OAuth2 client
credentials (a bearer token from the provider's token URL), and ingests the JSON array: new
IDs are created, a course is updated only when its ``LastModifiedUTC`` moves, and
``IsActive: false`` retires it. Items that break the documented shape are counted as
rejected, by ID only.

It belongs to the sandbox: it never talks to anything but the feed it was given.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import requests
from pydantic import SecretStr

from connectors.cornerstone.sandbox_store import SandboxStore

REQUIRED_FIELDS = ("ID", "Title", "URL", "IsActive", "LastModifiedUTC")
MAX_ID = 50


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: SecretStr


@dataclass(frozen=True)
class OAuthCredentials:
    token_url: str
    client_id: str
    client_secret: SecretStr


@dataclass
class PollResult:
    status: int
    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def item_problem(item: Any) -> str | None:
    """Why an item cannot be ingested, or None when it follows the documented shape."""
    if not isinstance(item, dict):
        return "not an object"
    missing = [name for name in REQUIRED_FIELDS if name not in item]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(item["ID"], str) or not 0 < len(item["ID"]) <= MAX_ID:
        return "ID must be 1 to 50 characters"
    if not isinstance(item["IsActive"], bool):
        return "IsActive must be true or false"
    try:
        datetime.strptime(item["LastModifiedUTC"], "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return "LastModifiedUTC must be YYYY-MM-DDTHH:MM:SSZ"
    return None


class CatalogPoller:
    """Pulls one feed into a sandbox store; ``poll()`` is one daily pull."""

    def __init__(
        self,
        store: SandboxStore,
        feed_url: str,
        credentials: BasicCredentials | OAuthCredentials,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.store, self.feed_url, self.credentials, self.timeout = store, feed_url, credentials, timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"CatalogPoller(feed_url={self.feed_url!r})"

    def close(self) -> None:
        self._session.close()

    def _auth_headers(self) -> dict[str, str]:
        if isinstance(self.credentials, BasicCredentials):
            pair = f"{self.credentials.username}:{self.credentials.password.get_secret_value()}"
            return {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}
        response = self._session.post(
            self.credentials.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret.get_secret_value(),
            },
            timeout=self.timeout,
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def poll(self) -> PollResult:
        headers = self._auth_headers()
        since = self.store.feed_last_modified(self.feed_url)
        if since:
            headers["If-Modified-Since"] = since
        response = self._session.get(self.feed_url, headers=headers, timeout=self.timeout)
        result = PollResult(response.status_code)
        if response.status_code == 304:
            return result
        response.raise_for_status()
        items = response.json()
        if not isinstance(items, list):
            raise ValueError("the course feed must be a JSON array")
        for item in items:
            problem = item_problem(item)
            if problem is not None:
                result.rejected.append(f"{item.get('ID', '?') if isinstance(item, dict) else '?'}: {problem}")
                continue
            outcome = self.store.ingest(item, self.feed_url).outcome
            setattr(result, outcome, getattr(result, outcome) + 1)
        if response.headers.get("Last-Modified"):
            self.store.set_feed_last_modified(self.feed_url, response.headers["Last-Modified"])
        return result
