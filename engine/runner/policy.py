"""When a customer runs: its schedule slot, a pending retry, an unfinished run, a quarantine.

Pure decisions over the customer's status and the time, so every rule (a missed run runs
once; a failure is retried with growing backoff; N failures in a row quarantine) is tested
without a database or a clock. It must never read the clock or touch the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from engine.state.records import CustomerStatus


class Reason(Enum):
    """Why a customer is due now."""

    RESUME = "resume"  # a run was interrupted (crash, SIGTERM): finish it first
    SCHEDULED = "scheduled"  # a schedule slot passed since the last run
    RETRY = "retry"  # a failed run's backoff elapsed, or an SA asked for a run


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff after failures, and when to stop trying and quarantine."""

    first_delay: timedelta = timedelta(minutes=5)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=2)
    quarantine_after: int = 5

    def next_retry(self, failures: int, now: datetime) -> datetime:
        """When to retry after the ``failures``-th consecutive failure (1-based)."""
        delay = self.first_delay * (self.factor ** max(failures - 1, 0))
        return now + min(delay, self.max_delay)

    def should_quarantine(self, failures: int) -> bool:
        return self.quarantine_after > 0 and failures >= self.quarantine_after


def due_reason(
    status: CustomerStatus, *, latest_slot: datetime, now: datetime, has_unfinished: bool
) -> Reason | None:
    """Why ``status``'s customer should run now, or None.

    A quarantined customer never runs (not even to resume: an SA looks first). A customer
    never seen before (no ``last_slot``) is not due: deploying a new customer does not fire
    a sync outside its schedule; the runner records the latest slot as its starting point.
    """
    if status.quarantined:
        return None
    if has_unfinished:
        return Reason.RESUME
    if status.last_slot is not None and latest_slot > status.last_slot:
        return Reason.SCHEDULED
    if status.next_retry_at is not None and status.next_retry_at <= now:
        return Reason.RETRY
    return None
