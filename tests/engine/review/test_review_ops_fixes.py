"""Ops-review fixes of the review report: the complete report (``--output``, text, JSON) keeps
every user a change no longer plans, and ``--input`` may name one data file per customer.

Each test runs ``lmsync diff --against empty`` over a real temporary git repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.review.git import ChangedFile
from engine.review.planners import file_planner
from engine.review.render import render_markdown, user_handle
from engine.review.report import Review, review_texts
from tests.engine.review import samples
from tests.gitrepo import git as _git

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
NO_FILTER = samples.edited(("  filter: {location: [Paris]}\n", ""))
FRANCE_ONLY = samples.edited(("  filter: {location: [Paris]}\n", "  filter: {country: [France]}\n"))
#: Employees 0 and 1 work in France, 2 to 5 in Germany.
COUNTRIES = ("France", "France", "Germany", "Germany", "Germany", "Germany")


def _hris(path: Path, countries: tuple[str, ...]) -> Path:
    lines = ["uniqueId,status,email,firstName,lastName,location,country"]
    for i, country in enumerate(countries):
        first, last, mail = samples.person(i)
        lines.append(f"E{i:05d},Active,{mail},{first},{last},Paris,{country}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """main: acme without a filter; branch ``feature``: acme keeps only the French employees."""
    root = tmp_path / "customers-repo"
    (root / "customers").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "customers" / "acme.yaml").write_text(NO_FILTER)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "checkout", "-q", "-b", "feature")
    (root / "customers" / "acme.yaml").write_text(FRANCE_ONLY)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "acme: France only")
    monkeypatch.chdir(root)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return root


def _diff(*args: str) -> int:
    return main(["diff", "--base", "main", "--head", "feature", "--against", "empty", *args])


GERMANS = [user_handle(f"E{i:05d}") for i in range(2, 6)]


def test_the_json_report_lists_every_user_a_new_filter_drops(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _hris(tmp_path / "hris.csv", COUNTRIES)
    assert _diff("--input", str(data), "--format", "json") == 0
    effect = json.loads(capsys.readouterr().out)["customers"][0]["effect"]
    assert effect["counts"]["create"] == 2
    assert effect["changes"] == []  # the two French creations were planned before as well
    assert [(r["user"], r["action"]) for r in effect["no_longer"]] == [(h, "create") for h in GERMANS]


def test_the_text_report_and_the_markdown_artifact_list_them_too(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _hris(tmp_path / "hris.csv", COUNTRIES)
    assert _diff("--input", str(data), "--format", "text") == 0
    text = capsys.readouterr().out
    assert [line.split(": ")[0].strip() for line in text.splitlines() if "NO LONGER" in line] == [
        f"NO LONGER CREATE {h}" for h in GERMANS
    ]
    artifact = tmp_path / "lmsync-diff.md"
    assert _diff("--input", str(data), "--format", "markdown", "--output", str(artifact)) == 0
    markdown = artifact.read_text(encoding="utf-8")
    table = markdown.split("No longer planned with this change:", 1)[1]
    assert [h for h in GERMANS if f"| `{h}` | create |" in table] == GERMANS
    assert "more user(s) no longer planned" not in markdown
    for shown in (text, markdown):
        assert not EMAIL.search(shown)
        assert not any(name in shown for name in samples.FIRST_NAMES + samples.LAST_NAMES)


def test_a_cut_comment_says_how_many_dropped_users_it_left_out(repo: Path, tmp_path: Path) -> None:
    data = _hris(tmp_path / "hris.csv", COUNTRIES)
    customer = review_texts(
        ChangedFile("modified", "customers/acme.yaml"),
        NO_FILTER,
        FRANCE_ONLY,
        planner=file_planner(),
        input=data,
    )
    markdown = render_markdown(
        Review(base="1" * 40, head="2" * 40, env="test", customers=(customer,)), max_rows=1
    )
    assert f"| `{GERMANS[0]}` | create |" in markdown
    assert f"| `{GERMANS[1]}` | create |" not in markdown
    assert "… and 3 more user(s) no longer planned: see the `lmsync-diff-report` artifact." in markdown


def test_input_folder_plans_each_customer_on_its_own_file(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    globex = samples.edited(("customer: acme", "customer: globex"), text=NO_FILTER)
    (repo / "customers" / "globex.yaml").write_text(globex)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "globex")
    data = tmp_path / "data"
    _hris(data / "acme.csv", COUNTRIES)  # globex has no file of its own: no data effect
    assert _diff("--input", str(data), "--format", "json") == 0
    by_slug = {c["customer"]: c for c in json.loads(capsys.readouterr().out)["customers"]}
    assert by_slug["acme"]["effect"]["counts"]["create"] == 2
    assert by_slug["globex"]["effect"] is None
    assert any("no data to plan on" in note for note in by_slug["globex"]["notes"])
