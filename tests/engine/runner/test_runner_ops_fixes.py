"""Fixes from an ops review of the runner, run-now and deploy, each failing before its fix:
a customer without the runner's environment is named, run-now finds files in subfolders,
deploy --sha is checked against git, and runner --once exits 1 after a failed run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.cli.run_now import customer_file
from engine.config.models import CustomerConfig
from engine.console import SilentReporter
from engine.deploy import DeployError, commit_of
from engine.errors import ConfigError
from engine.runner.context import RunContext, RunOutcome
from engine.runner.runner import Runner
from engine.state import StateStore
from tests.engine.runner.helpers import ManualClock, utc, write_customer
from tests.gitrepo import git as _git

TEST_ONLY = """\
version: 1
customer: {slug}
environments:
  test:
    lms: {{url: "http://127.0.0.1:8360", client_id: "env:T_ID", client_secret: "env:T_SECRET"}}
hris:
  source: {{type: folder, path: inbox}}
  group: "g{slug}"
  admin: sa@example.com
  schedule: {{times: ["06:30"], timezone: Europe/Paris}}
"""


def failing_job(config: CustomerConfig, environment: str, ctx: RunContext) -> RunOutcome:
    """A runner job (``--job``) whose run fails as a file-level error would."""
    return RunOutcome(status="failed", error=f"{config.customer}: the HRIS file has no header")


class Recorder(SilentReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _state_with_a_passed_slot(tmp_path: Path, slug: str) -> str:
    """A state in which ``slug`` was seen long ago, so its latest slot is due now."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore.open(url)
    store.record_slot(slug, datetime(2000, 1, 1, tzinfo=UTC))
    store.close()
    return url


# --- 1. a customer without the runner's environment is named, once per file version ------------


def test_runner_once_names_a_customer_without_its_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = tmp_path / "customers"
    configs.mkdir()
    (configs / "demo.yaml").write_text(TEST_ONLY.format(slug="demo"))
    state = _state_with_a_passed_slot(tmp_path, "demo")
    assert main(["runner", "--configs", str(configs), "--once", "--state", state]) == 0
    err = capsys.readouterr().err
    assert (
        "demo has no environment 'production'; the runner (--environment production) does not run it" in err
    )
    assert "nothing was due" in err


def test_the_missing_environment_is_said_once_per_file_version(tmp_path: Path) -> None:
    configs = tmp_path / "customers"
    configs.mkdir()
    path = configs / "demo.yaml"
    path.write_text(TEST_ONLY.format(slug="demo"))
    write_customer(configs, "acme")  # has production: never warned about
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    reporter = Recorder()
    runner = Runner(configs, store, failing_job, ManualClock(utc(2025, 1, 15, 5)), reporter=reporter)
    try:
        runner.tick()
        runner.tick()
        assert [w for w in reporter.warnings if "environment" in w] == [
            "demo has no environment 'production'; the runner (--environment production) does not run it"
        ]
        path.write_text(TEST_ONLY.format(slug="demo") + "# edited\n")
        runner.tick()
        assert len([w for w in reporter.warnings if "no environment" in w]) == 2, (
            "a new version is named again"
        )
    finally:
        runner.close()
        store.close()


# --- 2. run-now finds a customer file in a subfolder, as the runner does ------------------------


def test_run_now_finds_a_file_in_a_subfolder(tmp_path: Path) -> None:
    configs = tmp_path / "customers"
    path = write_customer(configs / "eu", "globex")
    assert customer_file(configs, "globex") == path.resolve()


def test_run_now_refuses_two_files_for_one_slug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configs = tmp_path / "customers"
    write_customer(configs / "eu", "globex")
    write_customer(configs / "us", "globex")
    with pytest.raises(ConfigError, match="customer 'globex' is defined by 2 files") as caught:
        customer_file(configs, "globex")
    assert "eu/globex.yaml" in str(caught.value) and "us/globex.yaml" in str(caught.value)
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert main(["run-now", "globex", "--env", "test", "--configs", str(configs), "--state", state]) == 1
    assert "defined by 2 files" in capsys.readouterr().err


def test_run_now_names_invalid_files_when_the_slug_is_not_found(tmp_path: Path) -> None:
    configs = tmp_path / "customers"
    (configs / "eu").mkdir(parents=True)
    (configs / "eu" / "globex.yaml").write_text("version: 1\ncustomer: globex\nbogus: true\n")
    with pytest.raises(ConfigError, match="no customer file for 'globex'") as caught:
        customer_file(configs, "globex")
    assert "1 file(s) there are invalid" in (caught.value.hint or "")


# --- 3. deploy --sha is checked against the checkout -------------------------------------------


def _repo(tmp_path: Path) -> tuple[Path, str]:
    customers = tmp_path / "customers"
    write_customer(customers, "acme")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "acme")
    return customers, _git(tmp_path, "rev-parse", "HEAD")


def test_sha_must_be_head_or_hold_the_same_customer_files(tmp_path: Path) -> None:
    customers, first = _repo(tmp_path)
    assert commit_of(customers, first) == first
    assert commit_of(customers, first[:12].upper()) == first, "a prefix of HEAD names HEAD in full"
    (tmp_path / "notes.txt").write_text("outside the customers folder")
    _git(tmp_path, "add", "notes.txt")
    _git(tmp_path, "commit", "-q", "-m", "notes")
    assert commit_of(customers, first) == first, "same customer files: that commit is this release"
    write_customer(customers, "acme", times='"07:00"')
    _git(tmp_path, "commit", "-qam", "acme at 07:00")
    with pytest.raises(DeployError, match=f"--sha {first[:12]}: its customer files under .* differ"):
        commit_of(customers, first)
    with pytest.raises(DeployError, match="is not a commit of the checkout"):
        commit_of(customers, "b" * 40)


def test_sha_does_not_skip_the_uncommitted_changes_check(tmp_path: Path) -> None:
    customers, head = _repo(tmp_path)
    write_customer(customers, "globex")
    with pytest.raises(DeployError, match=f"differ from commit {head[:12]}") as caught:
        commit_of(customers, head)
    assert "--sha" not in (caught.value.hint or "")


def test_sha_does_not_stand_in_for_a_checkout(tmp_path: Path) -> None:
    customers = tmp_path / "customers"
    write_customer(customers, "acme")
    with pytest.raises(DeployError, match="not a git checkout"):
        commit_of(customers, "a" * 40)


def test_deploy_with_sha_and_a_dirty_tree_is_refused_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customers, head = _repo(tmp_path)
    write_customer(customers, "globex")
    # Port 1 on loopback: nothing listens there, so reaching a host would fail differently.
    argv = ["deploy", "--host", "deploy@127.0.0.1:1", "--path", "/srv/lmsync"]
    assert main([*argv, "--configs", str(customers), "--sha", head]) == 1
    err = capsys.readouterr().err
    assert f"differ from commit {head[:12]}" in err and "or pass --sha" not in err


# --- 4. runner --once exits 1 when a run it started failed -------------------------------------


def test_runner_once_exits_1_after_a_failed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configs = tmp_path / "customers"
    write_customer(configs, "acme")
    state = _state_with_a_passed_slot(tmp_path, "acme")
    job = f"{__name__}:failing_job"
    argv = ["runner", "--configs", str(configs), "--state", state, "--once", "--job", job]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "ran: acme" in err and "failed: acme" in err
    # The retry is not due yet: nothing ran, so nothing failed.
    assert main(argv) == 0
    assert "nothing was due" in capsys.readouterr().err
