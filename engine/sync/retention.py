"""Deleting processed files from the source once their retention has passed.

The HRIS connector's documentation promises that uploaded files are deleted after 30 days
(``hris.file.retention_days``). Only a file whose content the ledger records as processed
may go: the pure rule ``engine.files.expired`` decides from the ledger's processing times,
and a re-upload of already-processed content (skipped by the run) goes once it is itself
older than the retention. This module must never delete a file the ledger does not know,
and a failed deletion is reported, never fatal: the file is simply tried again next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from engine.console import Reporter
from engine.errors import SourceError
from engine.files import FileInfo, Source, expired
from engine.state import StateStore


def expired_names(
    listing: Iterable[FileInfo],
    store: StateStore,
    customer: str,
    *,
    duplicates: Iterable[tuple[FileInfo, datetime]],
    now: datetime,
    retention_days: int,
) -> list[str]:
    """Names on the source whose processed content is older than the retention.

    ``duplicates`` are files whose content the ledger knows under another name, each with
    when that content was processed: such a copy goes once both it and that processing are
    older than the retention.
    """
    listed = list(listing)
    processed: dict[str, datetime] = {}
    for entry in store.ledger_entries(customer):
        if entry.deleted_at is None:
            earlier = processed.get(entry.file_name)
            processed[entry.file_name] = max(entry.processed_at, earlier or entry.processed_at)
    names = set(expired(listed, processed, now=now, retention_days=retention_days))
    cutoff = now - timedelta(days=retention_days)
    on_source = {file.name for file in listed}
    names |= {
        file.name
        for file, processed_at in duplicates
        if file.mtime <= cutoff and processed_at <= cutoff and file.name in on_source
    }
    return sorted(names)


def delete_expired(
    source: Source,
    listing: Iterable[FileInfo],
    store: StateStore,
    customer: str,
    *,
    duplicates: Iterable[tuple[FileInfo, datetime]] = (),
    now: datetime,
    retention_days: int,
    reporter: Reporter,
) -> list[str]:
    """Delete what ``expired_names`` returns and note it in the ledger; returns the deleted."""
    deleted: list[str] = []
    names = expired_names(
        listing, store, customer, duplicates=duplicates, now=now, retention_days=retention_days
    )
    for name in names:
        try:
            source.delete(name)
        except SourceError as exc:
            reporter.warn(f"{customer}: retention: could not delete {name}: {exc}; tried again next run")
            continue
        store.ledger_mark_deleted(customer, name, now=now)
        deleted.append(name)
    return deleted
