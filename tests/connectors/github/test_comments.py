"""The sticky review comment against a local stand-in for GitHub's comment API (real HTTP)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.github.comments import MARKER, CommentError, PullRequestComments, token_from_env
from engine.cli.main import main
from engine.errors import ConfigError, TargetAuthError, TargetError, TargetNotFoundError
from tests.connectors.github.fake_github import TOKEN, FakeGitHub, serve
from tests.engine.review import samples

pytestmark = pytest.mark.integration


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    yield from serve()


def _client(github: FakeGitHub, token: str = TOKEN, number: int = 7) -> PullRequestComments:
    return PullRequestComments(
        "acme-corp/customers", number, SecretStr(token), api_url=github.url, timeout=5, retry_wait=0
    )


def test_first_post_creates_then_later_posts_edit_in_place(github: FakeGitHub) -> None:
    comments = _client(github)
    github.add(7, "LGTM")
    outcome, first = comments.upsert(f"{MARKER}\nfirst")
    assert outcome == "created"
    outcome, second = comments.upsert(f"{MARKER}\nsecond")
    assert outcome == "updated" and second.id == first.id
    assert [c["body"] for c in github.comments[7]] == ["LGTM", f"{MARKER}\nsecond"]
    outcome, _ = comments.upsert(f"{MARKER}\nsecond")
    assert outcome == "unchanged"
    assert sum(method == "PATCH" for method, _ in github.requests) == 1


def test_our_comment_is_found_beyond_the_first_page(github: FakeGitHub) -> None:
    for i in range(230):
        github.add(7, f"discussion {i}")
    ours = github.add(7, f"{MARKER}\nold review")
    outcome, comment = _client(github).upsert("new review")  # the marker is added when missing
    assert (outcome, comment.id) == ("updated", ours)
    assert github.comments[7][-1]["body"] == f"{MARKER}\nnew review"
    pages = [path for method, path in github.requests if method == "GET"]
    assert len(pages) == 3 and "page=3" in pages[-1]


def test_a_server_error_is_retried_and_then_succeeds(github: FakeGitHub) -> None:
    github.fail_next = [502]
    outcome, _ = _client(github).upsert("review")
    assert outcome == "created"
    assert [m for m, _ in github.requests] == ["GET", "GET", "POST"]


@pytest.mark.parametrize(
    ("status", "error", "transient"),
    [(500, CommentError, True), (404, TargetNotFoundError, False), (422, CommentError, False)],
)
def test_failures_are_classified_by_status(
    github: FakeGitHub, status: int, error: type[TargetError], transient: bool
) -> None:
    github.fail_next = [status] * 3
    with pytest.raises(error) as caught:
        _client(github).upsert("review")
    assert caught.value.transient is transient
    assert str(status) in str(caught.value)


def test_a_wrong_token_is_an_auth_error_that_never_shows_the_token(github: FakeGitHub) -> None:
    client = _client(github, token="ghs_wrong_secret_value")
    with pytest.raises(TargetAuthError) as caught:
        client.upsert("review")
    assert "ghs_wrong_secret_value" not in str(caught.value) + repr(client)


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        token_from_env()
    monkeypatch.setenv("GITHUB_TOKEN", "abc")
    assert token_from_env().get_secret_value() == "abc"


def test_lmsync_diff_post_updates_the_pull_requests_comment(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "customers").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@test.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "customers" / "acme.yaml").write_text(samples.BASE_YAML)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    (repo / "customers" / "acme.yaml").write_text(samples.edited(("[Paris]", "[Paris, Lyon]")))
    subprocess.run([*git, "commit", "-qam", "head"], check=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7, "labels": [], "body": ""}}))
    monkeypatch.chdir(repo)
    for name, value in {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme-corp/customers",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": github.url,
    }.items():
        monkeypatch.setenv(name, value)
    github.add(7, f"{MARKER}\nstale review")
    assert main(["diff", "--base", "HEAD~1", "--post", "--output", str(tmp_path / "full.md")]) == 0
    assert len(github.comments[7]) == 1
    body = github.comments[7][0]["body"]
    assert body.startswith(MARKER) and "filter `location` now also accepts Lyon" in body
