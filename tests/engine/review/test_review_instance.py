"""`lmsync diff` planned against the live test instance, on the newest file of the source.

A real git repository with two commits, a customer file whose test environment is the
sandbox (real HTTP) and whose folder source holds HRIS exports: the review must read the
instance as it is (users already synced are unchanged, not created), take the newest file,
write nothing anywhere, and say so in a note when the instance cannot be reached.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main
from tests.engine.apply.world import ApplyWorld, csv, make_world, row
from tests.fixtures.sandbox import SandboxHandle
from tests.gitrepo import git as _git


def _write_customer(world: ApplyWorld, repo: Path, **hris: object) -> None:
    data = world.config_data(**hris)
    (repo / "customers" / "acme.yaml").write_text(json.dumps(data, indent=2), encoding="utf-8")


@pytest.fixture
def world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApplyWorld]:
    built = make_world(sandbox, tmp_path, monkeypatch)
    yield built
    built.store.close()


@pytest.fixture
def repo(world: ApplyWorld, tmp_path: Path) -> Path:
    """main: the customer as synced today; feature: a filter keeping France only."""
    root = tmp_path / "customers-repo"
    (root / "customers" / "inbox").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _write_customer(world, root)
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "acme")
    _git(root, "checkout", "-q", "-b", "feature")
    _write_customer(world, root, filter={"country": ["France"]})
    _git(root, "commit", "-q", "-am", "acme: France only")
    return root


def _diff(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    monkeypatch.chdir(repo)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    code = main(["diff", "--base", "main", "--head", "feature", "--format", "json"])
    assert code == 0
    customers: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["customers"]
    (customer,) = customers
    return customer


def test_the_effect_is_planned_on_the_newest_source_file_against_the_live_instance(
    world: ApplyWorld, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    synced = [row("1"), row("2"), row("3")]
    world.apply(csv(*synced))
    inbox = repo / "customers" / "inbox"
    older = inbox / "hris-2026-11-01.csv"
    older.write_text(csv(*synced, *(row(f"9{i}") for i in range(5))))
    os.utime(older, (1_700_000_000, 1_700_000_000))
    newest = inbox / "hris-2026-11-02.csv"
    newest.write_text(csv(*synced, row("4", country="Germany", site="Berlin"), row("5")))
    world.sandbox.admin.reset_requests()

    customer = _diff(repo, monkeypatch, capsys)

    effect = customer["effect"]
    assert effect is not None, customer["notes"]
    # Users 1-3 exist in the instance already: unchanged, not created; the newest file adds 4, 5.
    assert effect["counts"]["unchanged"] == 3
    assert effect["counts"]["create"] == 1 and effect["counts"]["filtered_out"] == 1
    assert effect["delta"]["create"] == -1 and effect["delta"]["filtered_out"] == 1
    assert world.writes() == [], "a review must never write to the test instance"
    assert sorted(p.name for p in inbox.iterdir()) == [older.name, newest.name]
    # Each revision's snapshot lists the definitions; the deployed memory is read once for both.
    gets = [r["path"] for r in world.sandbox.admin.requests() if r["method"] == "GET"]
    assert gets.count("/api/v2/custom-fields") == 3


def test_an_unreachable_instance_is_a_note_not_a_failure(
    world: ApplyWorld, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "customers" / "inbox" / "hris-1.csv").write_text(csv(row("1")))
    monkeypatch.delenv("LMSYNC_TEST_LMS_SECRET")

    customer = _diff(repo, monkeypatch, capsys)

    assert customer["effect"] is None
    (note,) = customer["notes"]
    assert note.startswith("data effect not computed:") and "LMSYNC_TEST_LMS_SECRET" in note


def test_an_empty_source_says_how_to_give_data(
    world: ApplyWorld, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = _diff(repo, monkeypatch, capsys)

    (note,) = customer["notes"]
    assert "no HRIS file on" in note and "--input" in note
