"""Daily jobs in the runner (the Cornerstone completions push), with a hand-moved clock.

The job's schedule comes from the customer file (``cornerstone.completions.time`` in its own
time zone), it runs under its own lock beside the HRIS sync, its state is its run history.
A recording job stands in for the push here; the push itself runs against the sandboxes in
tests/connectors/cornerstone/test_csod_runner.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Unpack

import pytest

from engine.config.models import CustomerConfig
from engine.cornerstone.runner_job import KIND, completions_schedule, days_to_push
from engine.runner.catalog import LoadedConfig
from engine.runner.context import RunContext, RunOutcome
from engine.runner.history import due_from_history
from engine.runner.policy import Reason, RetryPolicy
from engine.runner.runner import DailyJob, Runner, RunnerSettings
from engine.state import RunRecord, StateStore
from tests.engine.runner.helpers import ManualClock, SettingsFields, utc, write_customer

# Wednesday 15 January 2025. Chicago is UTC-6 in winter: 02:00 there is 08:00 UTC.
BEFORE = utc(2025, 1, 15, 7, 0)
SLOT = utc(2025, 1, 15, 8, 0)

WITH_COMPLETIONS = """\
version: 1
customer: {slug}
environments:
  production:
    lms: {{url: "http://127.0.0.1:8361", client_id: "env:P_ID", client_secret: "env:P_SECRET"}}
    cornerstone: {{url: "http://127.0.0.1:8371", client_id: "env:C_ID", client_secret: "env:C_SECRET"}}
  test:
    lms: {{url: "http://127.0.0.1:8360", client_id: "env:T_ID", client_secret: "env:T_SECRET"}}
    cornerstone: {{url: "http://127.0.0.1:8370", client_id: "env:C_ID", client_secret: "env:C_SECRET"}}
cornerstone:
  completions: {{time: "02:00", timezone: America/Chicago{extra}}}
"""


class RecordingJob:
    def __init__(self, outcome: RunOutcome | None = None) -> None:
        self.calls: list[RunContext] = []
        self.outcome = outcome or RunOutcome(status="succeeded", counts={"pushed": 2})

    def __call__(self, config: CustomerConfig, environment: str, ctx: RunContext) -> RunOutcome:
        self.calls.append(ctx)
        return self.outcome


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture()
def configs(tmp_path: Path) -> Path:
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "acme.yaml").write_text(WITH_COMPLETIONS.format(slug="acme", extra=""), encoding="utf-8")
    return folder


def make_runner(
    configs: Path,
    store: StateStore,
    clock: ManualClock,
    daily: RecordingJob,
    hris: RecordingJob | None = None,
    **settings: Unpack[SettingsFields],
) -> Runner:
    return Runner(
        configs,
        store,
        hris or RecordingJob(),
        clock,
        settings=RunnerSettings(**settings),
        daily_jobs=[DailyJob(KIND, daily, completions_schedule)],
    )


def test_the_push_fires_daily_at_the_customers_local_time(configs: Path, store: StateStore) -> None:
    clock, job = ManualClock(BEFORE), RecordingJob()
    runner = make_runner(configs, store, clock, job)
    assert runner.run_once() == [], "first sight: nothing outside the schedule"
    clock.set(SLOT - timedelta(seconds=1))
    assert runner.run_once() == []
    clock.set(SLOT)
    assert runner.run_once() == [f"{KIND}:acme"]
    assert runner.run_once() == [], "one slot, one run"
    clock.set(SLOT + timedelta(hours=23, minutes=59))
    assert runner.run_once() == []
    clock.set(SLOT + timedelta(days=1))
    assert runner.run_once() == [f"{KIND}:acme"]
    runs = store.list_runs("acme")
    assert [(r.kind, r.status, r.counts) for r in runs] == [(KIND, "succeeded", {"pushed": 2})] * 2
    assert [ctx.environment for ctx in job.calls] == ["production", "production"]
    runner.close()


def test_across_a_dst_change_it_still_fires_at_0200_local(configs: Path, store: StateStore) -> None:
    # Chicago springs forward on Sunday 9 March 2025 (02:00 does not exist: fires at 03:00 CDT
    # = 08:00 UTC) and is at UTC-5 afterwards: 02:00 CDT on the 10th is 07:00 UTC.
    clock, job = ManualClock(utc(2025, 3, 8, 12, 0)), RecordingJob()
    runner = make_runner(configs, store, clock, job)
    runner.run_once()
    clock.set(utc(2025, 3, 9, 7, 59))
    assert runner.run_once() == []
    clock.set(utc(2025, 3, 9, 8, 0))
    assert runner.run_once() == [f"{KIND}:acme"]
    clock.set(utc(2025, 3, 10, 6, 59))
    assert runner.run_once() == []
    clock.set(utc(2025, 3, 10, 7, 0))
    assert runner.run_once() == [f"{KIND}:acme"]
    runner.close()


HRIS_SECTION = """\
hris:
  source: {type: folder, path: inbox}
  group: g-acme
  admin: sa@example.com
  schedule: {times: ["02:00"], timezone: America/Chicago}
