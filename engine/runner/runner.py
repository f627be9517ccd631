"""The runner: performs every customer's scheduled syncs, one at a time per customer.

Each tick it refreshes the customer files, decides who is due (an interrupted run to finish
first, a schedule slot passed, a retry whose backoff elapsed), takes the customer's lease
lock in the store and hands the job to a bounded pool of workers. The lock, not this
process, is what keeps two runs of one customer apart: two runner processes on one
PostgreSQL state re-check the customer's status once they hold the lock, so a slot is run
once. A failed run is retried with backoff and, after repeated failures, the customer is
quarantined until an SA resumes it.

The runner knows nothing about syncing: it calls an injected job. Besides the HRIS sync it
runs ``DailyJob`` values (e.g. the Cornerstone completions push): once a day per customer at
the local time the customer's file gives, each under its own lock and decided from its own
run history, so it never waits for, blocks or resumes the HRIS sync. Listeners hear the
customer files at each tick (the catalog feeds follow them). It never prints (it reports
through a Reporter) and never reads the time except through its Clock.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from engine.config.models import CustomerConfig, Schedule
from engine.console import Reporter, SilentReporter
from engine.errors import LmsyncError
from engine.runner.catalog import ConfigCatalog, LoadedConfig
from engine.runner.clock import Clock
from engine.runner.context import Job, RunContext, RunOutcome
from engine.runner.history import due_from_history
from engine.runner.lease import LeaseKeeper
from engine.runner.notify import RecapMailer, compose_recap
from engine.runner.policy import Reason, RetryPolicy, due_reason
from engine.runner.schedule import latest_fire_at_or_before
from engine.state import RunRecord, StateStore

HRIS_KIND = "hris"
#: How many of a customer's latest runs are read to decide a daily job (its failures in a row).
HISTORY_DEPTH = 100


@dataclass(frozen=True)
class DailyJob:
    """A job run once a day per customer besides the HRIS sync.

    ``schedule(config)`` gives the customer's local time for it, or None when the customer
    does not have this job. Runs are recorded with ``kind``; a failed run is retried with the
    runner's backoff, at most ``policy.quarantine_after`` times, then waits for the next day.
    """

    kind: str
    job: Job
    schedule: Callable[[CustomerConfig], Schedule | None]


#: Hears the customer files served, at each tick (before any job starts).
ConfigListener = Callable[[Mapping[str, LoadedConfig]], None]


@dataclass(frozen=True)
class RunnerSettings:
    """How the runner paces itself."""

    environment: str = "production"
    max_workers: int = 2
    lock_ttl: timedelta = timedelta(seconds=60)
    #: Seconds between lease renewals; a third of the TTL leaves room for two missed beats.
    heartbeat_interval: float | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)


def lock_name(customer: str) -> str:
    """The lock every writer of a customer takes: the runner, ``lmsync apply``, ``sync``, ``run-now``."""
    return f"customer:{customer}"


class Runner:
    """Runs due jobs for the customer files under ``configs_dir``."""

    def __init__(
        self,
        configs_dir: Path,
        store: StateStore,
        job: Job,
        clock: Clock,
        *,
        settings: RunnerSettings | None = None,
        mailer: RecapMailer | None = None,
        reporter: Reporter | None = None,
        owner: str | None = None,
        daily_jobs: Sequence[DailyJob] = (),
        config_listeners: Sequence[ConfigListener] = (),
    ) -> None:
        self.settings = settings or RunnerSettings()
        if self.settings.max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._store, self._job, self._clock, self._mailer = store, job, clock, mailer
        # cast: SilentReporter.progress is a context manager, which the Protocol spells as an
        # Iterator; the two agree at run time.
        self._reporter: Reporter = reporter if reporter is not None else cast(Reporter, SilentReporter())
        self._catalog = ConfigCatalog(configs_dir, self._reporter)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.max_workers, thread_name_prefix="lmsync-run"
        )
        self._guard = threading.Lock()
        self._in_flight: dict[str, RunContext | None] = {}
        self._futures: set[Future[None]] = set()
        self._stopping = threading.Event()
        self._daily = tuple(daily_jobs)
        self._listeners = tuple(config_listeners)
        #: When this process first saw a (kind, customer) without any run: its slots count from then.
        self._first_seen: dict[tuple[str, str], datetime] = {}
        #: File versions (customer, sha256) already warned about for lacking the environment.
        self._unserved: set[tuple[str, str]] = set()
        #: Jobs (slug, or kind:slug) whose run failed since ``run_once`` started.
        self._failed: set[str] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking work and ask running jobs to journal and return (SIGTERM)."""
        self._stopping.set()
        with self._guard:
            contexts = [ctx for ctx in self._in_flight.values() if ctx is not None]
        for ctx in contexts:
            ctx.request_stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run_forever(self, *, poll_interval: float = 15.0) -> None:
        """Tick until ``stop()``; then let running jobs finish (or journal) and return."""
        while not self._stopping.is_set():
            try:
                self.tick()
            except LmsyncError as exc:
                # The store may be briefly unreachable: say so and try again next tick.
                self._reporter.warn(f"runner tick failed: {exc}")
            self._stopping.wait(poll_interval)
        self.wait_idle()
        self.close()

    def run_once(self) -> list[str]:
        """One tick, then wait for the jobs it started; returns the customers run (``failed``
        then names those whose run failed, so ``--once`` under cron can exit non-zero)."""
        with self._guard:
            self._failed.clear()
        started = self.tick()
        self.wait_idle()
        return started

    @property
    def failed(self) -> list[str]:
        """The jobs (slug, or kind:slug) whose run failed since the last ``run_once`` began."""
        with self._guard:
            return sorted(self._failed)

    def wait_idle(self, timeout: float | None = None) -> None:
        with self._guard:
            futures = set(self._futures)
        wait(futures, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- deciding ------------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Start the jobs that are due now (as many as free workers allow)."""
        if self._stopping.is_set():
            return []
        configs = self._catalog.refresh()
        self._tell_listeners(configs)
        self._warn_unserved(configs)
        started: list[str] = []
        for slug, loaded in sorted(configs.items()):
            if self._stopping.is_set():
                break
            with self._guard:
                if slug in self._in_flight:
                    continue
                if len(self._in_flight) >= self.settings.max_workers:
                    break
            if self._try_start(slug, loaded):
                started.append(slug)
        for daily in self._daily:
            for slug, loaded in sorted(configs.items()):
                key = f"{daily.kind}:{slug}"
                with self._guard:
                    if self._stopping.is_set() or len(self._in_flight) >= self.settings.max_workers:
                        return started
                    if key in self._in_flight:
                        continue
                if self._try_start_daily(daily, key, loaded):
                    started.append(key)
        return started

    def _tell_listeners(self, configs: Mapping[str, LoadedConfig]) -> None:
        for listener in self._listeners:
            try:
                listener(configs)
            except Exception as exc:  # a listener's failure must not stop the syncs
                # Only the type: an unexpected error's text may hold personal data.
                self._reporter.warn(f"runner: a configuration listener failed ({type(exc).__name__})")

    def _warn_unserved(self, configs: Mapping[str, LoadedConfig]) -> None:
        """Say once per file version that a customer lacks this runner's environment: otherwise
        it is silently never run, and `--once` reports "nothing was due"."""
        env = self.settings.environment
        for slug, loaded in sorted(configs.items()):
            key = (slug, loaded.sha256)
            if env in loaded.config.environments or key in self._unserved:
                continue
            self._unserved.add(key)
            self._reporter.warn(
                f"{slug} has no environment '{env}'; the runner (--environment {env}) does not run it"
            )

    def _decide(self, slug: str, loaded: LoadedConfig) -> tuple[Reason | None, RunRecord | None]:
        hris = loaded.config.hris
        assert hris is not None  # callers check
        now = self._clock.now()
        slot = latest_fire_at_or_before(hris.schedule, now)
        status = self._store.customer_status(slug)
        # Only the sync's own unfinished runs in this runner's environment are its to finish: a
        # daily job's run is that job's, a killed `lmsync apply` resumes itself, and a test
        # environment's journal must never be replayed against production.
        env = self.settings.environment
        unfinished = [
            run
            for run in self._store.unfinished_runs(slug)
            if run.kind == HRIS_KIND and run.environment == env
        ]
        if status.last_slot is None and not unfinished:
            # First sight of this customer: start counting slots from now on.
            self._store.record_slot(slug, slot)
            return None, None
        if status.consecutive_failures and not status.quarantined and self._recovered(slug, env):
            # A sync run by hand (`lmsync run-now`, `lmsync sync`) succeeded after the failure:
            # the retry is moot, and the next failure must not count the old ones.
            self._store.record_success(slug, now=now)
            self._reporter.info(f"{slug}: a later run succeeded; the pending retry is dropped")
            status = self._store.customer_status(slug)
        reason = due_reason(status, latest_slot=slot, now=now, has_unfinished=bool(unfinished))
        return reason, (unfinished[0] if unfinished else None)

    def _recovered(self, slug: str, env: str) -> bool:
        """Whether the latest finished HRIS sync of ``slug`` in ``env`` succeeded (the runner
        records its own success at once, so a success still followed by a failure count was
        a run made by hand)."""
        finished = (
            run
            for run in self._store.list_runs(slug, limit=HISTORY_DEPTH)
            if run.kind == HRIS_KIND and run.environment == env and not run.unfinished
        )
        latest = next(finished, None)  # list_runs gives the most recent first
        return latest is not None and latest.status == "succeeded"

    def _try_start(self, slug: str, loaded: LoadedConfig) -> bool:
        config = loaded.config
        if config.hris is None or self.settings.environment not in config.environments:
            return False
        reason, _ = self._decide(slug, loaded)
        if reason is None:
            return False
        now = self._clock.now()
        if not self._store.acquire_lock(lock_name(slug), self.owner, ttl=self.settings.lock_ttl, now=now):
            return False
        try:
            # Holding the lock, look again: another runner may have just run this slot.
            reason, unfinished = self._decide(slug, loaded)
            if reason is None:
                self._store.release_lock(lock_name(slug), self.owner)
                return False
            with self._guard:
                self._in_flight[slug] = None
                future = self._pool.submit(self._execute, loaded, reason, unfinished)
                self._futures.add(future)
            future.add_done_callback(self._forget(slug))
            return True
        except BaseException:
            self._store.release_lock(lock_name(slug), self.owner)
            raise

    def _forget(self, slug: str) -> Callable[[Future[None]], None]:
        def done(future: Future[None]) -> None:
            with self._guard:
                self._in_flight.pop(slug, None)
                self._futures.discard(future)
            if (exc := future.exception()) is not None:
                self._reporter.warn(f"{slug}: the runner failed around a run: {exc}")

        return done

    # --- running -------------------------------------------------------------------------------

    def _execute(self, loaded: LoadedConfig, reason: Reason, unfinished: RunRecord | None) -> None:
        config, slug, env = loaded.config, loaded.config.customer, self.settings.environment
        assert config.hris is not None
        ttl = self.settings.lock_ttl
        interval = self.settings.heartbeat_interval or max(ttl.total_seconds() / 3, 0.05)
        try:
            now = self._clock.now()
            if reason is not Reason.RESUME:
                # This run covers every slot up to now; finishing an old run does not, so a
                # slot that passed meanwhile still runs next.
                self._store.record_slot(slug, latest_fire_at_or_before(config.hris.schedule, now))
            if unfinished is not None:
                run_id = unfinished.id
                self._store.reopen_run(run_id)
                self._reporter.info(f"{slug}: completing interrupted run {run_id}")
            else:
                run_id = self._store.start_run(slug, env, HRIS_KIND, now=now)
                self._reporter.info(f"{slug}: run {run_id} started ({reason.value})")
            ctx = RunContext(
                run_id=run_id,
                customer=slug,
                environment=env,
                kind=HRIS_KIND,
                store=self._store,
                clock=self._clock,
                reporter=self._reporter,
                resumed=unfinished,
                config_path=loaded.path,
            )
            with self._guard:
                self._in_flight[slug] = ctx
            if self._stopping.is_set():
                ctx.request_stop()
            keeper = LeaseKeeper(
                self._store,
                lock_name(slug),
                self.owner,
                ttl=ttl,
                clock=self._clock,
                interval=interval,
                on_lost=ctx.stop_event,
            )
            with keeper:
                outcome = self._call_job(config, env, ctx)
            if keeper.lost:
                # Another runner took the customer over: the run is its to finish now.
                self._reporter.warn(f"{slug}: lost the lock during run {run_id}; left to its new holder")
                return
            self._record(loaded, run_id, outcome)
        except BaseException:
            self._mark_failed(slug)  # here, not in the done callback, which may run after wait()
            raise
        finally:
            self._store.release_lock(lock_name(slug), self.owner)

    def _mark_failed(self, key: str) -> None:
        with self._guard:
            self._failed.add(key)

    def _call_job(
        self, config: CustomerConfig, env: str, ctx: RunContext, job: Job | None = None
    ) -> RunOutcome:
        try:
            return (job or self._job)(config, env, ctx)
        except LmsyncError as exc:
            return RunOutcome(status="failed", error=str(exc))
        except Exception as exc:
            # The text of an unexpected error may hold personal data: keep only its type.
            return RunOutcome(status="failed", error=f"unexpected {type(exc).__name__} in the sync job")

    def _record(self, loaded: LoadedConfig, run_id: str, outcome: RunOutcome) -> None:
        store, slug, now = self._store, loaded.config.customer, self._clock.now()
        if outcome.file_name and outcome.file_sha256:
            store.set_run_file(run_id, file_name=outcome.file_name, file_sha256=outcome.file_sha256)
        if outcome.report:
            store.save_report(run_id, outcome.report)
        store.finish_run(run_id, outcome.status, counts=outcome.counts, error=outcome.error, now=now)
        quarantined: str | None = None
        if outcome.status == "failed":
            self._mark_failed(slug)
            policy = self.settings.policy
            failures = store.customer_status(slug).consecutive_failures + 1
            if policy.should_quarantine(failures):
                quarantined = f"{failures} consecutive failed runs; last: {outcome.error or 'unknown error'}"
                store.record_failure(slug, error=outcome.error or "failed", next_retry_at=None, now=now)
                store.quarantine(slug, reason=quarantined, now=now)
                self._reporter.warn(f"{slug}: quarantined after {failures} consecutive failures")
            else:
                retry = policy.next_retry(failures, now)
                store.record_failure(slug, error=outcome.error or "failed", next_retry_at=retry, now=now)
                self._reporter.warn(f"{slug}: run {run_id} failed; retry at {retry:%Y-%m-%d %H:%M} UTC")
        elif outcome.status in ("succeeded", "skipped"):
            store.record_success(slug, now=now)
            self._reporter.info(f"{slug}: run {run_id} {outcome.status}")
        if outcome.status in ("succeeded", "failed"):
            self._notify(loaded, store.get_run(run_id), outcome, quarantined)

    def _notify(
        self, loaded: LoadedConfig, run: RunRecord, outcome: RunOutcome, quarantined: str | None
    ) -> None:
        hris = loaded.config.hris
        if self._mailer is None or hris is None or not hris.notify:
            return
        recap = compose_recap(
            run, list(outcome.report), problems=outcome.problems, quarantined_reason=quarantined
        )
        try:
            self._mailer.send(hris.notify, recap)
        except LmsyncError as exc:
            self._reporter.warn(f"{run.customer}: {exc}")

    # --- daily jobs ----------------------------------------------------------------------------

    def _decide_daily(
        self, daily: DailyJob, slug: str, schedule: Schedule
    ) -> tuple[Reason | None, RunRecord | None]:
        now = self._clock.now()
        runs = [run for run in self._store.list_runs(slug, limit=HISTORY_DEPTH) if run.kind == daily.kind]
        unfinished = [run for run in self._store.unfinished_runs(slug) if run.kind == daily.kind]
        first_seen = self._first_seen.setdefault((daily.kind, slug), now)
        reason = due_from_history(
            runs,
            has_unfinished=bool(unfinished),
            latest_slot=latest_fire_at_or_before(schedule, now),
            now=now,
            first_seen=first_seen,
            policy=self.settings.policy,
        )
        return reason, (unfinished[0] if unfinished else None)

    def _try_start_daily(self, daily: DailyJob, key: str, loaded: LoadedConfig) -> bool:
        config, slug = loaded.config, loaded.config.customer
        schedule = daily.schedule(config)
        if schedule is None or self.settings.environment not in config.environments:
            return False
        reason, _ = self._decide_daily(daily, slug, schedule)
        if reason is None:
            return False
        if not self._store.acquire_lock(key, self.owner, ttl=self.settings.lock_ttl, now=self._clock.now()):
            return False
        try:
            reason, unfinished = self._decide_daily(daily, slug, schedule)  # another runner may have run it
            if reason is None:
                self._store.release_lock(key, self.owner)
                return False
            with self._guard:
                self._in_flight[key] = None
                future = self._pool.submit(self._execute_daily, daily, key, loaded, reason, unfinished)
                self._futures.add(future)
            future.add_done_callback(self._forget(key))
            return True
        except BaseException:
            self._store.release_lock(key, self.owner)
            raise

    def _execute_daily(
        self, daily: DailyJob, key: str, loaded: LoadedConfig, reason: Reason, unfinished: RunRecord | None
    ) -> None:
        config, slug, env, store = (
            loaded.config,
            loaded.config.customer,
            self.settings.environment,
            self._store,
        )
        ttl = self.settings.lock_ttl
        try:
            if unfinished is not None:
                run_id = unfinished.id
                store.reopen_run(run_id)
            else:
                run_id = store.start_run(slug, env, daily.kind, now=self._clock.now())
            self._reporter.info(f"{slug}: {daily.kind} run {run_id} started ({reason.value})")
            ctx = RunContext(
                run_id=run_id,
                customer=slug,
                environment=env,
                kind=daily.kind,
                store=store,
                clock=self._clock,
                reporter=self._reporter,
                resumed=unfinished,
                config_path=loaded.path,
            )
            with self._guard:
                self._in_flight[key] = ctx
            if self._stopping.is_set():
                ctx.request_stop()
            interval = self.settings.heartbeat_interval or max(ttl.total_seconds() / 3, 0.05)
            keeper = LeaseKeeper(
                store, key, self.owner, ttl=ttl, clock=self._clock, interval=interval, on_lost=ctx.stop_event
            )
            with keeper:
                outcome = self._call_job(config, env, ctx, daily.job)
            if keeper.lost:
                self._reporter.warn(
                    f"{slug}: lost the lock during {daily.kind} run {run_id}; left to its new holder"
                )
                return
            if outcome.report:
                store.save_report(run_id, outcome.report)
            store.finish_run(
                run_id, outcome.status, counts=outcome.counts, error=outcome.error, now=self._clock.now()
            )
            said = f"{slug}: {daily.kind} run {run_id} {outcome.status}"
            if outcome.status == "failed":
                self._mark_failed(key)
                self._reporter.warn(f"{said}: {outcome.error or 'unknown error'}")
            else:
                self._reporter.info(said)
        except BaseException:
            self._mark_failed(key)
            raise
        finally:
            store.release_lock(key, self.owner)

    def statuses(self) -> Mapping[str, LoadedConfig]:
        """The customer files currently served (for the CLI's status output)."""
        return self._catalog.refresh()
