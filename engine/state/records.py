"""The values the state store hands out: runs, journal entries, ledger entries, customer status.

They are frozen dataclasses so a caller can keep one around without it changing under its
feet, and so tests compare them by value. This module holds no I/O and no SQL; it must never
read the clock (every time is passed in, timezone-aware UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

RunStatus = Literal["running", "succeeded", "failed", "interrupted", "skipped"]
JournalStatus = Literal["pending", "done", "failed"]

RUN_STATUSES: Final[frozenset[str]] = frozenset({"running", "succeeded", "failed", "interrupted", "skipped"})
#: A run in one of these states has not finished its work: the next holder of the customer's
#: lock completes it before starting anything new.
UNFINISHED_STATUSES: Final[frozenset[str]] = frozenset({"running", "interrupted"})
#: The statuses ``finish_run`` accepts (a run is never finished as "running").
FINAL_STATUSES: Final[frozenset[str]] = RUN_STATUSES - {"running"}

#: The counters a run reports, in the order they are shown.
COUNT_NAMES: Final[tuple[str, ...]] = (
    "created",
    "updated",
    "restored",
    "deleted",
    "duplicated",
    "ignored",
    "filtered_out",
    "no_group_rule",
    "failed",
)


@dataclass(frozen=True)
class RunRecord:
    """One run of one customer's connector: what it read, what it did, how it ended."""

    id: str
    customer: str
    environment: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    file_name: str | None = None
    file_sha256: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration(self) -> timedelta | None:
        """Wall time of the run; None while it is still running."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED_STATUSES


@dataclass(frozen=True)
class JournalEntry:
    """One action of a run, journaled before it is applied (pending) and after (done/failed).

    ``key`` is stable across re-plans of the same file (e.g. ``create_user:0042``) so a resumed
    run recognises the actions it already applied. ``unique_id`` is the HRIS key of the user
    the action is about; it stays inside the store and is never shown unmasked.
    """

    key: str
    seq: int
    action: str
    unique_id: str | None = None
    payload: dict[str, object] = field(default_factory=dict)
    status: str = "pending"
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, object] | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """A file a customer's run processed: its content hash makes it processed exactly once."""

    customer: str
    file_name: str
    sha256: str
    size: int
    run_id: str
    processed_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class CustomerStatus:
    """What the runner knows about a customer between runs.

    ``last_slot`` is the last schedule instant the runner handled: comparing it with the most
    recent due instant is how a runner that was down for a day runs once, not once per slot.
    """

    customer: str
    consecutive_failures: int = 0
    next_retry_at: datetime | None = None
    quarantined_at: datetime | None = None
    quarantine_reason: str | None = None
    last_error: str | None = None
    last_slot: datetime | None = None

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None
