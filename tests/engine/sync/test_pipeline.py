"""The files-in pipeline against a real folder, a real state store and the sandbox over HTTP:
order, the processed-file ledger, file-level errors, files still uploading, retention."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest

from engine.errors import FileLevelError, SourceError
from engine.files import SkipReason
from tests.engine.sync.helpers import StopAfter, SyncWorld, people, utcnow

pytestmark = pytest.mark.integration


def test_two_files_are_processed_oldest_first_in_one_run(sync_world: SyncWorld) -> None:
    # Name order (a, b) is the opposite of upload order (b, then a): upload order wins.
    sync_world.drop("hris-b.csv", people(("1", "Engineer"), ("2", "Analyst")), minutes_ago=30)
    sync_world.drop("hris-a.csv", people(("1", "CTO"), ("2", "Analyst")), minutes_ago=10)

    run_id, outcome = sync_world.sync()

    assert outcome.status == "succeeded", outcome.error
    assert [(f.name, f.status) for f in outcome.files] == [
        ("hris-b.csv", "succeeded"),
        ("hris-a.csv", "succeeded"),
    ]
    managed = sync_world.managed()
    assert managed["1"]["job"] == "CTO", "the newest file is applied last"
    assert (outcome.counts["created"], outcome.counts["updated"]) == (2, 1), "counts are summed over files"
    ledger = sync_world.store.ledger_entries("acme")
    assert [(e.file_name, e.run_id) for e in ledger] == [("hris-b.csv", run_id), ("hris-a.csv", run_id)]
    by_file = {(row["file"], row["unique_id"]): row["action"] for row in outcome.report}
    assert by_file == {
        ("hris-b.csv", "1"): "create",
        ("hris-b.csv", "2"): "create",
        ("hris-a.csv", "1"): "update",
    }
    # Each file's actions are journaled under its own content-hash prefix.
    prefixes = {f.sha256[:12] for f in outcome.files if f.sha256}
    keys = [e.key for e in sync_world.store.journal(run_id) if ":" in e.key]
    assert {key.split(":", 1)[0] for key in keys} == prefixes


def test_the_same_content_uploaded_again_is_skipped_and_writes_nothing(sync_world: SyncWorld) -> None:
    data = people(("1", "Engineer"))
    sync_world.drop("hris-monday.csv", data, minutes_ago=60)
    first_run, first = sync_world.sync()
    assert first.status == "succeeded"
    sync_world.sandbox.admin.reset_requests()

    sync_world.drop("hris-tuesday.csv", data, minutes_ago=5)  # re-uploaded under another name
    _, again = sync_world.sync()

    assert again.status == "skipped"
    assert [f.status for f in again.files] == ["duplicate", "duplicate"]
    tuesday = again.files[1]
    assert tuesday.name == "hris-tuesday.csv"
    assert tuesday.detail is not None
    assert f"already processed as hris-monday.csv by run {first_run}" in tuesday.detail
    assert sync_world.writes() == [], "an already-synced file sends nothing to the LMS"
    assert any("hris-tuesday.csv" in line for line in again.problems), "the skip is reported"
    assert len(sync_world.store.ledger_entries("acme")) == 1


def test_a_file_level_error_stops_the_run_and_later_files_wait(sync_world: SyncWorld) -> None:
    sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=30)
    sync_world.drop("hris-2.csv", b"uniqueId,status\n2,Active\n", minutes_ago=20)  # no email column
    sync_world.drop("hris-3.csv", people(("3", "Engineer")), minutes_ago=10)

    _, outcome = sync_world.sync()

    assert outcome.status == "failed"
    assert isinstance(outcome.error, FileLevelError)
    assert "hris-2.csv" in str(outcome.error) and "email" in str(outcome.error)
    assert [(f.name, f.status) for f in outcome.files] == [
        ("hris-1.csv", "succeeded"),
        ("hris-2.csv", "error"),
    ]
    assert outcome.waiting == ("hris-3.csv",)
    assert set(sync_world.managed()) == {"1"}, "nothing of the later file was written"
    assert [e.file_name for e in sync_world.store.ledger_entries("acme")] == ["hris-1.csv"]
    assert sorted(p.name for p in sync_world.inbox.iterdir()) == ["hris-1.csv", "hris-2.csv", "hris-3.csv"]

    # The SA removes the broken file: the next run takes the waiting one.
    (sync_world.inbox / "hris-2.csv").unlink()
    _, next_run = sync_world.sync()
    assert next_run.status == "succeeded"
    assert [(f.name, f.status) for f in next_run.files] == [
        ("hris-1.csv", "duplicate"),
        ("hris-3.csv", "succeeded"),
    ]
    assert set(sync_world.managed()) == {"1", "3"}


def test_a_file_still_being_uploaded_waits_for_the_next_run(sync_world: SyncWorld) -> None:
    sync_world.write_config(file={"prefix": "hris", "extension": "csv", "settle_seconds": 0.3})
    path = sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=30)
    old = path.stat().st_mtime
    finished = threading.Event()

    def upload() -> None:
        # A client that preserves the source file's time: the mtime stays old while the file
        # grows, so only comparing sizes between two listings shows the upload.
        row = people(("2", "Engineer")).split(b"\n", 1)[1]  # repeated: "duplicated", little to apply
        while not finished.wait(0.02):
            with path.open("ab") as handle:
                handle.write(row)
            os.utime(path, (old, old))

    writer = threading.Thread(target=upload)
    writer.start()
    try:
        _, outcome = sync_world.sync()
    finally:
        finished.set()
        writer.join()

    assert outcome.status == "skipped"
    assert [(s.file.name, s.reason) for s in outcome.left_alone] == [
        ("hris-1.csv", SkipReason.STILL_UPLOADING)
    ]
    assert sync_world.writes() == []
    _, later = sync_world.sync()
    assert [(f.name, f.status) for f in later.files] == [("hris-1.csv", "succeeded")]
    assert later.counts["created"] == 1 and later.counts["duplicated"] >= 2


def test_retention_deletes_only_old_processed_files(sync_world: SyncWorld) -> None:
    start = utcnow()
    sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=60)
    sync_world.sync(now=start)
    sync_world.drop("hris-2.csv", people(("1", "Engineer"), ("2", "Analyst")), minutes_ago=30)
    sync_world.sync(now=start + timedelta(days=20))
    # Not an HRIS file: never processed, never deleted, however old.
    sync_world.drop("notes.txt", b"hello\n", minutes_ago=60 * 24 * 90)
    # An old re-upload of hris-1's content: recognised as processed, and old enough to go.
    sync_world.drop("hris-1-copy.csv", people(("1", "Engineer")), minutes_ago=60 * 24 * 45)

    _, outcome = sync_world.sync(now=start + timedelta(days=31))

    assert sorted(outcome.deleted) == ["hris-1-copy.csv", "hris-1.csv"]
    assert ("hris-2.csv", "duplicate") in [(f.name, f.status) for f in outcome.files]
    assert sorted(p.name for p in sync_world.inbox.iterdir()) == ["hris-2.csv", "notes.txt"]
    ledger = {e.file_name: e.deleted_at for e in sync_world.store.ledger_entries("acme")}
    assert ledger["hris-1.csv"] == start + timedelta(days=31)
    assert ledger["hris-2.csv"] is None, "processed 11 days earlier: kept"


def test_a_file_replaced_after_processing_is_new_and_is_not_deleted(sync_world: SyncWorld) -> None:
    start = utcnow()
    sync_world.drop("hris.csv", people(("1", "Engineer")), minutes_ago=60)
    sync_world.sync(now=start)
    # The customer overwrites the file under the same name with new content.
    sync_world.drop("hris.csv", people(("1", "Director")), minutes_ago=-60 * 24 * 40)

    _, outcome = sync_world.sync(now=start + timedelta(days=40, hours=1))

    assert outcome.deleted == (), "the new content was processed just now"
    assert [(f.name, f.status) for f in outcome.files] == [("hris.csv", "succeeded")]
    assert sync_world.managed()["1"]["job"] == "Director"
    assert (sync_world.inbox / "hris.csv").exists()


def test_an_unusable_source_fails_the_run_with_the_fix(sync_world: SyncWorld) -> None:
    sync_world.write_config(source={"type": "folder", "path": "../no-such-inbox"})

    _, outcome = sync_world.sync()

    assert outcome.status == "failed"
    assert isinstance(outcome.error, SourceError)
    assert "no such folder" in str(outcome.error) and "hris.source.path" in str(outcome.error)
    assert outcome.files == () and sync_world.writes() == []


def test_a_stop_during_the_settle_wait_ends_the_run_at_once(sync_world: SyncWorld) -> None:
    sync_world.write_config(file={"prefix": "hris", "extension": "csv", "settle_seconds": 30})
    sync_world.drop("hris-1.csv", people(("1", "Engineer")), minutes_ago=30)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()

    started = time.monotonic()
    _, outcome = sync_world.sync(stop_event=stop)

    assert time.monotonic() - started < 10, "the 30 s wait was cut short"
    assert outcome.status == "interrupted"
    assert outcome.files == () and sync_world.writes() == []


def test_a_resumed_run_whose_file_is_gone_says_its_actions_are_abandoned(sync_world: SyncWorld) -> None:
    sync_world.drop("hris-1.csv", people(("1", "A"), ("2", "B"), ("3", "C")), minutes_ago=30)
    stop = threading.Event()
    run_id, first = sync_world.sync(stop_event=stop, reporter=StopAfter(stop, bar=1, steps=1))
    assert first.status == "interrupted"
    (sync_world.inbox / "hris-1.csv").unlink()  # the customer deleted it meanwhile

    reporter = StopAfter(threading.Event(), bar=0, steps=0)
    _, outcome = sync_world.sync(run_id=run_id, reporter=reporter)

    assert outcome.status == "skipped"
    assert any("hris-1.csv: this run was applying it when it stopped" in p for p in outcome.problems)
    assert any("abandoned" in m for m in reporter.messages)
