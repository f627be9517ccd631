"""The state store: run history, per-action journal, processed-file ledger, reports, locks.

One interface over SQLAlchemy Core, on a SQLite file by default and on PostgreSQL for a
shared deployment where several runners must agree on who runs what. The store never reads
the clock: every time is passed in by the caller (timezone-aware UTC), so tests control time
and two processes with one database agree on what "now" meant for each write.

SQLAlchemy errors are translated here, once, into ``StateError``; they never leak. Messages
never carry bound parameters (they can hold an employee's id) nor the database password.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from engine.errors import StateError
from engine.state import tables as t
from engine.state.customers import CustomerStatusTable
from engine.state.records import (
    FINAL_STATUSES,
    UNFINISHED_STATUSES,
    CustomerStatus,
    JournalEntry,
    LedgerEntry,
    RunRecord,
)
from engine.state.tables import UpsertInsert

DEFAULT_STATE_URL = "sqlite:///.lmsync/state.sqlite"
_SQLITE = "sqlite:///"


def sqlite_database(url: str) -> Path | None:
    """The file a ``sqlite:///`` state URL names, or None (another database, or in memory):
    run logs are written beside it, and a plan reads no state from a file that does not exist."""
    if not url.startswith(_SQLITE):
        return None
    database = url[len(_SQLITE) :].split("?", 1)[0]
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser()


def redacted_url(url: str) -> str:
    """``url`` without its password, as messages may show it."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable state URL>"


