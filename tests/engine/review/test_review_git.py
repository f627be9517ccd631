"""``lmsync diff`` over a real temporary git repository: discovery of added, modified, deleted
and renamed customer files, merge-base comparison, and the command's output and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.review.git import ChangedFile, RevisionError, changed_customer_files, merge_base, resolve
from tests.engine.review import samples
from tests.gitrepo import git as _git


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Base commit: acme, globex and initech; head commit: acme's filter widened, globex
    deleted, initech renamed to initrode, umbrella added, a workflow file changed."""
    root = tmp_path / "customers-repo"
    (root / "customers").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    for slug in ("acme", "globex", "initech"):
        text = samples.edited(("customer: acme", f"customer: {slug}"))
        if slug == "globex":  # unlike the others, so git pairs the rename with initech only
            text += "  languages:\n" + "".join(f"    Language{i}: en\n" for i in range(40))
        (root / "customers" / f"{slug}.yaml").write_text(text)
    (root / ".github").mkdir()
    (root / ".github" / "ci.yml").write_text("on: push\n")
    (root / "data").mkdir()
    samples.hris_csv(root / "data" / "hris.csv", 16)
    _commit(root, "base")
    _git(root, "checkout", "-q", "-b", "feature")
    (root / "customers" / "acme.yaml").write_text(samples.edited(("[Paris]", "[Paris, Lyon]")))
    (root / "customers" / "globex.yaml").unlink()
    renamed = samples.edited(
        ("customer: acme", "customer: initrode"), ("max_deletions: 2", "max_deletions: 3")
    )
    (root / "customers" / "initech.yaml").rename(root / "customers" / "initrode.yaml")
    (root / "customers" / "initrode.yaml").write_text(renamed)
    umbrella = samples.edited(("customer: acme", "customer: umbrella"))
    umbrella += "  languages:\n" + "".join(f"    Tongue{i}: fr\n" for i in range(40))
    (root / "customers" / "umbrella.yaml").write_text(umbrella)
    (root / ".github" / "ci.yml").write_text("on: pull_request\n")
    _commit(root, "head")
    return root


def test_changed_customer_files_are_found_with_their_kind(repo: Path) -> None:
    base, head = resolve(repo, "main"), resolve(repo, "feature")
    assert changed_customer_files(repo, base, head, ["customers"]) == [
        ChangedFile("modified", "customers/acme.yaml"),
        ChangedFile("deleted", "customers/globex.yaml"),
        ChangedFile("renamed", "customers/initrode.yaml", "customers/initech.yaml"),
        ChangedFile("added", "customers/umbrella.yaml"),
    ]


def test_changes_made_on_main_after_branching_are_not_the_pull_requests(repo: Path) -> None:
    _git(repo, "checkout", "-q", "main")
    (repo / "customers" / "hooli.yaml").write_text(samples.edited(("customer: acme", "customer: hooli")))
    _commit(repo, "another pull request merged meanwhile")
    base = merge_base(repo, "main", "feature")
    paths = [c.path for c in changed_customer_files(repo, base, resolve(repo, "feature"), ["customers"])]
    assert "customers/hooli.yaml" not in paths and len(paths) == 4


def test_an_unknown_revision_is_named_with_a_fix(repo: Path) -> None:
    with pytest.raises(RevisionError, match="'origin/nope' is not known") as caught:
        resolve(repo, "origin/nope")
    assert caught.value.hint and "fetch" in caught.value.hint


def test_lmsync_diff_reviews_the_pull_request(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    code = main(
        [
            "diff",
            "--base",
            "main",
            "--head",
            "feature",
            "--input",
            "data/hris.csv",
            "--against",
            "empty",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    by_slug = {c["customer"]: c for c in report["customers"]}
    assert sorted(by_slug) == ["acme", "globex", "initrode", "umbrella"]
    assert by_slug["acme"]["config_changes"] == ["filter `location` now also accepts Lyon"]
    assert by_slug["acme"]["effect"]["phrases"][0] == "+4 users now pass the filter"
    assert by_slug["globex"]["kind"] == "deleted" and by_slug["globex"]["effect"] is None
    assert by_slug["initrode"]["config_changes"][0] == "file renamed from `customers/initech.yaml`"
    assert "safety: deletions allowed per run 2 users → 3 users" in by_slug["initrode"]["config_changes"]
    assert by_slug["umbrella"]["kind"] == "added"
    assert by_slug["umbrella"]["effect"]["counts"]["create"] == 12


def test_lmsync_diff_writes_markdown_and_fails_when_a_file_is_invalid(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (repo / "customers" / "acme.yaml").write_text(
        samples.BASE_YAML.replace("version: 1", "version: 1\nbogus: 1")
    )
    _commit(repo, "break acme")
    monkeypatch.chdir(repo / "customers")  # PATH arguments are relative to the current folder
    out = tmp_path / "review.md"
    code = main(
        [
            "diff",
            "--base",
            "main",
            "--input",
            "../data/hris.csv",
            "--against",
            "empty",
            "--format",
            "markdown",
            "--output",
            str(out),
            ".",
        ]
    )
    markdown = out.read_text()
    assert code == 1
    assert markdown.startswith("<!-- lmsync-diff -->")
    assert "⛔ **acme**:" in markdown and "INVALID" in markdown
    assert "`customers/acme.yaml` is invalid (1 error(s)" in markdown
    assert "@" not in markdown
