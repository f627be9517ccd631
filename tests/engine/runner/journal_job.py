"""A small real job for the runner's process tests: journals its actions, applies them to a
SQLite "target" file, and records when it ran, so tests can prove no action ran twice and
no two runs of one customer overlapped.

Configured by environment: LMSYNC_TEST_TARGET (SQLite file), LMSYNC_TEST_ACTIONS (count),
LMSYNC_TEST_DELAY (seconds each action takes).
"""

from __future__ import annotations

import os
import sqlite3
import time

from engine.config.models import CustomerConfig
from engine.runner.context import RunContext, RunOutcome
from engine.state import JournalEntry


def _target() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ["LMSYNC_TEST_TARGET"], timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS applied"
        " (n INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT, key TEXT, pid INT)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS activity (customer TEXT, pid INT, started REAL, ended REAL)")
    return conn


def run(config: CustomerConfig, environment: str, ctx: RunContext) -> RunOutcome:
    actions = int(os.environ.get("LMSYNC_TEST_ACTIONS", "10"))
    delay = float(os.environ.get("LMSYNC_TEST_DELAY", "0.02"))
    target = _target()
    started = time.time()
    entries = [
        JournalEntry(key=f"create_user:{i:04d}", seq=i, action="create_user", unique_id=f"E{i:04d}")
        for i in range(actions)
    ]
    ctx.store.journal_pending(ctx.run_id, entries)  # a resumed run keeps what is already done
    applied = 0
    for entry in ctx.store.journal(ctx.run_id):
        if entry.status != "pending":
            continue
        if ctx.stop_requested():
            target.close()
            return RunOutcome(status="interrupted", counts={"created": applied})
        # Reconcile before applying, as the sync does: an action applied just before a crash,
        # whose journal entry was not yet marked done, is found in the target and not redone.
        found = target.execute(
            "SELECT 1 FROM applied WHERE customer = ? AND key = ?", (config.customer, entry.key)
        ).fetchone()
        if found is None:
            time.sleep(delay)  # the work an action takes
            target.execute(
                "INSERT INTO applied (customer, key, pid) VALUES (?, ?, ?)",
                (config.customer, entry.key, os.getpid()),
            )
            applied += 1
        ctx.store.journal_done(ctx.run_id, entry.key, now=ctx.now())
    target.execute(
        "INSERT INTO activity VALUES (?, ?, ?, ?)", (config.customer, os.getpid(), started, time.time())
    )
    target.close()
    return RunOutcome(
        status="succeeded",
        counts={"created": actions},
        report=[
            {"line": i + 2, "unique_id": e.unique_id, "outcome": "created"} for i, e in enumerate(entries)
        ],
    )
