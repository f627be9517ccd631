"""A sync started by a person (``lmsync sync``, ``lmsync run-now``), run like the runner runs it.

It takes the customer's lock (the same lease the runner takes, renewed by a heartbeat), so a
manual sync never runs beside a scheduled one, on this machine or another sharing the
state. It completes an interrupted run of the same customer and environment before
starting anything new, records the run in the history (``lmsync runs``) with its files,
counts and per-user log, and sends the recap e-mail when a mailer is given. It does not
touch the runner's retry and quarantine bookkeeping: that belongs to scheduled runs.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.errors import ConfigError, LmsyncError, LockHeldError
from engine.runner.clock import Clock
from engine.runner.lease import LeaseKeeper
from engine.runner.notify import RecapMailer, compose_recap
from engine.runner.runner import HRIS_KIND, lock_name
from engine.state import StateStore
from engine.sync.outcome import SyncOutcome
from engine.sync.pipeline import require_hris, sync_files
from engine.sync.runner_job import to_run_outcome

LOCK_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class ManualRun:
    """The recorded run and what it did."""

    run_id: str
    resumed: bool
    outcome: SyncOutcome
    error_text: str | None
    #: False when another runner took the customer's lock over during the run: the run is
    #: then that runner's to finish and was not recorded here.
    recorded: bool = True


def require_environment(config: CustomerConfig, environment: str) -> None:
    if environment not in config.environments:
        known = ", ".join(sorted(config.environments))
        raise ConfigError(
            f"customer {config.customer} has no environment '{environment}'",
            hint=f"use one of: {known}",
        )


def run_manual(
    config: CustomerConfig,
    environment: str,
    *,
    config_path: Path,
    store: StateStore,
    clock: Clock,
    reporter: Reporter,
    allow_deletions: int | None = None,
    stop_event: threading.Event | None = None,
    mailer: RecapMailer | None = None,
    lock_ttl: timedelta = LOCK_TTL,
) -> ManualRun:
    """Run the customer's sync now, under its lock, recorded like a scheduled run."""
    hris = require_hris(config)
    require_environment(config, environment)
    customer, stop = config.customer, stop_event if stop_event is not None else threading.Event()
    owner = f"{socket.gethostname()}:{os.getpid()}:manual-{secrets.token_hex(3)}"
    lock = lock_name(customer)
    if not store.acquire_lock(lock, owner, ttl=lock_ttl, now=clock.now()):
        holder = store.lock_holder(lock, now=clock.now()) or "another process"
        raise LockHeldError(
            f"{customer}: a run is in progress ({holder} holds the customer's lock)",
            hint=f"wait for it to finish (`lmsync runs {customer}`), then run this again",
        )
    try:
        unfinished = [
            run
            for run in store.unfinished_runs(customer)
            if run.environment == environment and run.kind == HRIS_KIND
        ]
        if unfinished:
            run_id = unfinished[0].id
            store.reopen_run(run_id)
            reporter.info(f"{customer}: completing interrupted run {run_id} from its journal first")
        else:
            run_id = store.start_run(customer, environment, HRIS_KIND, now=clock.now())
            reporter.info(f"{customer}: run {run_id} started ({environment})")
        keeper = LeaseKeeper(
            store,
            lock,
            owner,
            ttl=lock_ttl,
            clock=clock,
            interval=max(lock_ttl.total_seconds() / 3, 0.05),
            on_lost=stop,
        )
        with keeper:
            outcome = sync_files(
                config,
                environment,
                store=store,
                run_id=run_id,
                base_dir=config_path.parent,
                reporter=reporter,
                now=clock.now,
                allow_deletions=allow_deletions,
                stop_event=stop,
                on_file=lambda name, sha: store.set_run_file(run_id, file_name=name, file_sha256=sha),
            )
        result = to_run_outcome(
            outcome, customer=customer, environment=environment, run_id=run_id, scheduled=False
        )
        if keeper.lost:
            reporter.warn(f"{customer}: lost the customer's lock during run {run_id}; left to its new holder")
            return ManualRun(run_id, bool(unfinished), outcome, result.error, recorded=False)
        if result.file_name and result.file_sha256:
            store.set_run_file(run_id, file_name=result.file_name, file_sha256=result.file_sha256)
        if result.report:
            store.save_report(run_id, result.report)
        store.finish_run(run_id, result.status, counts=result.counts, error=result.error, now=clock.now())
    finally:
        store.release_lock(lock, owner)
    if mailer is not None and hris.notify and result.status in ("succeeded", "failed"):
        recap = compose_recap(store.get_run(run_id), list(result.report), problems=result.problems)
        try:
            mailer.send(hris.notify, recap)
        except LmsyncError as exc:
            reporter.warn(f"{customer}: {exc}")
    return ManualRun(run_id, bool(unfinished), outcome, result.error)
