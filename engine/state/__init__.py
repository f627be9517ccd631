"""Run history, journal, processed-file ledger, reports and locks: what lmsync remembers."""

from engine.state.records import CustomerStatus, JournalEntry, LedgerEntry, RunRecord
from engine.state.store import DEFAULT_STATE_URL, StateStore, sqlite_database

__all__ = [
    "DEFAULT_STATE_URL",
    "CustomerStatus",
    "JournalEntry",
    "LedgerEntry",
    "RunRecord",
    "StateStore",
    "sqlite_database",
]
