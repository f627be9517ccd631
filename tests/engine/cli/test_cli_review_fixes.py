"""Defects a new-user review found in the CLI: each test failed before its fix.

Usage errors of ``lmsync diff`` exit 2; ``runs show`` sizes its label column; ``runner
resume`` refuses a customer the state store has never seen; ``runner --once`` refuses a
missing configuration folder; ``sso`` commands name a missing ``cornerstone.sso`` section and
refuse a malformed ``--email``; the feed's secret errors give the full path; ``lmsync runs``
creates no state store (SQLite file or PostgreSQL tables).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.cornerstone.feed_server import feed_auth
from engine.cli.main import main
from engine.config.models import Catalog
from engine.errors import SecretError
from engine.state import StateStore
from tests.engine.runner.helpers import write_customer
from tests.gitrepo import git as _git

T0 = datetime(2025, 1, 15, 5, 30, tzinfo=UTC)

CUSTOMER_WITHOUT_SSO = """\
version: 1
customer: acme
environments:
  test:
    lms: {url: "http://127.0.0.1:9", client_id: "env:T_ID", client_secret: "env:T_SECRET"}
hris:
  source: {type: folder, path: inbox}
  group: gacme
  admin: sa@example.com
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A customers repository with two commits, as the current folder, outside any PR context."""
    root = tmp_path / "repo"
    (root / "customers").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "customers" / "acme.yaml").write_text(CUSTOMER_WITHOUT_SSO)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    (root / "customers" / "acme.yaml").write_text(CUSTOMER_WITHOUT_SSO.replace("gacme", "gacme2"))
    _git(root, "commit", "-q", "-am", "head")
    for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_ACTIONS", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    return root


# --- 1. lmsync diff: usage errors exit 2, as the README says ----------------------------------


def test_diff_unknown_base_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--base", "nosuch", "--against", "empty"]) == 2
    err = capsys.readouterr().err
    assert "--base: revision 'nosuch' is not known" in err and "git fetch" in err


def test_diff_outside_a_repository_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(outside)
    assert main(["diff", "--base", "main"]) == 2
    err = capsys.readouterr().err
    assert "is not inside a git repository" in err and "checkout of the customers repository" in err


def test_diff_post_without_a_pull_request_fails_before_any_review(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "--base", "HEAD~1", "--against", "empty", "--post"]) == 2
    out, err = capsys.readouterr()
    assert "--post needs a pull request" in err and "drop --post" in err
    assert out == "", "the usage is checked before the review is built and printed"


def test_diff_without_post_still_reviews(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--base", "HEAD~1", "--against", "empty"]) == 0
    assert "acme" in capsys.readouterr().out


# --- 2. lmsync runs show: the label column fits every count name ------------------------------


def test_runs_show_aligns_long_count_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore.open(url)
    run_id = store.start_run("acme", "production", "hris", now=T0)
    counts = {"created": 3, "filtered_out": 0, "no_group_rule": 6}
    store.finish_run(run_id, "succeeded", counts=counts, now=T0 + timedelta(seconds=5))
    store.close()
    assert main(["runs", "show", run_id, "--state", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_label = {line.split()[0]: line for line in lines}
    assert by_label["filtered_out"].split() == ["filtered_out", "0"]
    assert by_label["no_group_rule"].split() == ["no_group_rule", "6"]
    columns = {line.index(line.split()[1], len(line.split()[0])) for line in lines}
    assert len(columns) == 1, f"values start in one column: {lines}"


# --- 3. lmsync runner resume: an unknown customer is refused ----------------------------------


@pytest.fixture
def state(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore.open(url)
    store.quarantine("globex", reason="5 consecutive failed runs", now=T0)
    run_id = store.start_run("acme", "production", "hris", now=T0)
    store.finish_run(run_id, "succeeded", counts={}, now=T0)
    store.close()
    return url


def test_resume_of_an_unknown_customer_changes_nothing(
    state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runner", "resume", "nosuch", "--state", state]) == 1
    err = capsys.readouterr().err
    assert "nosuch: unknown to the state store" in err and "known customers: globex" in err
    assert "lmsync runs" in err
    store = StateStore.open(state)
    assert [s.customer for s in store.customer_statuses()] == ["globex"], "no row made for nosuch"
    store.close()


def test_resume_of_a_customer_known_by_its_runs_only(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runner", "resume", "acme", "--state", state]) == 0
    assert "acme: was not quarantined" in capsys.readouterr().err


def test_resume_with_no_state_store_creates_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "absent" / "state.sqlite"
    assert main(["runner", "resume", "acme", "--state", f"sqlite:///{database}"]) == 1
    assert "acme: unknown to the state store" in capsys.readouterr().err
    assert not database.parent.exists()


# --- 4. lmsync runner --once: a missing configuration folder is an error -----------------------


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_runner_once_refuses_a_configs_path_that_is_not_a_folder(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = tmp_path / "customers"
    if kind == "file":
        configs.write_text("not a folder")
    database = tmp_path / "state" / "state.sqlite"
    assert main(["runner", "--configs", str(configs), "--once", "--state", f"sqlite:///{database}"]) == 1
    err = capsys.readouterr().err
    what = "does not exist" if kind == "missing" else "is not a folder"
    assert f"--configs {configs}: the configuration folder {what}" in err
    assert not database.parent.exists(), "nothing is created before the arguments are checked"


def test_runner_once_with_a_folder_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configs = tmp_path / "customers"
    write_customer(configs, "acme")
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert main(["runner", "--configs", str(configs), "--once", "--state", state]) == 0
    assert "nothing was due" in capsys.readouterr().err


# --- 5 and 6. lmsync sso: a missing section, a malformed --email ------------------------------


@pytest.fixture
def no_sso_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(CUSTOMER_WITHOUT_SSO)
    return path


@pytest.mark.parametrize(
    "argv", [["sso", "check"], ["sso", "jwt-link", "--email", "ada@example.com"]], ids=["check", "jwt-link"]
)
def test_sso_commands_name_the_missing_section(
    no_sso_file: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, str(no_sso_file)]) == 1
    out, err = capsys.readouterr()
    assert f"{no_sso_file}: the file has no `cornerstone.sso` section" in err
    assert "OK" not in out + err and out == ""


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "ada example@example.com", ""])
def test_jwt_link_refuses_a_malformed_email_without_echoing_it(
    tmp_path: Path, email: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.yaml"
    sso = "cornerstone:\n  sso:\n    method: {type: jwt, secret: env:NOPE}\n"
    path.write_text(CUSTOMER_WITHOUT_SSO + sso)
    assert main(["sso", "jwt-link", str(path), "--email", email]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--email is not an e-mail address" in err
    assert not email or email not in err


# --- 7. the catalog feed's secret errors name the full path -----------------------------------


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        ({"type": "oauth2", "client_id": "env:NO_ID", "client_secret": "env:NO_SECRET"}, "client_id"),
        ({"type": "basic", "username": "csod", "password": "env:NO_PASSWORD"}, "password"),
    ],
)
def test_feed_secret_errors_name_the_full_path(auth: dict[str, str], path: str) -> None:
    catalog = Catalog.model_validate({"launch_url": "https://acme.example/{course_id}", "auth": auth})
    with pytest.raises(SecretError) as caught:
        feed_auth(catalog, environ={})
    assert f"cornerstone.catalog.auth.{path}" in str(caught.value)


# --- 8. lmsync runs only reads: it creates no store -------------------------------------------


@pytest.mark.parametrize("output", ["text", "json"])
def test_runs_without_a_store_creates_nothing(
    tmp_path: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / ".lmsync" / "state.sqlite"
    assert main(["runs", "--state", f"sqlite:///{database}", "--format", output]) == 0
    out, err = capsys.readouterr()
    assert f"no runs yet (state store sqlite:///{database} does not exist)" in err
    if output == "json":
        assert out.strip().startswith("{") and '"runs": []' in out
    assert not database.parent.exists()


def test_runs_show_without_a_store_is_an_error_that_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / ".lmsync" / "state.sqlite"
    assert main(["runs", "show", "r1", "--state", f"sqlite:///{database}"]) == 1
    assert "run r1 does not exist: state store" in capsys.readouterr().err
    assert not database.parent.exists()


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [row[0] for row in rows]


@pytest.mark.integration
def test_runs_creates_no_tables_on_postgresql(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--state", postgres_url]) == 0
    assert "no runs yet" in capsys.readouterr().err
    assert _tables(postgres_url) == []
    store = StateStore.open(postgres_url)
    store.start_run("acme", "production", "hris", now=T0)
    store.close()
    assert main(["runs", "--state", postgres_url]) == 0
    assert "acme" in capsys.readouterr().out


def test_a_wrong_call_to_plan_exits_1_never_2_which_means_changes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--no-such-flag"]) == 1
    assert main(["--quiet", "plan"]) == 1  # its required arguments missing
    assert "usage: lmsync plan" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # other commands keep argparse's usage exit 2
        main(["runs", "--no-such-flag"])
    assert exited.value.code == 2
