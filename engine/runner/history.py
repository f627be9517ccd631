"""When a daily job (one besides the HRIS sync) is due, decided from its own run history.

The HRIS sync keeps a status row per customer; a daily job such as the Cornerstone
completions push needs no such row: its runs say everything. The last run's start is the
slot it handled; failed runs in a row count the retries; a customer never run is not due
before its next slot after the runner first saw it (deploying a file fires nothing outside
its schedule). Pure: values in, a ``Reason`` out; it never reads the clock or the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.runner.policy import Reason, RetryPolicy
from engine.state import RunRecord


def failures_in_a_row(runs: Sequence[RunRecord]) -> int:
    """How many of the latest finished runs failed, counting back to the last that did not."""
    count = 0
    for run in sorted(runs, key=lambda r: (r.started_at, r.id), reverse=True):
        if run.unfinished:
            continue
        if run.status != "failed":
            break
        count += 1
    return count


def due_from_history(
    runs: Sequence[RunRecord],
    *,
    has_unfinished: bool,
    latest_slot: datetime,
    now: datetime,
    first_seen: datetime,
    policy: RetryPolicy,
) -> Reason | None:
    """Why the job is due now, or None.

    ``runs`` are this job's runs of one customer (any order); ``latest_slot`` the latest
    instant its schedule fired at or before ``now``. An interrupted run is finished first. A
    slot passed since the last run started is due once, however many passed. A failed last
    run is retried after the policy's backoff, until ``quarantine_after`` failures in a row;
    then only the next slot runs it again (its run covers the missed days).
    """
    if has_unfinished:
        return Reason.RESUME
    finished = [run for run in runs if not run.unfinished]
    last = max(finished, key=lambda r: (r.started_at, r.id), default=None)
    handled = last.started_at if last is not None else first_seen
    if latest_slot > handled:
        return Reason.SCHEDULED
    if last is None or last.status != "failed":
        return None
    failures = failures_in_a_row(finished)
    if policy.should_quarantine(failures):
        return None
    retry_at = policy.next_retry(failures, last.finished_at or last.started_at)
    return Reason.RETRY if retry_at <= now else None
