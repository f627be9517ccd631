"""Taking a customer's turn to apply a file: its lock, and finishing an interrupted run first.

``lmsync apply`` and the runner must never apply to one customer at the same time, so a run
holds the customer's lock, a lease with a short expiry renewed while it works: a process
killed with -9 stops renewing and the next one takes over once the lease ends. Before
starting a new run, an unfinished run of the same environment and the same file content
(same sha256) is reopened and continued under its id, so its journal's done steps are
skipped and nothing is applied twice.

This module must never apply anything; it decides which run id the work goes under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from engine.errors import LockHeldError
from engine.runner.runner import lock_name
from engine.state import StateStore, sqlite_database

#: A crashed holder's lock frees itself after this; the live holder renews it well before.
LOCK_TTL = timedelta(seconds=60)
#: Where run logs go when the state is not a SQLite file.
DEFAULT_RUNS_DIR = Path(".lmsync/runs")


@dataclass(frozen=True)
class ApplyRun:
    """The run an apply works under; ``resumed`` when it continues an interrupted one."""

    run_id: str
    resumed: bool


def open_apply_run(
    store: StateStore,
    customer: str,
    environment: str,
    *,
    file_name: str,
    file_sha256: str,
    owner: str,
    now: datetime,
    ttl: timedelta = LOCK_TTL,
) -> ApplyRun:
    """Take the customer's lock for ``owner``, then reopen the matching unfinished run or
    start a new one. Raises ``LockHeldError`` when another live process holds the lock."""
    name = lock_name(customer)
    if not store.acquire_lock(name, owner, ttl=ttl, now=now):
        holder = store.lock_holder(name, now=now) or "another process"
        seconds = int(ttl.total_seconds())
        raise LockHeldError(
            f"{customer}: {holder} is running a sync of this customer",
            hint=f"wait for it to finish; the lock of a crashed run frees itself within {seconds} s",
        )
    try:
        for run in store.unfinished_runs(customer):
            if run.environment == environment and run.file_sha256 == file_sha256:
                store.reopen_run(run.id)
                return ApplyRun(run.id, resumed=True)
        run_id = store.start_run(
            customer, environment, "apply", file_name=file_name, file_sha256=file_sha256, now=now
        )
    except BaseException:
        store.release_lock(name, owner)
        raise
    return ApplyRun(run_id, resumed=False)


def runs_directory(state_url: str) -> Path:
    """Run logs live beside the state: ``runs/`` next to a SQLite file, else ``.lmsync/runs``."""
    database = sqlite_database(state_url)
    return database.parent / "runs" if database is not None else DEFAULT_RUNS_DIR
