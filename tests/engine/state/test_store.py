"""The state store's contract, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.state import JournalEntry, StateStore
from engine.state.export import report_to_csv, report_to_json

T0 = datetime(2025, 3, 30, 4, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture()
def store(store_url: str) -> Iterator[StateStore]:
    opened = StateStore.open(store_url)
    yield opened
    opened.close()


def test_run_lifecycle(store: StateStore) -> None:
    run_id = store.start_run(
        "acme", "production", "hris", file_name="hris_1.tsv", file_sha256="ab" * 32, now=T0
    )
    running = store.get_run(run_id)
    assert (running.status, running.duration, running.unfinished) == ("running", None, True)
    assert store.unfinished_runs("acme") == [running]

    store.finish_run(run_id, "succeeded", counts={"created": 3, "ignored": 1}, now=T0 + timedelta(seconds=42))
    done = store.get_run(run_id)
    assert done.status == "succeeded"
    assert done.counts == {"created": 3, "ignored": 1}
    assert done.duration == timedelta(seconds=42)
    assert done.started_at == T0 and done.started_at.tzinfo is not None
    assert store.unfinished_runs("acme") == []


def test_times_come_back_in_utc_whatever_zone_went_in(store: StateStore) -> None:
    paris = timezone(timedelta(hours=2))
    run_id = store.start_run("acme", "production", "hris", now=datetime(2025, 6, 1, 8, 30, tzinfo=paris))
    assert store.get_run(run_id).started_at == datetime(2025, 6, 1, 6, 30, tzinfo=UTC)


def test_naive_times_are_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match="naive"):
        store.start_run("acme", "production", "hris", now=datetime(2025, 1, 1))


def test_list_runs_newest_first_and_filtered(store: StateStore) -> None:
    ids = [
        store.start_run(c, "production", "hris", now=T0 + timedelta(minutes=i)) for i, c in enumerate("abab")
    ]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs("a")] == [ids[2], ids[0]]
    assert len(store.list_runs(limit=1)) == 1


@pytest.mark.parametrize("status", ["running", "done", "bogus"])
def test_finish_run_refuses_non_final_status(store: StateStore, status: str) -> None:
    run_id = store.start_run("acme", "production", "hris", now=T0)
    with pytest.raises(StateError, match="final status"):
        store.finish_run(run_id, status, counts={}, now=T0)


def test_unknown_run_is_a_state_error(store: StateStore) -> None:
    with pytest.raises(StateError, match="does not exist"):
        store.get_run("nope")
    with pytest.raises(StateError, match="does not exist"):
        store.finish_run("nope", "failed", counts={}, now=T0)


def test_journal_pending_then_done_and_failed(store: StateStore) -> None:
    run_id = store.start_run("acme", "production", "hris", now=T0)
    entries = [
        JournalEntry(
            key=f"create_user:{i:04d}", seq=i, action="create_user", unique_id=f"E{i}", payload={"n": i}
        )
        for i in (2, 0, 1)
    ]
    store.journal_pending(run_id, entries)
    store.journal_done(run_id, "create_user:0000", result={"lms_id": "u1"}, now=T0)
    store.journal_failed(run_id, "create_user:0001", code="mailAlreadyUsed", message="e-mail used")
    journal = store.journal(run_id)
    assert [(e.key, e.status) for e in journal] == [
        ("create_user:0000", "done"),
        ("create_user:0001", "failed"),
        ("create_user:0002", "pending"),
    ]
    assert journal[0].result == {"lms_id": "u1"} and journal[0].updated_at == T0
    assert (journal[1].error_code, journal[1].error_message) == ("mailAlreadyUsed", "e-mail used")
    assert journal[2].payload == {"n": 2} and journal[2].unique_id == "E2"

    # Journaling the plan again on resume keeps what was done.
    store.journal_pending(run_id, entries)
    assert [e.status for e in store.journal(run_id)] == ["done", "failed", "pending"]


def test_journal_update_of_unknown_key_is_refused(store: StateStore) -> None:
    run_id = store.start_run("acme", "production", "hris", now=T0)
    with pytest.raises(StateError, match="never journaled"):
        store.journal_done(run_id, "create_user:9999")


def test_ledger(store: StateStore) -> None:
    assert store.ledger_find("acme", "f" * 64) is None
    store.ledger_record("acme", "hris_1.tsv", "f" * 64, 120, "r1", now=T0)
    store.ledger_record("acme", "hris_1_copy.tsv", "f" * 64, 120, "r2", now=T0 + timedelta(hours=1))
    found = store.ledger_find("acme", "f" * 64)
    assert found is not None and (found.file_name, found.run_id, found.size) == ("hris_1.tsv", "r1", 120)
    assert store.ledger_find("globex", "f" * 64) is None
    store.ledger_record("acme", "hris_2.tsv", "e" * 64, 10, "r3", now=T0 + timedelta(days=1))
    store.ledger_mark_deleted("acme", "hris_1.tsv", now=T0 + timedelta(days=30))
    entries = store.ledger_entries("acme")
    assert [(e.file_name, e.deleted_at) for e in entries] == [
        ("hris_1.tsv", T0 + timedelta(days=30)),
        ("hris_2.tsv", None),
    ]


def test_report_round_trip_and_exports(store: StateStore) -> None:
    run_id = store.start_run("acme", "production", "hris", now=T0)
    assert store.report(run_id) == []
    rows = [
        {"line": 2, "user": "u-1a2b", "outcome": "created"},
        {"line": 3, "user": "u-3c4d", "outcome": "ignored", "reason": "invalid_email"},
    ]
    store.save_report(run_id, rows[:1])
    store.save_report(run_id, rows)
    assert store.report(run_id) == rows
    assert (
        report_to_csv(rows) == "line,user,outcome,reason\n2,u-1a2b,created,\n3,u-3c4d,ignored,invalid_email\n"
    )
    assert '"reason": "invalid_email"' in report_to_json(rows)


def test_lock_excludes_others_until_expiry(store: StateStore) -> None:
    ttl = timedelta(seconds=30)
    assert store.acquire_lock("customer:acme", "a", ttl=ttl, now=T0)
    assert not store.acquire_lock("customer:acme", "b", ttl=ttl, now=T0 + timedelta(seconds=10))
    assert store.acquire_lock("customer:acme", "a", ttl=ttl, now=T0 + timedelta(seconds=10)), "re-entrant"
    assert store.renew_lock("customer:acme", "a", ttl=ttl, now=T0 + timedelta(seconds=20))
    assert store.lock_holder("customer:acme", now=T0 + timedelta(seconds=45)) == "a"
    # a's lease (renewed at +20 s) ends at +50 s: a crashed holder is replaced after that.
    assert not store.acquire_lock("customer:acme", "b", ttl=ttl, now=T0 + timedelta(seconds=49))
    assert store.acquire_lock("customer:acme", "b", ttl=ttl, now=T0 + timedelta(seconds=50))
    assert not store.renew_lock("customer:acme", "a", ttl=ttl, now=T0 + timedelta(seconds=51)), "a lost it"
    store.release_lock("customer:acme", "a")  # not a's any more: no effect
    assert store.lock_holder("customer:acme", now=T0 + timedelta(seconds=51)) == "b"
    store.release_lock("customer:acme", "b")
    assert store.acquire_lock("customer:acme", "c", ttl=ttl, now=T0 + timedelta(seconds=52))
    assert store.acquire_lock("customer:globex", "a", ttl=ttl, now=T0), "locks are per name"


def test_lock_race_has_exactly_one_winner(store_url: str) -> None:
    stores = [StateStore.open(store_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    wins: list[str] = []

    def contend(i: int) -> None:
        barrier.wait()
        if stores[i].acquire_lock("customer:acme", f"owner-{i}", ttl=timedelta(minutes=1), now=T0):
            wins.append(f"owner-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert len(wins) == 1


def test_customer_status_failures_quarantine_resume(store: StateStore) -> None:
    assert store.customer_status("acme").consecutive_failures == 0
    retry = T0 + timedelta(minutes=5)
    status = store.record_failure("acme", error="file-level: missing column", next_retry_at=retry, now=T0)
    status = store.record_failure("acme", error="file-level: missing column", next_retry_at=retry, now=T0)
    assert (status.consecutive_failures, status.next_retry_at, status.quarantined) == (2, retry, False)
    store.quarantine("acme", reason="5 consecutive failures", now=T0)
    quarantined = store.customer_status("acme")
    assert quarantined.quarantined and quarantined.quarantine_reason == "5 consecutive failures"
    assert [s.customer for s in store.customer_statuses()] == ["acme"]
    assert store.resume("acme", run_at=T0) is True
    resumed = store.customer_status("acme")
    assert (resumed.quarantined, resumed.consecutive_failures, resumed.next_retry_at) == (False, 0, T0)
    assert store.resume("acme") is False
    store.record_failure("acme", error="x", next_retry_at=retry, now=T0)
    store.record_success("acme", now=T0)
    assert store.customer_status("acme").consecutive_failures == 0
    store.record_slot("acme", T0)
    assert store.customer_status("acme").last_slot == T0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_state_urls(url: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        StateStore.open(url)


def test_unreachable_postgres_is_a_state_error_without_password() -> None:
    with pytest.raises(StateError) as info:
        StateStore.open("postgresql://lmsync:hunter2@127.0.0.1:1/postgres?connect_timeout=2")
    assert "hunter2" not in str(info.value)
    assert "127.0.0.1" in str(info.value)