"""


def test_it_runs_beside_the_hris_sync_under_its_own_lock(configs: Path, store: StateStore) -> None:
    with (configs / "acme.yaml").open("a", encoding="utf-8") as file:
        file.write(HRIS_SECTION)
    clock, daily, sync = ManualClock(BEFORE), RecordingJob(), RecordingJob(RunOutcome(status="succeeded"))
    runner = make_runner(configs, store, clock, daily, sync)
    runner.run_once()
    clock.set(SLOT)  # the HRIS schedule and the push are both due at 02:00 Chicago
    assert sorted(runner.run_once()) == ["acme", f"{KIND}:acme"]
    assert sorted(r.kind for r in store.list_runs("acme")) == [KIND, "hris"]
    assert (len(sync.calls), len(daily.calls)) == (1, 1)
    runner.close()


def test_an_interrupted_push_is_finished_by_the_push_never_by_the_sync(
    configs: Path, store: StateStore
) -> None:
    clock, daily, hris = ManualClock(BEFORE), RecordingJob(), RecordingJob()
    make_runner(configs, store, clock, daily, hris).run_once()
    run_id = store.start_run("acme", "production", KIND, now=BEFORE)  # a crash mid-push
    runner = make_runner(configs, store, clock, daily, hris)
    assert runner.run_once() == [f"{KIND}:acme"], "resumed although no slot is due"
    assert daily.calls[0].run_id == run_id and daily.calls[0].resuming
    assert hris.calls == []
    assert store.get_run(run_id).status == "succeeded"
    runner.close()


def test_a_failed_push_is_retried_with_backoff_then_waits_for_the_next_day(
    configs: Path, store: StateStore
) -> None:
    clock = ManualClock(BEFORE)
    job = RecordingJob(RunOutcome(status="failed", error="portal answered 503"))
    policy = RetryPolicy(first_delay=timedelta(minutes=5), factor=2, quarantine_after=3)
    runner = make_runner(configs, store, clock, job, policy=policy)
    runner.run_once()
    clock.set(SLOT)
    assert runner.run_once() == [f"{KIND}:acme"]
    clock.set(SLOT + timedelta(minutes=4))
    assert runner.run_once() == [], "backoff not elapsed"
    clock.set(SLOT + timedelta(minutes=5))
    assert runner.run_once() == [f"{KIND}:acme"]
    clock.set(SLOT + timedelta(minutes=15))
    assert runner.run_once() == [f"{KIND}:acme"]
    clock.set(SLOT + timedelta(hours=6))
    assert runner.run_once() == [], "three failures in a row: no more retries today"
    job.outcome = RunOutcome(status="succeeded")
    clock.set(SLOT + timedelta(days=1))
    assert runner.run_once() == [f"{KIND}:acme"]
    assert [r.status for r in store.list_runs("acme")] == ["succeeded", "failed", "failed", "failed"]
    assert not store.customer_status("acme").quarantined, "the HRIS sync's status is untouched"
    runner.close()


def test_a_customer_without_the_push_or_with_it_disabled_never_runs_it(
    configs: Path, store: StateStore
) -> None:
    write_customer(configs, "plain")
    (configs / "off.yaml").write_text(
        WITH_COMPLETIONS.format(slug="off", extra=", enabled: false"), encoding="utf-8"
    )
    clock, job = ManualClock(BEFORE), RecordingJob()
    runner = make_runner(configs, store, clock, job)
    runner.run_once()
    clock.set(SLOT + timedelta(days=2))
    assert [key for key in runner.run_once() if key.startswith(KIND)] == [f"{KIND}:acme"]
    assert [ctx.customer for ctx in job.calls] == ["acme"]
    runner.close()


def test_listeners_hear_the_customer_files_at_each_tick(configs: Path, store: StateStore) -> None:
    heard: list[list[str]] = []

    def broken_listener(files: Mapping[str, LoadedConfig]) -> None:
        raise RuntimeError("a bug in a listener")

    runner = Runner(
        configs,
        store,
        RecordingJob(),
        ManualClock(BEFORE),
        config_listeners=[lambda files: heard.append(sorted(files)), broken_listener],
    )
    runner.run_once()
    write_customer(configs, "beta")
    runner.run_once()
    assert heard == [["acme"], ["acme", "beta"]], "a failing listener stops neither the others nor the tick"
    runner.close()


# --- the pure parts -------------------------------------------------------------------------


def run(status: str, started: datetime, *, finished: datetime | None = None) -> RunRecord:
    return RunRecord(
        id=f"r-{started}",
        customer="acme",
        environment="production",
        kind=KIND,
        status=status,
        started_at=started,
        finished_at=finished or started,
    )


def test_due_from_history() -> None:
    policy = RetryPolicy(first_delay=timedelta(minutes=5), quarantine_after=2)

    def due(runs: list[RunRecord], now: datetime, *, unfinished: bool = False) -> Reason | None:
        return due_from_history(
            runs,
            has_unfinished=unfinished,
            latest_slot=SLOT,
            now=now,
            first_seen=BEFORE,
            policy=policy,
        )

    assert due([], SLOT) is Reason.SCHEDULED
    assert due([], BEFORE, unfinished=True) is Reason.RESUME
    assert due([run("succeeded", SLOT)], SLOT + timedelta(hours=1)) is None
    assert due([run("succeeded", SLOT - timedelta(days=1))], SLOT) is Reason.SCHEDULED
    failed = run("failed", SLOT)
    assert due([failed], SLOT + timedelta(minutes=4)) is None
    assert due([failed], SLOT + timedelta(minutes=5)) is Reason.RETRY
    twice = [failed, run("failed", SLOT + timedelta(minutes=5))]
    assert due(twice, SLOT + timedelta(hours=5)) is None


def test_days_to_push_catch_up_after_the_last_success() -> None:
    now = utc(2025, 1, 15, 8, 0)  # 02:00 Chicago on the 15th: yesterday is the 14th
    assert days_to_push(None, now, "America/Chicago") == [date(2025, 1, 14)]
    assert days_to_push(utc(2025, 1, 14, 8, 0), now, "America/Chicago") == [date(2025, 1, 14)]
    three_days_down = days_to_push(utc(2025, 1, 11, 8, 0), now, "America/Chicago")
    assert three_days_down == [date(2025, 1, 11), date(2025, 1, 12), date(2025, 1, 13), date(2025, 1, 14)]
    assert days_to_push(utc(2025, 1, 15, 8, 0), now + timedelta(hours=1), "America/Chicago") == []
    capped = days_to_push(utc(2024, 11, 1, 8, 0), now, "America/Chicago", max_days=14)
    assert (len(capped), capped[-1]) == (14, date(2025, 1, 14))
