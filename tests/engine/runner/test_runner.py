"""The runner with a hand-moved clock: schedules, missed runs, retries, quarantine, locks,
bounded concurrency, reloads, resuming and clean stops."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Unpack

import pytest

from engine.config.models import CustomerConfig
from engine.errors import FileLevelError
from engine.runner.context import RunContext, RunOutcome
from engine.runner.policy import RetryPolicy
from engine.runner.runner import Runner, RunnerSettings, lock_name
from engine.state import JournalEntry, StateStore
from tests.engine.runner.helpers import ManualClock, SettingsFields, utc, write_customer

# Wednesday 15 January 2025, winter: 06:30 Paris = 05:30 UTC, 23:30 Paris = 22:30 UTC.
BEFORE_0630 = utc(2025, 1, 15, 5, 0)
AT_0630 = utc(2025, 1, 15, 5, 30)


class RecordingJob:
    """A job that records its calls and ends each run as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, RunContext]] = []
        self.outcome: RunOutcome | Exception = RunOutcome(status="succeeded", counts={"created": 1})
        self.gate: threading.Event | None = None
        self.entered = threading.Semaphore(0)

    def __call__(self, config: CustomerConfig, environment: str, ctx: RunContext) -> RunOutcome:
        self.calls.append((config.customer, environment, ctx))
        self.entered.release()
        if self.gate is not None:
            while not self.gate.wait(0.01):
                if ctx.stop_requested():
                    return RunOutcome(status="interrupted")
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def customers(self) -> list[str]:
        return [customer for customer, _, _ in self.calls]


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture()
def configs(tmp_path: Path) -> Path:
    folder = tmp_path / "customers"
    write_customer(folder, "acme")
    return folder


def make_runner(
    configs: Path,
    store: StateStore,
    job: RecordingJob,
    clock: ManualClock,
    **settings: Unpack[SettingsFields],
) -> Runner:
    return Runner(configs, store, job, clock, settings=RunnerSettings(**settings))


def test_new_customer_waits_for_its_next_slot_then_runs_once(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock)
    assert runner.run_once() == []  # first sight: no run outside the schedule
    clock.set(AT_0630 - timedelta(seconds=1))
    assert runner.run_once() == []
    clock.set(AT_0630)
    assert runner.run_once() == ["acme"]
    assert runner.run_once() == [], "a slot runs once"
    (customer, environment, ctx) = job.calls[0]
    assert (customer, environment, ctx.resuming) == ("acme", "production", False)
    run = store.get_run(ctx.run_id)
    assert (run.status, run.counts, run.kind) == ("succeeded", {"created": 1}, "hris")
    runner.close()


