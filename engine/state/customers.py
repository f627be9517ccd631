"""The runner's memory of each customer: consecutive failures, retry time, quarantine, last slot.

Kept apart from the run history because it is a small mutable record per customer, updated
with SQL-side arithmetic (``consecutive_failures + 1``) so two runners never lose a count.
It runs inside a transaction the store opened; it must never open connections itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from engine.state import tables as t
from engine.state.records import CustomerStatus
from engine.state.tables import UpsertInsert

_c = t.customers.c


class CustomerStatusTable:
    """Reads and writes ``lmsync_customers`` rows on a connection it is given."""

    def __init__(self, insert: Callable[[Any], UpsertInsert]) -> None:
        self._insert = insert

    def _ensure(self, conn: Connection, customer: str) -> None:
        conn.execute(
            self._insert(t.customers)
            .values(customer=customer, consecutive_failures=0)
            .on_conflict_do_nothing(index_elements=["customer"])
        )

    def get(self, conn: Connection, customer: str) -> CustomerStatus:
        row = conn.execute(select(t.customers).where(_c.customer == customer)).mappings().first()
        return CustomerStatus(customer=customer) if row is None else _status(row)

    def all(self, conn: Connection) -> list[CustomerStatus]:
        return [_status(row) for row in conn.execute(select(t.customers).order_by(_c.customer)).mappings()]

    def record_failure(
        self, conn: Connection, customer: str, *, error: str, next_retry_at: datetime | None
    ) -> CustomerStatus:
        self._ensure(conn, customer)
        conn.execute(
            update(t.customers)
            .where(_c.customer == customer)
            .values(
                consecutive_failures=_c.consecutive_failures + 1,
                next_retry_at=next_retry_at,
                last_error=error,
            )
        )
        return self.get(conn, customer)

    def record_success(self, conn: Connection, customer: str) -> None:
        self._ensure(conn, customer)
        conn.execute(
            update(t.customers)
            .where(_c.customer == customer)
            .values(consecutive_failures=0, next_retry_at=None, last_error=None)
        )

    def record_slot(self, conn: Connection, customer: str, slot: datetime) -> None:
        self._ensure(conn, customer)
        conn.execute(update(t.customers).where(_c.customer == customer).values(last_slot=slot))

    def quarantine(self, conn: Connection, customer: str, *, reason: str, now: datetime) -> None:
        self._ensure(conn, customer)
        conn.execute(
            update(t.customers)
            .where(_c.customer == customer)
            .values(quarantined_at=now, quarantine_reason=reason, next_retry_at=None)
        )

    def resume(self, conn: Connection, customer: str, *, run_at: datetime | None) -> bool:
        was = self.get(conn, customer).quarantined
        self._ensure(conn, customer)
        conn.execute(
            update(t.customers)
            .where(_c.customer == customer)
            .values(
                quarantined_at=None,
                quarantine_reason=None,
                consecutive_failures=0,
                next_retry_at=run_at,
            )
        )
        return was


def _status(row: RowMapping) -> CustomerStatus:
    return CustomerStatus(
        customer=row["customer"],
        consecutive_failures=row["consecutive_failures"],
        next_retry_at=row["next_retry_at"],
        quarantined_at=row["quarantined_at"],
        quarantine_reason=row["quarantine_reason"],
        last_error=row["last_error"],
        last_slot=row["last_slot"],
    )