def _engine_for(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StateError(
            "the state URL is not a database URL",
            hint="use sqlite:///path/state.sqlite or postgresql://user@host:port/db",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # The runner's heartbeat and workers share the store across threads; pysqlite's
        # same-thread check would refuse that. The busy timeout lets two processes queue.
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise StateError(
        f"state URL {redacted_url(url)}: unsupported database '{backend}'",
        hint="use a sqlite:/// or postgresql:// URL",
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (lmsync runs) look at history while a runner writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _require_aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise StateError("the state store was given a naive time", hint="pass a timezone-aware UTC datetime")
    return now


class StateStore:
    """Runs, journal, ledger, reports, locks and customer status behind one interface."""

    def __init__(self, engine: Engine, *, url: str) -> None:
        self._engine = engine
        self._url = redacted_url(url)
        self._customers = CustomerStatusTable(self._insert)

    @classmethod
    def open(cls, url: str = DEFAULT_STATE_URL) -> StateStore:
        """Connect to ``url`` and create the tables that are missing."""
        store = cls(_engine_for(url), url=url)
        with store._guard("creating the tables"):
            t.metadata.create_all(store._engine)
        return store

    @classmethod
    def open_existing(cls, url: str = DEFAULT_STATE_URL) -> StateStore | None:
        """Connect to ``url`` only if it already holds a state store, else None: the commands
        that only read (``plan``, ``runs``) create no file, folder or table."""
        database = sqlite_database(url)
        if database is not None and not database.is_file():
            return None
        store = cls(_engine_for(url), url=url)
        with store._guard("reading the tables"):
            present = inspect(store._engine).has_table(t.runs.name)
        if not present:
            store.close()
            return None
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"StateStore({self._url})"

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None)
            detail = str(orig).splitlines()[0] if orig is not None and str(orig) else type(exc).__name__
            raise StateError(
                f"state store {self._url}: {doing} failed: {detail}",
                hint="check that the database is reachable and that this lmsync version matches it",
            ) from exc

    @contextmanager
    def _tx(self, doing: str) -> Iterator[Connection]:
        with self._guard(doing), self._engine.begin() as conn:
            yield conn

    def _insert(self, table: Any) -> UpsertInsert:
        """An INSERT with the dialect's ON CONFLICT support."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # --- runs ----------------------------------------------------------------------------------

    def start_run(
        self,
        customer: str,
        environment: str,
        kind: str,
        *,
        file_name: str | None = None,
        file_sha256: str | None = None,
        now: datetime,
    ) -> str:
        """Record a new run as ``running`` and return its id (sortable by start time)."""
        _require_aware(now)
        run_id = f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
        with self._tx("starting a run") as conn:
            conn.execute(
                insert(t.runs).values(
                    id=run_id,
                    customer=customer,
                    environment=environment,
                    kind=kind,
                    status="running",
                    file_name=file_name,
                    file_sha256=file_sha256,
                    counts={},
                    started_at=now,
                )
            )
        return run_id

    def set_run_file(self, run_id: str, *, file_name: str, file_sha256: str) -> None:
        """Name the file a running run is processing, once the job has chosen it."""
        with self._tx("recording the run's file") as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(file_name=file_name, file_sha256=file_sha256)
            )

    def reopen_run(self, run_id: str) -> None:
        """Mark an interrupted run as running again: its next holder is completing it."""
        with self._tx("reopening a run") as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id, t.runs.c.status.in_(sorted(UNFINISHED_STATUSES)))
                .values(status="running", finished_at=None)
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        counts: Mapping[str, int],
        error: str | None = None,
        now: datetime,
    ) -> None:
        if status not in FINAL_STATUSES:
            raise StateError(
                f"run {run_id}: '{status}' is not a final status",
                hint=f"use one of {', '.join(sorted(FINAL_STATUSES))}",
            )
        _require_aware(now)
        with self._tx("finishing a run") as conn:
            result = conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, counts=dict(counts), error=error, finished_at=now)
            )
            if result.rowcount != 1:
                raise StateError(f"run {run_id} does not exist", hint="check the run id with `lmsync runs`")

    def get_run(self, run_id: str) -> RunRecord:
        with self._tx("reading a run") as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        if row is None:
            raise StateError(f"run {run_id} does not exist", hint="list runs with `lmsync runs`")
        return _run(row)

    def list_runs(self, customer: str | None = None, *, limit: int = 50) -> list[RunRecord]:
        """The most recent runs first."""
        query = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc()).limit(limit)
        if customer is not None:
            query = query.where(t.runs.c.customer == customer)
        with self._tx("listing runs") as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    def unfinished_runs(self, customer: str) -> list[RunRecord]:
        """Runs of ``customer`` still running or interrupted, oldest first.

        Only the holder of the customer's lock may act on them: a run another live runner is
        executing also shows here.
        """
        query = (
            select(t.runs)
            .where(t.runs.c.customer == customer, t.runs.c.status.in_(sorted(UNFINISHED_STATUSES)))
            .order_by(t.runs.c.started_at, t.runs.c.id)
        )
        with self._tx("listing unfinished runs") as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    # --- journal -------------------------------------------------------------------------------

    def journal_pending(self, run_id: str, entries: Sequence[JournalEntry]) -> None:
        """Journal actions about to be applied. Keys already journaled are left as they are,
        so a resumed run may journal its plan again without losing what is done."""
        if not entries:
            return
        rows = [
            {
                "run_id": run_id,
                "key": entry.key,
                "seq": entry.seq,
                "action": entry.action,
                "unique_id": entry.unique_id,
                "payload": entry.payload,
                "status": "pending",
                "updated_at": entry.updated_at,
            }
            for entry in entries
        ]
        with self._tx("journaling pending actions") as conn:
            conn.execute(
                self._insert(t.journal).on_conflict_do_nothing(index_elements=["run_id", "key"]), rows
            )

    def journal_done(
        self,
        run_id: str,
        key: str,
        *,
        result: Mapping[str, object] | None = None,
        now: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": "done", "result": dict(result) if result is not None else None}
        if now is not None:
            values["updated_at"] = _require_aware(now)
        self._journal_update(run_id, key, values)

    def journal_failed(
        self, run_id: str, key: str, *, code: str, message: str, now: datetime | None = None
    ) -> None:
        values: dict[str, Any] = {"status": "failed", "error_code": code, "error_message": message}
        if now is not None:
            values["updated_at"] = _require_aware(now)
        self._journal_update(run_id, key, values)

    def _journal_update(self, run_id: str, key: str, values: dict[str, Any]) -> None:
        with self._tx("updating the journal") as conn:
            result = conn.execute(
                update(t.journal).where(t.journal.c.run_id == run_id, t.journal.c.key == key).values(**values)
            )
            if result.rowcount != 1:
                raise StateError(
                    f"run {run_id}: action {key} was never journaled as pending",
                    hint="journal an action with journal_pending before applying it",
                )

    def journal(self, run_id: str, *, key: str | None = None) -> list[JournalEntry]:
        """The run's journal in order; ``key`` reads that one entry only (a cheap lookup)."""
        query = (
            select(t.journal).where(t.journal.c.run_id == run_id).order_by(t.journal.c.seq, t.journal.c.key)
        )
        if key is not None:
            query = query.where(t.journal.c.key == key)
        with self._tx("reading the journal") as conn:
            return [
                JournalEntry(
                    key=row["key"],
                    seq=row["seq"],
                    action=row["action"],
                    unique_id=row["unique_id"],
                    payload=row["payload"],
                    status=row["status"],
                    error_code=row["error_code"],
                    error_message=row["error_message"],
                    result=row["result"],
                    updated_at=row["updated_at"],
                )
                for row in conn.execute(query).mappings()
            ]

    # --- processed-file ledger -----------------------------------------------------------------

    def ledger_find(self, customer: str, sha256: str) -> LedgerEntry | None:
        query = select(t.ledger).where(t.ledger.c.customer == customer, t.ledger.c.sha256 == sha256)
        with self._tx("reading the file ledger") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _ledger(row)

    def ledger_record(
        self, customer: str, file_name: str, sha256: str, size: int, run_id: str, *, now: datetime
    ) -> None:
        """Record a file as processed; recording the same content twice keeps the first record."""
        _require_aware(now)
        with self._tx("recording a processed file") as conn:
            conn.execute(
                self._insert(t.ledger)
                .values(
                    customer=customer,
                    sha256=sha256,
                    file_name=file_name,
                    size=size,
                    run_id=run_id,
                    processed_at=now,
                )
                .on_conflict_do_nothing(index_elements=["customer", "sha256"])
            )

    def ledger_entries(self, customer: str) -> list[LedgerEntry]:
        query = (
            select(t.ledger)
            .where(t.ledger.c.customer == customer)
            .order_by(t.ledger.c.processed_at, t.ledger.c.file_name)
        )
        with self._tx("reading the file ledger") as conn:
            return [_ledger(row) for row in conn.execute(query).mappings()]

    def ledger_mark_deleted(self, customer: str, file_name: str, *, now: datetime) -> None:
        """Note that a processed file was deleted from the source (after its retention)."""
        _require_aware(now)
        with self._tx("marking a file deleted") as conn:
            conn.execute(
                update(t.ledger)
                .where(
                    t.ledger.c.customer == customer,
                    t.ledger.c.file_name == file_name,
                    t.ledger.c.deleted_at.is_(None),
                )
                .values(deleted_at=now)
            )

    # --- per-user report -----------------------------------------------------------------------

    def save_report(self, run_id: str, rows: Sequence[Mapping[str, object]]) -> None:
        """Store the run's per-user log (replacing an earlier one of the same run)."""
        values = [dict(row) for row in rows]
        with self._tx("saving a run report") as conn:
            stmt = self._insert(t.reports).values(run_id=run_id, rows=values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["run_id"], set_={"rows": stmt.excluded.rows})
            )

    def report(self, run_id: str) -> list[dict[str, object]]:
        """The run's per-user log; empty when the run saved none."""
        with self._tx("reading a run report") as conn:
            rows = conn.execute(select(t.reports.c.rows).where(t.reports.c.run_id == run_id)).scalar()
        return list(rows) if rows else []

    # --- locks ---------------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, *, ttl: timedelta, now: datetime) -> bool:
        """Take ``name`` for ``owner`` until ``now + ttl``, unless a live lease is held by another.

        Each step is one atomic statement, so two processes on one PostgreSQL (or SQLite file)
        can never both win: the UPDATE takes over an expired or own lease (PostgreSQL re-checks
        the condition on the row it waited for), the INSERT ... ON CONFLICT DO NOTHING creates
        a missing one.
        """
        _require_aware(now)
        expires = now + ttl
        with self._tx("acquiring a lock") as conn:
            taken = conn.execute(
                update(t.locks)
                .where(t.locks.c.name == name, or_(t.locks.c.owner == owner, t.locks.c.expires_at <= now))
                .values(owner=owner, expires_at=expires)
            )
            if taken.rowcount == 1:
                return True
            # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT.
            created = conn.execute(
                self._insert(t.locks)
                .values(name=name, owner=owner, expires_at=expires)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(t.locks.c.name)
            )
            return created.first() is not None

    def renew_lock(self, name: str, owner: str, *, ttl: timedelta, now: datetime) -> bool:
        """Extend ``owner``'s lease; False when the lease was lost (taken over after expiry)."""
        _require_aware(now)
        with self._tx("renewing a lock") as conn:
            renewed = conn.execute(
                update(t.locks)
                .where(t.locks.c.name == name, t.locks.c.owner == owner)
                .values(expires_at=now + ttl)
            )
            return renewed.rowcount == 1

    def release_lock(self, name: str, owner: str) -> None:
        with self._tx("releasing a lock") as conn:
            conn.execute(delete(t.locks).where(t.locks.c.name == name, t.locks.c.owner == owner))

    def lock_holder(self, name: str, *, now: datetime) -> str | None:
        """The owner of a live lease on ``name``, if any."""
        with self._tx("reading a lock") as conn:
            owner: str | None = conn.execute(
                select(t.locks.c.owner).where(t.locks.c.name == name, t.locks.c.expires_at > now)
            ).scalar()
        return owner

    # --- customer status -----------------------------------------------------------------------

    def customer_status(self, customer: str) -> CustomerStatus:
        with self._tx("reading a customer's status") as conn:
            return self._customers.get(conn, customer)

    def customer_statuses(self) -> list[CustomerStatus]:
        with self._tx("reading customers' status") as conn:
            return self._customers.all(conn)

    def record_failure(
        self, customer: str, *, error: str, next_retry_at: datetime | None, now: datetime
    ) -> CustomerStatus:
        """Count one more consecutive failure; the runner retries at ``next_retry_at``."""
        _require_aware(now)
        with self._tx("recording a failure") as conn:
            return self._customers.record_failure(conn, customer, error=error, next_retry_at=next_retry_at)

    def record_success(self, customer: str, *, now: datetime) -> None:
        _require_aware(now)
        with self._tx("recording a success") as conn:
            self._customers.record_success(conn, customer)

    def record_slot(self, customer: str, slot: datetime) -> None:
        """Remember the schedule instant the runner has handled for ``customer``."""
        with self._tx("recording a schedule slot") as conn:
            self._customers.record_slot(conn, customer, _require_aware(slot))

    def quarantine(self, customer: str, *, reason: str, now: datetime) -> None:
        """Pause a customer's runs until ``resume``; the reason shows in ``lmsync runs``."""
        with self._tx("quarantining a customer") as conn:
            self._customers.quarantine(conn, customer, reason=reason, now=_require_aware(now))

    def resume(self, customer: str, *, run_at: datetime | None = None) -> bool:
        """Lift a quarantine and reset the failure count; True if the customer was quarantined.

        ``run_at`` asks the runner to run the customer at that time instead of waiting for
        the next scheduled slot.
        """
        with self._tx("resuming a customer") as conn:
            return self._customers.resume(conn, customer, run_at=run_at)


def _run(row: RowMapping) -> RunRecord:
    return RunRecord(
        id=row["id"],
        customer=row["customer"],
        environment=row["environment"],
        kind=row["kind"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        file_name=row["file_name"],
        file_sha256=row["file_sha256"],
        counts=dict(row["counts"] or {}),
        error=row["error"],
    )


def _ledger(row: RowMapping) -> LedgerEntry:
    return LedgerEntry(
        customer=row["customer"],
        file_name=row["file_name"],
        sha256=row["sha256"],
        size=row["size"],
        run_id=row["run_id"],
        processed_at=row["processed_at"],
        deleted_at=row["deleted_at"],
    )
