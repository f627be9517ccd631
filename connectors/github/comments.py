"""The pull request's one review comment: found by a hidden marker, updated in place.

``lmsync diff --post`` calls ``PullRequestComments.upsert``: it lists the pull request's
comments (following ``Link: rel="next"`` pages), edits the first one carrying the marker, or
creates it. Editing in place keeps one comment per pull request however many times CI runs.
The token comes from ``GITHUB_TOKEN`` (the workflow's own token, ``pull-requests: write``).

This module must never log or put the token in a message or repr, and never touch a comment
that does not carry the marker. requests' exceptions stop here, translated into the error
tree (5xx, 429 and network failures are transient and retried a few times).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import requests
from pydantic import SecretStr
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from engine.errors import (
    ConfigError,
    LmsyncError,
    RateLimitedError,
    TargetAuthError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)

DEFAULT_API_URL = "https://api.github.com"
MARKER = "<!-- lmsync-diff -->"
_MAX_PAGES = 100  # 10,000 comments: far beyond any real pull request, and a bound on a bad Link loop


class CommentError(TargetError):
    """GitHub refused or failed a comment call."""


class CommentUnavailable(CommentError, TargetUnavailableError):  # noqa: N818 -- the tree's naming
    """5xx or a dropped connection: worth another try."""


class CommentRateLimitedError(CommentUnavailable, RateLimitedError):
    """GitHub's secondary rate limit (403/429 with Retry-After)."""


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str

    def __repr__(self) -> str:
        return f"Comment(id={self.id})"


def token_from_env(name: str = "GITHUB_TOKEN") -> SecretStr:
    """The API token from the environment; ConfigError naming the variable when unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set; posting the review comment needs a GitHub token",
            hint="in a workflow, pass `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` with "
            "`permissions: pull-requests: write`",
        )
    return SecretStr(value)


def _error(response: requests.Response, what: str) -> LmsyncError:
    status = response.status_code
    retry_after = response.headers.get("Retry-After")
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    message = f"GitHub answered {status} to {what}"
    if status == 429 or (
        status == 403 and (wait is not None or response.headers.get("X-RateLimit-Remaining") == "0")
    ):
        return CommentRateLimitedError(
            message, status=status, retry_after=wait, hint="GitHub rate limit; retried"
        )
    if status in (401, 403):
        return TargetAuthError(
            message,
            status=status,
            hint="the token lacks `pull-requests: write` (or `issues: write`), or the comment is not ours",
        )
    if status == 404:
        return TargetNotFoundError(
            message, status=status, hint="check the repository name and pull request number"
        )
    if status >= 500:
        return CommentUnavailable(message, status=status)
    return CommentError(message, status=status)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, LmsyncError) and exc.transient


class PullRequestComments:
    """The comments of one pull request (``owner/name`` #``number``) through the REST API."""

    def __init__(
        self,
        repository: str,
        number: int,
        token: SecretStr,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        retry_wait: float = 1.0,
    ) -> None:
        if repository.count("/") != 1:
            raise ConfigError(f"repository {repository!r} is not `owner/name`")
        self.repository = repository
        self.number = number
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._retry_wait = retry_wait

    def __repr__(self) -> str:
        return f"PullRequestComments({self.repository}#{self.number})"

    def _call(
        self, method: str, url: str, what: str, json: dict[str, Any] | None = None
    ) -> requests.Response:
        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=self._retry_wait, max=30 * self._retry_wait),
            reraise=True,
        )
        def attempt() -> requests.Response:
            headers = {
                "Authorization": f"Bearer {self._token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
            try:
                response = self._session.request(
                    method, url, headers=headers, json=json, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise CommentUnavailable(f"cannot reach GitHub for {what}: {type(exc).__name__}") from exc
            if response.status_code >= 400:
                raise _error(response, what)
            return response

        return attempt()

    def _comments_url(self) -> str:
        return f"{self.api_url}/repos/{self.repository}/issues/{self.number}/comments"

    def list(self) -> Iterator[Comment]:
        """Every comment, oldest first, page after page."""
        url: str | None = f"{self._comments_url()}?per_page=100"
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            response = self._call("GET", url, f"listing the comments of #{self.number}")
            for item in response.json():
                yield Comment(int(item["id"]), str(item.get("body") or ""), str(item.get("html_url", "")))
            url = response.links.get("next", {}).get("url")

    def find(self, marker: str = MARKER) -> Comment | None:
        """The first comment carrying ``marker``."""
        return next((c for c in self.list() if marker in c.body), None)

    def create(self, body: str) -> Comment:
        item = self._call(
            "POST", self._comments_url(), f"creating a comment on #{self.number}", {"body": body}
        ).json()
        return Comment(int(item["id"]), str(item.get("body") or ""), str(item.get("html_url", "")))

    def update(self, comment_id: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{self.repository}/issues/comments/{comment_id}"
        item = self._call("PATCH", url, f"updating comment {comment_id}", {"body": body}).json()
        return Comment(int(item["id"]), str(item.get("body") or ""), str(item.get("html_url", "")))

    def upsert(
        self, body: str, marker: str = MARKER
    ) -> tuple[Literal["created", "updated", "unchanged"], Comment]:
        """Edit our comment in place (or create it); an identical body is left alone."""
        if marker not in body:
            body = f"{marker}\n{body}"
        existing = self.find(marker)
        if existing is None:
            return "created", self.create(body)
        if existing.body == body:
            return "unchanged", existing
        return "updated", self.update(existing.id, body)