def test_missed_slots_after_downtime_run_once(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    make_runner(configs, store, job, clock).run_once()
    # The runner was down for three days (six slots): the next runner runs the customer once.
    clock.set(utc(2025, 1, 18, 9, 0))
    runner = make_runner(configs, store, job, clock)
    assert runner.run_once() == ["acme"]
    assert runner.run_once() == []
    clock.advance(timedelta(hours=1))
    assert runner.run_once() == []
    assert len(job.calls) == 1
    runner.close()


@pytest.mark.parametrize(
    ("before", "slot"),
    [
        (utc(2025, 3, 29, 23, 0), utc(2025, 3, 30, 4, 30)),  # spring forward: 06:30 CEST
        (utc(2025, 10, 25, 23, 0), utc(2025, 10, 26, 5, 30)),  # fall back: 06:30 CET
    ],
)
def test_runs_at_0630_paris_on_dst_days(
    configs: Path, store: StateStore, before: datetime, slot: datetime
) -> None:
    clock, job = ManualClock(before), RecordingJob()
    runner = make_runner(configs, store, job, clock)
    runner.run_once()
    clock.set(slot - timedelta(minutes=1))
    assert runner.run_once() == []
    clock.set(slot)
    assert runner.run_once() == ["acme"]
    runner.close()


def test_failure_retries_with_backoff_then_quarantines_until_resumed(
    configs: Path, store: StateStore
) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    policy = RetryPolicy(
        first_delay=timedelta(minutes=5), factor=2, max_delay=timedelta(hours=1), quarantine_after=3
    )
    runner = make_runner(configs, store, job, clock, policy=policy)
    runner.run_once()
    job.outcome = FileLevelError("missing required column 'email'", file="hris_1.tsv", line=1)
    clock.set(AT_0630)
    assert runner.run_once() == ["acme"]
    status = store.customer_status("acme")
    assert (status.consecutive_failures, status.next_retry_at) == (1, AT_0630 + timedelta(minutes=5))
    assert "hris_1.tsv:1" in (store.list_runs("acme")[0].error or "")

    clock.set(AT_0630 + timedelta(minutes=4, seconds=59))
    assert runner.run_once() == [], "backoff not elapsed"
    clock.set(AT_0630 + timedelta(minutes=5))
    assert runner.run_once() == ["acme"]
    assert store.customer_status("acme").next_retry_at == AT_0630 + timedelta(minutes=15), "doubled"
    clock.set(AT_0630 + timedelta(minutes=15))
    assert runner.run_once() == ["acme"]
    quarantined = store.customer_status("acme")
    assert quarantined.quarantined and "3 consecutive" in (quarantined.quarantine_reason or "")

    clock.set(utc(2025, 1, 16, 5, 30))  # the next slot: paused while quarantined
    assert runner.run_once() == []
    job.outcome = RunOutcome(status="succeeded")
    assert store.resume("acme", run_at=clock.now())
    assert runner.run_once() == ["acme"]
    assert store.customer_status("acme").consecutive_failures == 0
    assert [r.status for r in store.list_runs("acme")] == ["succeeded", "failed", "failed", "failed"]
    runner.close()


def test_a_sync_run_by_hand_that_succeeds_drops_the_pending_retry(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock)
    env = runner.settings.environment
    runner.run_once()
    job.outcome = FileLevelError("missing required column 'email'", file="hris_1.tsv", line=1)
    clock.set(AT_0630)
    assert runner.run_once() == ["acme"]
    retry_at = store.customer_status("acme").next_retry_at
    assert retry_at is not None

    def by_hand(environment: str, status: str) -> None:  # what `lmsync run-now` records
        run_id = store.start_run("acme", environment, "hris", now=clock.advance(timedelta(seconds=30)))
        store.finish_run(run_id, status, counts={}, now=clock.advance(timedelta(seconds=1)))

    by_hand("elsewhere", "succeeded")  # another environment proves nothing here
    by_hand(env, "skipped")  # nor does a run that had nothing to do
    clock.set(retry_at)
    assert runner.run_once() == ["acme"], "the retry still runs"
    assert store.customer_status("acme").consecutive_failures == 2

    by_hand(env, "succeeded")
    clock.set(store.customer_status("acme").next_retry_at or AT_0630)
    assert runner.run_once() == [], "no retry after the success by hand"
    status = store.customer_status("acme")
    assert (status.consecutive_failures, status.next_retry_at, status.last_error) == (0, None, None)
    clock.set(utc(2025, 1, 15, 22, 30))  # the next slot runs as usual
    job.outcome = RunOutcome(status="succeeded")
    assert runner.run_once() == ["acme"]
    runner.close()


def test_unexpected_job_error_fails_the_run_without_its_text(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock)
    runner.run_once()
    job.outcome = KeyError("jane.doe@example.com")
    clock.set(AT_0630)
    runner.run_once()
    run = store.list_runs("acme")[0]
    assert run.status == "failed"
    assert run.error == "unexpected KeyError in the sync job"
    runner.close()


def test_interrupted_run_is_completed_first_with_its_journal(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    make_runner(configs, store, job, clock).run_once()
    run_id = store.start_run("acme", "production", "hris", now=BEFORE_0630)
    store.journal_pending(run_id, [JournalEntry(key="create_user:0001", seq=1, action="create_user")])
    runner = make_runner(configs, store, job, clock)
    assert runner.run_once() == ["acme"], "resumed although no slot is due"
    ctx = job.calls[0][2]
    assert ctx.resuming and ctx.run_id == run_id and ctx.resumed is not None
    assert store.get_run(run_id).status == "succeeded"
    assert store.unfinished_runs("acme") == []
    runner.close()


@pytest.mark.parametrize(
    ("environment", "kind"), [("test", "hris"), ("production", "apply")], ids=["test-env", "apply"]
)
def test_an_unfinished_run_of_another_environment_or_kind_is_never_taken_over(
    configs: Path, store: StateStore, environment: str, kind: str
) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    make_runner(configs, store, job, clock).run_once()
    run_id = store.start_run("acme", environment, kind, now=BEFORE_0630)
    store.journal_pending(run_id, [JournalEntry(key="create_user:0001", seq=1, action="create_user")])
    runner = make_runner(configs, store, job, clock)
    assert runner.run_once() == [], "not due, and the unfinished run is not the scheduled sync's"
    clock.set(AT_0630)
    assert runner.run_once() == ["acme"]
    ctx = job.calls[0][2]
    assert not ctx.resuming and ctx.run_id != run_id
    assert store.get_run(run_id).status == "running", "left to the command that started it"
    runner.close()


def test_lock_held_elsewhere_blocks_until_its_lease_expires(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock, lock_ttl=timedelta(seconds=60))
    runner.run_once()
    clock.set(AT_0630)
    assert store.acquire_lock(lock_name("acme"), "crashed-runner", ttl=timedelta(seconds=60), now=AT_0630)
    assert runner.run_once() == []
    clock.advance(timedelta(seconds=60))
    assert runner.run_once() == ["acme"]
    assert store.lock_holder(lock_name("acme"), now=clock.now()) is None, "released after the run"
    runner.close()


def test_concurrency_is_bounded_and_one_run_per_customer(configs: Path, store: StateStore) -> None:
    for slug in ("beta", "gamma"):
        write_customer(configs, slug)
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    job.gate = threading.Event()
    runner = make_runner(configs, store, job, clock, max_workers=2)
    runner.run_once()
    clock.set(AT_0630)
    assert runner.tick() == ["acme", "beta"]
    for _ in range(2):
        assert job.entered.acquire(timeout=10)
    assert runner.tick() == [], "both workers busy; acme and beta already running"
    job.gate.set()
    runner.wait_idle()
    assert runner.run_once() == ["gamma"]
    assert sorted(job.customers()) == ["acme", "beta", "gamma"]
    runner.close()


def test_changed_and_switched_configurations_are_picked_up(tmp_path: Path, store: StateStore) -> None:
    release_1, release_2 = tmp_path / "releases" / "1", tmp_path / "releases" / "2"
    write_customer(release_1, "acme")
    write_customer(release_2, "acme", times='"07:00"')
    write_customer(release_2, "beta", times='"07:00"')
    current = tmp_path / "current"
    current.symlink_to(release_1)
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(current, store, job, clock)
    runner.run_once()
    # Deploy: switch `current` atomically, as a deploy does; no restart.
    (tmp_path / "next").symlink_to(release_2)
    os.replace(tmp_path / "next", current)
    clock.set(AT_0630)
    assert runner.run_once() == [], "06:30 is no longer in acme's schedule"
    clock.set(utc(2025, 1, 15, 6, 0))  # 07:00 Paris
    # beta appeared with the deploy (seen at 06:30): 07:00 is its first slot.
    assert runner.run_once() == ["acme", "beta"]
    # Editing a file in place is picked up too.
    write_customer(release_2, "acme", times='"07:00", "08:00"')
    clock.set(utc(2025, 1, 15, 7, 0))
    assert runner.run_once() == ["acme"]
    runner.close()


def test_invalid_new_version_keeps_the_last_valid_one(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock)
    runner.run_once()
    (configs / "acme.yaml").write_text("version: 1\ncustomer: acme\nbogus: true\n", encoding="utf-8")
    clock.set(AT_0630)
    assert runner.run_once() == ["acme"]
    runner.close()


def test_stop_interrupts_the_job_and_the_next_runner_finishes_it(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    job.gate = threading.Event()
    runner = make_runner(configs, store, job, clock)
    runner.run_once()
    clock.set(AT_0630)
    assert runner.tick() == ["acme"]
    assert job.entered.acquire(timeout=10)
    runner.stop()
    runner.wait_idle()
    assert runner.tick() == [], "a stopping runner takes no work"
    run = store.list_runs("acme")[0]
    assert run.status == "interrupted"
    runner.close()

    job.gate = None
    successor = make_runner(configs, store, job, clock)
    assert successor.run_once() == ["acme"]
    assert job.calls[-1][2].run_id == run.id
    assert store.get_run(run.id).status == "succeeded"
    successor.close()


def test_customers_without_the_environment_are_not_run(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE_0630), RecordingJob()
    runner = make_runner(configs, store, job, clock, environment="staging")
    runner.run_once()
    clock.set(AT_0630)
    assert runner.run_once() == []
    runner.close()
