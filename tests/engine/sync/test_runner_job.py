"""The runner's HRIS job: one run over several files, resumed from its journal after a stop,
and run by the real Runner with the customer file's folder as the base of relative paths."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from engine.console import Reporter, SilentReporter
from engine.runner.clock import SystemClock
from engine.runner.context import RunContext
from engine.runner.runner import Runner, RunnerSettings
from engine.state import RunRecord
from engine.sync import runner_job
from tests.engine.runner.helpers import ManualClock
from tests.engine.sync.helpers import StopAfter, SyncWorld, people, utcnow

pytestmark = pytest.mark.integration


def context(
    world: SyncWorld,
    run_id: str,
    *,
    reporter: Reporter,
    resumed: RunRecord | None = None,
    stop_event: threading.Event | None = None,
) -> RunContext:
    return RunContext(
        run_id=run_id,
        customer="acme",
        environment="test",
        kind="hris",
        store=world.store,
        clock=SystemClock(),
        reporter=reporter,
        resumed=resumed,
        stop_event=threading.Event() if stop_event is None else stop_event,
        config_path=world.config_path,
    )


def user_ids(world: SyncWorld, *uids: str) -> set[str]:
    managed = world.managed()
    return {managed[uid]["_id"] for uid in uids}


def test_an_interrupted_run_is_completed_from_its_journal_without_resending_done_actions(
    sync_world: SyncWorld,
) -> None:
    world, store = sync_world, sync_world.store
    world.drop("hris-1.csv", people(("1", "Engineer"), ("2", "Analyst"), ("3", "Analyst")), minutes_ago=30)
    world.drop(
        "hris-2.csv",
        people(
            ("1", "CTO"),
            ("2", "Analyst"),
            ("3", "Analyst"),
            ("4", "Intern"),
            ("5", "Intern"),
            ("6", "Intern"),
        ),
        minutes_ago=10,
    )
    run_id = store.start_run("acme", "test", "hris", now=utcnow())
    stop = threading.Event()

    # 1. Stopped after two steps of the second file, as a SIGTERM would: file 1 is done.
    first = runner_job.run(
        world.config(),
        "test",
        context(world, run_id, stop_event=stop, reporter=StopAfter(stop, bar=2, steps=2)),
    )
    assert first.status == "interrupted"
    store.finish_run(run_id, "interrupted", counts=first.counts, now=utcnow())
    assert [e.file_name for e in store.ledger_entries("acme")] == ["hris-1.csv"]
    pending = [e for e in store.journal(run_id) if e.status == "pending" and e.action != "sync_file"]
    assert pending, "the stop left work to do"
    writes_before = world.writes()
    world.sandbox.admin.reset_requests()

    # 2. The runner completes the same run: same id, the journal says what is done.
    store.reopen_run(run_id)
    second = runner_job.run(
        world.config(),
        "test",
        context(world, run_id, resumed=store.get_run(run_id), reporter=SilentReporter()),
    )
    writes_after = world.writes()

    assert second.status == "succeeded", second.error
    assert all(e.status == "done" for e in store.journal(run_id)), "every journaled action is done"
    assert len(writes_after) <= len(pending), "only the actions left pending were sent again"
    creates = [
        w for w in writes_before + writes_after if w["method"] == "POST" and w["path"] == "/api/v2/users"
    ]
    assert len(creates) == 6, "every user was created exactly once over the two attempts"
    untouched = user_ids(world, "2", "3")
    assert not [w for w in writes_after if any(uid in w["path"] for uid in untouched)], "file 1 not replayed"
    managed = world.managed()
    assert sorted(managed) == ["1", "2", "3", "4", "5", "6"]
    assert managed["1"]["job"] == "CTO"
    assert [e.file_name for e in store.ledger_entries("acme")] == ["hris-1.csv", "hris-2.csv"]
    assert {e.run_id for e in store.ledger_entries("acme")} == {run_id}
    assert second.file_name == "hris-1.csv, hris-2.csv"
    # Counts cover both files: 6 users in, 1 title changed. (A user the stopped attempt created
    # but had not linked yet is linked by the resumed one, which counts it as updated.)
    assert second.counts["created"] >= 4
    assert second.counts["created"] + second.counts["updated"] == 7
    assert {row["file"] for row in second.report} == {"hris-1.csv", "hris-2.csv"}


def test_a_resumed_run_of_another_environment_is_closed_not_replayed(sync_world: SyncWorld) -> None:
    sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=30)
    other = RunRecord(
        id="20260101T000000Z-abcdef", customer="acme", environment="production", kind="hris",
        status="running", started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    outcome = runner_job.run(
        sync_world.config(), "test", context(sync_world, other.id, resumed=other, reporter=SilentReporter())
    )
    assert outcome.status == "skipped"
    assert outcome.error is not None and "environment production" in outcome.error
    assert sync_world.writes() == []


def test_the_runner_runs_the_job_and_records_files_counts_and_report(sync_world: SyncWorld) -> None:
    world, store = sync_world, sync_world.store
    world.drop("hris-1.csv", people(("1", "Engineer"), ("2", "Analyst")), minutes_ago=30)
    store.record_slot("acme", datetime(2000, 1, 1, tzinfo=UTC))  # overdue, as after downtime
    runner = Runner(
        world.config_path.parent,
        store,
        runner_job.run,
        ManualClock(utcnow()),
        settings=RunnerSettings(environment="test", max_workers=1),
    )
    try:
        assert runner.run_once() == ["acme"]
    finally:
        runner.close()

    (run,) = store.list_runs("acme")
    assert run.status == "succeeded", run.error
    assert run.file_name == "hris-1.csv"
    assert run.file_sha256 == store.ledger_entries("acme")[0].sha256
    assert run.counts["created"] == 2
    assert {row["file"] for row in store.report(run.id)} == {"hris-1.csv"}
    assert sorted(world.managed()) == ["1", "2"]


def test_a_scheduled_run_stopped_by_the_guard_says_which_command_allows_it(sync_world: SyncWorld) -> None:
    world = sync_world
    world.write_config(safety={"max_deletions": 0})
    world.drop("hris-1.csv", people(("1", "A"), ("2", "B")), minutes_ago=30)
    world.sync()
    world.drop("hris-2.csv", people(("1", "A", "Inactive"), ("2", "B", "Inactive")), minutes_ago=20)
    world.drop("hris-3.csv", people(("3", "C")), minutes_ago=10)
    world.sandbox.admin.reset_requests()

    run_id = world.store.start_run("acme", "test", "hris", now=utcnow())
    outcome = runner_job.run(world.config(), "test", context(world, run_id, reporter=SilentReporter()))

    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("hris-2.csv: this plan deletes 2 managed user(s)")
    assert "`lmsync run-now acme --env test --allow-deletions 2`" in outcome.error
    assert outcome.error.endswith("waiting for the next run: hris-3.csv")
    assert world.writes() == []
