"""``lmsync sync`` and ``lmsync run-now`` as an SA runs them: exit codes, what they print, the
run history they leave, the lock they respect and the recap they send."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.runner.notify import mask_unique_id
from engine.runner.runner import lock_name
from tests.engine.sync.helpers import StopAfter, SyncWorld, people, utcnow
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.integration


def sync(world: SyncWorld, *extra: str) -> int:
    return main(["sync", str(world.config_path), "--env", "test", "--state", world.state_url, *extra])


def run_now(world: SyncWorld, *extra: str) -> int:
    configs = str(world.config_path.parent)
    return main(
        ["run-now", "acme", "--env", "test", "--configs", configs, "--state", world.state_url, *extra]
    )


def test_sync_prints_a_line_per_file_records_the_run_and_writes_its_log(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_world.drop("hris-1.csv", people(("1", "Engineer"), ("2", "Analyst")), minutes_ago=30)
    sync_world.drop("hris-2.csv", people(("1", "CTO"), ("2", "Analyst")), minutes_ago=10)

    assert sync(sync_world) == 0

    out = capsys.readouterr().out
    (run,) = sync_world.store.list_runs("acme")
    assert f"run {run.id} (acme, test): succeeded" in out
    assert "hris-1.csv (sha256 " in out and ": succeeded: 2 created" in out
    assert "hris-2.csv (sha256 " in out and ": succeeded: 1 updated, 1 unchanged" in out
    assert "total over 2 files: 2 created, 1 updated" in out
    assert "uacme" not in out and "@acme.example" not in out, "no e-mail on stdout"
    assert (run.status, run.file_name, run.counts["created"]) == ("succeeded", "hris-1.csv, hris-2.csv", 2)
    log_dir = Path(sync_world.state_url.removeprefix("sqlite:///")).parent / "runs"
    document = json.loads((log_dir / f"{run.id}.json").read_text())
    assert [f["name"] for f in document["files"]] == ["hris-1.csv", "hris-2.csv"]
    csv_lines = (log_dir / f"{run.id}.csv").read_text().splitlines()
    assert csv_lines[0] == "file,line,unique_id,action,result,code,reason"
    assert len(csv_lines) == 1 + 3

    # Nothing new: exit 0, and the files are reported as already processed.
    assert sync(sync_world) == 0
    assert "skipped, its content was already processed" in capsys.readouterr().out


def test_sync_exit_1_on_a_file_level_error_naming_file_and_fix(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_world.drop("hris-1.csv", b"uniqueId;status;email\n", minutes_ago=30)
    sync_world.drop("hris-2.csv", people(("2", "Engineer")), minutes_ago=10)

    assert sync(sync_world) == 1

    captured = capsys.readouterr()
    assert "error: hris-1.csv" in captured.err
    assert "left for the next run: hris-2.csv" in captured.out
    assert sync_world.managed() == {}
    (run,) = sync_world.store.list_runs("acme")
    assert run.status == "failed" and run.error is not None and "hris-1.csv" in run.error


def test_sync_exit_3_when_the_deletion_guard_trips_then_allow_deletions(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_world.write_config(safety={"max_deletions": 1})
    sync_world.drop("hris-1.csv", people(("1", "A"), ("2", "B"), ("3", "C")), minutes_ago=30)
    assert sync(sync_world) == 0
    sync_world.drop(
        "hris-2.csv", people(("1", "A", "Inactive"), ("2", "B", "Left"), ("3", "C")), minutes_ago=10
    )
    sync_world.sandbox.admin.reset_requests()
    capsys.readouterr()

    assert sync(sync_world) == 3

    err = capsys.readouterr().err
    assert "--allow-deletions" in err and "2" in err
    assert sync_world.writes() == [], "the guard stops before any write"
    assert sync(sync_world, "--allow-deletions", "2") == 0
    statuses = {uid: user["status"] for uid, user in sync_world.managed().items()}
    assert statuses == {"1": "deleted", "2": "deleted", "3": "active"}


def test_sync_completes_an_interrupted_run_before_anything_new(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_world.drop("hris-1.csv", people(("1", "A"), ("2", "B"), ("3", "C")), minutes_ago=30)
    stop = threading.Event()
    # A sync killed mid-apply leaves its run "running" and its journal half done.
    run_id, first = sync_world.sync(stop_event=stop, reporter=StopAfter(stop, bar=1, steps=2))
    assert first.status == "interrupted"

    assert sync(sync_world) == 0

    out = capsys.readouterr().out
    assert f"run {run_id} (acme, test, completed from its journal): succeeded" in out
    assert [r.id for r in sync_world.store.list_runs("acme")] == [run_id]
    assert sorted(sync_world.managed()) == ["1", "2", "3"]


def test_run_now_is_recorded_in_runs_and_mails_a_recap(
    sync_world: SyncWorld,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LMSYNC_SMTP_URL", smtp_server.url)
    sync_world.write_config(notify=["hr-ops@acme.example"])
    bad_row = b"BAD42,Active,not-an-email,First,Last,Engineer\n"
    sync_world.drop("hris-1.csv", people(("1", "Engineer"), ("2", "Analyst")) + bad_row, minutes_ago=30)

    assert run_now(sync_world) == 0

    capsys.readouterr()
    assert main(["runs", "acme", "--state", sync_world.state_url, "--format", "json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert (run["status"], run["file_name"], run["counts"]["created"]) == ("succeeded", "hris-1.csv", 2)
    assert run["counts"]["ignored"] == 1
    (message,) = smtp_server.inbox.messages
    assert smtp_server.inbox.recipients == [["hr-ops@acme.example"]]
    assert "acme test: succeeded" in message["Subject"]
    body = message.get_payload()
    assert isinstance(body, str) and "hris-1.csv" in body
    assert "u1@acme.example" not in body and "First1" not in body
    # The set-aside row is listed with its line and code, the user only as a hash.
    assert f"hris-1.csv  line 4  ignored  invalid_email  user {mask_unique_id('acme', 'BAD42')}" in body
    assert "BAD42" not in body and "not-an-email" not in body


def test_run_now_refuses_while_another_run_holds_the_customer(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=30)
    store = sync_world.store
    assert store.acquire_lock(lock_name("acme"), "runner-7", ttl=timedelta(minutes=5), now=utcnow())

    assert run_now(sync_world) == 1

    assert "a run is in progress (runner-7 holds the customer's lock)" in capsys.readouterr().err
    assert store.list_runs("acme") == []
    assert sync_world.writes() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run-now", "nobody", "--env", "test"], "no customer file"),
        (["run-now", "../acme", "--env", "test"], "is not a customer slug"),
        (["sync", "{config}", "--env", "production"], "no environment 'production'"),
        (
            ["sync", "{config}", "--env", "test", "--allow-deletions", "-1"],
            "--allow-deletions must be 0 or more",
        ),
    ],
)
def test_usage_errors_are_clear(
    sync_world: SyncWorld, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.replace("{config}", str(sync_world.config_path)) for a in argv]
    argv += ["--state", sync_world.state_url]
    if argv[0] == "run-now":
        argv += ["--configs", str(sync_world.config_path.parent)]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
