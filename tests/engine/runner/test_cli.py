"""`lmsync runs`, `lmsync runs show` and `lmsync runner resume` over a real state file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.state import StateStore
from tests.engine.runner.helpers import write_customer

T0 = datetime(2025, 1, 15, 5, 30, tzinfo=UTC)


@pytest.fixture()
def state(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore.open(url)
    ok = store.start_run("acme", "production", "hris", now=T0)
    store.save_report(
        ok,
        [
            {"line": 2, "unique_id": "E1", "outcome": "created"},
            {"line": 3, "unique_id": "E2", "outcome": "ignored", "reason": "invalid_email"},
        ],
    )
    store.set_run_file(ok, file_name="hris_1.tsv", file_sha256="a" * 64)
    store.finish_run(ok, "succeeded", counts={"created": 1, "ignored": 1}, now=T0 + timedelta(seconds=12))
    bad = store.start_run("globex", "production", "hris", now=T0 + timedelta(hours=1))
    store.finish_run(
        bad, "failed", counts={}, error="hris.tsv:1: missing column 'email'", now=T0 + timedelta(hours=1)
    )
    store.quarantine("globex", reason="5 consecutive failed runs", now=T0)
    store.close()
    return url


def test_runs_text_lists_history_and_quarantine(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--state", state]) == 0
    out = capsys.readouterr().out
    assert "QUARANTINED globex" in out and "lmsync runner resume globex" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("RUN"))
    assert "globex" in lines[header + 1] and "failed" in lines[header + 1], "newest first"
    assert "hris_1.tsv" in lines[header + 2] and "12s" in lines[header + 2]


def test_runs_json_filtered_by_customer(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "acme", "--state", state, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [r["customer"] for r in payload["runs"]] == ["acme"]
    assert payload["runs"][0]["counts"] == {"created": 1, "ignored": 1}
    assert payload["runs"][0]["duration_seconds"] == 12


def test_runs_show_exports_csv_and_json(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = StateStore.open(state)
    run_id = store.list_runs("acme")[0].id
    store.close()
    assert main(["runs", "show", run_id, "--state", state, "--format", "csv"]) == 0
    assert (
        capsys.readouterr().out
        == "line,unique_id,outcome,reason\n2,E1,created,\n3,E2,ignored,invalid_email\n"
    )
    assert main(["runs", "show", run_id, "--state", state, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["run"]["id"] == run_id and len(payload["report"]) == 2
    assert main(["runs", "show", run_id, "--state", state]) == 0
    assert "2 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        # A wrong call exits 2 (as argparse's own usage errors); a failed one exits 1.
        (["runs", "show"], 2, "usage: lmsync runs show RUN_ID"),
        (["runs", "show", "nope"], 1, "run nope does not exist"),
        (["runs", "--format", "csv"], 2, "--format csv is for a run's log"),
        (["runner"], 2, "--configs is required"),
        (["runner", "--configs", ".", "--job", "no.such.module:run"], 1, "cannot be imported"),
    ],
)
def test_cli_errors(
    state: str, argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--state", state]) == code
    assert message in capsys.readouterr().err


def test_resume_lifts_quarantine(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runner", "resume", "globex", "--state", state]) == 0
    assert "quarantine lifted" in capsys.readouterr().err
    store = StateStore.open(state)
    status = store.customer_status("globex")
    store.close()
    assert not status.quarantined and status.next_retry_at is not None


def test_runner_once_runs_what_is_due(tmp_path: Path, state: str, capsys: pytest.CaptureFixture[str]) -> None:
    configs = tmp_path / "customers"
    write_customer(configs, "acme")
    store = StateStore.open(state)
    store.record_slot("acme", datetime(2000, 1, 1, tzinfo=UTC))
    store.close()
    target = tmp_path / "target.sqlite"
    os.environ["LMSYNC_TEST_TARGET"] = str(target)
    try:
        code = main(
            [
                "runner",
                "--configs",
                str(configs),
                "--state",
                state,
                "--once",
                "--job",
                "tests.engine.runner.journal_job:run",
            ]
        )
    finally:
        del os.environ["LMSYNC_TEST_TARGET"]
    assert code == 0
    assert "ran: acme" in capsys.readouterr().err
    store = StateStore.open(state)
    assert store.list_runs("acme")[0].status == "succeeded"
    store.close()
