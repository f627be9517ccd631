"""The state store's tables, in SQLAlchemy Core, identical on SQLite and PostgreSQL.

Times are stored as UTC: ``UtcDateTime`` refuses a naive datetime on the way in (a naive
time is a bug in the caller) and hands back aware UTC datetimes on the way out, whatever the
database keeps. JSON values are stored as text so both databases behave the same.
This module must never open a connection; it only describes the schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql, sqlite

#: An INSERT that knows ON CONFLICT: both dialects' constructs have the same methods.
UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored naive-UTC on SQLite and as timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the state store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        # SQLite compares stored times as text: one naive UTC format keeps that ordering right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """A JSON document kept as text; key order is kept (a report's columns follow it)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


metadata = MetaData()

runs = Table(
    "lmsync_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("customer", String(64), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("file_name", Text),
    Column("file_sha256", String(64)),
    Column("counts", JsonText, nullable=False),
    Column("error", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Index("ix_lmsync_runs_customer_started", "customer", "started_at"),
    Index("ix_lmsync_runs_status", "status"),
)

journal = Table(
    "lmsync_journal",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("action", String(64), nullable=False),
    Column("unique_id", Text),
    Column("payload", JsonText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(100)),
    Column("error_message", Text),
    Column("result", JsonText),
    Column("updated_at", UtcDateTime),
)

ledger = Table(
    "lmsync_ledger",
    metadata,
    Column("customer", String(64), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
)

reports = Table(
    "lmsync_reports",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("rows", JsonText, nullable=False),
)

locks = Table(
    "lmsync_locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

customers = Table(
    "lmsync_customers",
    metadata,
    Column("customer", String(64), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_retry_at", UtcDateTime),
    Column("quarantined_at", UtcDateTime),
    Column("quarantine_reason", Text),
    Column("last_error", Text),
    Column("last_slot", UtcDateTime),
)
