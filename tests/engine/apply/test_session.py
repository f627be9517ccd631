"""Taking a customer's turn to apply: the lock, resuming the unfinished run of the same file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.apply.session import (
    DEFAULT_RUNS_DIR,
    LOCK_TTL,
    ApplyRun,
    open_apply_run,
    runs_directory,
)
from engine.errors import LockHeldError
from engine.runner.runner import lock_name
from engine.state import StateStore
from tests.engine.apply.world import now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.close()


def open_run(store: StateStore, *, owner: str = "me", ttl: timedelta = LOCK_TTL) -> ApplyRun:
    return open_apply_run(
        store, "acme", "test", file_name="hris.csv", file_sha256="a" * 64, owner=owner, now=now(), ttl=ttl
    )


def test_a_new_run_is_started_under_the_customer_lock(store: StateStore) -> None:
    run = open_run(store)

    assert run.resumed is False
    record = store.get_run(run.run_id)
    assert (record.kind, record.status, record.file_sha256) == ("apply", "running", "a" * 64)
    assert store.lock_holder(lock_name("acme"), now=now()) == "me"


def test_another_live_holder_of_the_lock_is_refused(store: StateStore) -> None:
    open_run(store, owner="runner-1")

    with pytest.raises(LockHeldError, match="runner-1 is running a sync of this customer"):
        open_run(store, owner="me")


def test_the_unfinished_run_of_the_same_file_and_environment_is_resumed(store: StateStore) -> None:
    killed = open_run(store, owner="dead", ttl=timedelta(seconds=-1))  # its lease has already ended
    other_file = store.start_run("acme", "test", "apply", file_sha256="b" * 64, now=now())
    other_env = store.start_run("acme", "production", "apply", file_sha256="a" * 64, now=now())

    run = open_run(store)

    assert run.resumed is True and run.run_id == killed.run_id
    assert {r.id for r in store.unfinished_runs("acme")} == {killed.run_id, other_file, other_env}


def test_an_interrupted_run_is_reopened(store: StateStore) -> None:
    first = open_run(store)
    store.finish_run(first.run_id, "interrupted", counts={}, now=now())
    store.release_lock(lock_name("acme"), "me")

    again = open_run(store)

    assert again == ApplyRun(first.run_id, resumed=True)
    assert store.get_run(first.run_id).status == "running"


def test_runs_directory_is_beside_a_sqlite_state(tmp_path: Path) -> None:
    assert runs_directory(f"sqlite:///{tmp_path}/s/state.sqlite") == tmp_path / "s" / "runs"
    assert runs_directory("sqlite:///.lmsync/state.sqlite") == Path(".lmsync/runs")
    assert runs_directory("sqlite:///:memory:") == DEFAULT_RUNS_DIR
    assert runs_directory("postgresql://u@db:5432/lmsync") == DEFAULT_RUNS_DIR
