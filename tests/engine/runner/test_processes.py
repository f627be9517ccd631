"""Real runner processes: SIGTERM stops cleanly, kill -9 is recovered from the journal, and two
runners on one PostgreSQL never run one customer twice or at once."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.state import StateStore
from tests.engine.runner.helpers import write_customer

REPO = Path(__file__).resolve().parents[3]
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.integration


def poll(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class RunnerProcesses:
    """Starts `lmsync runner` subprocesses with the test job, and cleans up after."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.target = tmp_path / "target.sqlite"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, configs: Path, state: str, *, actions: int, delay: float, workers: int = 2
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "LMSYNC_TEST_TARGET": str(self.target),
            "LMSYNC_TEST_ACTIONS": str(actions),
            "LMSYNC_TEST_DELAY": str(delay),
        }
        env.pop("LMSYNC_SMTP_URL", None)
        log = open(self.tmp_path / f"runner-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "runner",
                "--configs",
                str(configs),
                "--state",
                state,
                "--job",
                "tests.engine.runner.journal_job:run",
                "--poll-interval",
                "0.1",
                "--lock-ttl",
                "1.5",
                "--max-workers",
                str(workers),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def applied(self) -> list[tuple[str, str, int]]:
        if not self.target.exists():
            return []
        with sqlite3.connect(self.target, timeout=30) as conn:
            try:
                return conn.execute("SELECT customer, key, pid FROM applied ORDER BY n").fetchall()
            except sqlite3.OperationalError:
                return []

    def activity(self) -> list[tuple[str, int, float, float]]:
        with sqlite3.connect(self.target, timeout=30) as conn:
            return conn.execute("SELECT customer, pid, started, ended FROM activity").fetchall()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture()
def processes(tmp_path: Path) -> Iterator[RunnerProcesses]:
    procs = RunnerProcesses(tmp_path)
    yield procs
    procs.stop_all()


def due_customers(state: str, *slugs: str) -> None:
    """Make each customer's schedule slot overdue, as after downtime."""
    store = StateStore.open(state)
    for slug in slugs:
        store.record_slot(slug, LONG_AGO)
    store.close()


def test_sigterm_journals_and_exits_zero_then_kill_9_is_completed_from_journal(
    tmp_path: Path, processes: RunnerProcesses
) -> None:
    configs, state = tmp_path / "customers", f"sqlite:///{tmp_path / 'state.sqlite'}"
    write_customer(configs, "acme")
    due_customers(state, "acme")
    actions = 40

    # 1. SIGTERM mid-run: the job stops between actions, the run is left interrupted, exit 0.
    first = processes.start(configs, state, actions=actions, delay=0.05)
    poll(lambda: len(processes.applied()) >= 5, what="the first actions")
    first.send_signal(signal.SIGTERM)
    assert first.wait(20) == 0
    store = StateStore.open(state)
    (run,) = store.list_runs("acme")
    assert run.status == "interrupted"
    after_term = len(processes.applied())
    assert 5 <= after_term < actions

    # 2. A new runner resumes it; kill -9 it mid-run: no clean-up at all, the lease stays.
    second = processes.start(configs, state, actions=actions, delay=0.05)
    poll(lambda: len(processes.applied()) >= after_term + 5, what="the resumed run's actions")
    second.send_signal(signal.SIGKILL)
    second.wait(10)
    assert store.get_run(run.id).status == "running", "killed: nobody finished the run"
    pending = [e for e in store.journal(run.id) if e.status == "pending"]
    assert pending, "the kill happened with work left"

    # 3. A third runner waits for the dead holder's lease to expire, then completes the run.
    third = processes.start(configs, state, actions=actions, delay=0.005)
    poll(lambda: store.get_run(run.id).status == "succeeded", what="the run to be completed")
    third.send_signal(signal.SIGTERM)
    assert third.wait(20) == 0

    applied = processes.applied()
    keys = [key for _, key, _ in applied]
    assert sorted(keys) == [f"create_user:{i:04d}" for i in range(actions)], "every action exactly once"
    pids = {pid for _, _, pid in applied}
    assert pids == {first.pid, second.pid, third.pid}, "each runner did part of the one run"
    assert [r.id for r in store.list_runs("acme")] == [run.id], "completed, not restarted as a new run"
    assert all(e.status == "done" for e in store.journal(run.id))
    assert len(store.report(run.id)) == actions
    store.close()


def test_two_runners_on_one_postgres_never_run_a_customer_twice_or_at_once(
    tmp_path: Path, processes: RunnerProcesses, postgres_url: str
) -> None:
    configs = tmp_path / "customers"
    slugs = [f"customer-{i}" for i in range(6)]
    for slug in slugs:
        write_customer(configs, slug)
    due_customers(postgres_url, *slugs)
    runners = [processes.start(configs, postgres_url, actions=6, delay=0.03) for _ in range(2)]
    store = StateStore.open(postgres_url)

    def all_done() -> bool:
        runs = store.list_runs()
        return len(runs) >= len(slugs) and all(r.status == "succeeded" for r in runs)

    poll(all_done, timeout=60, what="every customer's run")
    # Let both runners tick a few more times: nothing may run again.
    time.sleep(0.5)
    for proc in runners:
        proc.send_signal(signal.SIGTERM)
    assert [proc.wait(20) for proc in runners] == [0, 0]

    runs = store.list_runs()
    assert sorted(r.customer for r in runs) == slugs, "each customer ran exactly once"
    activity = processes.activity()
    assert sorted(c for c, _, _, _ in activity) == slugs
    applied = processes.applied()
    assert len(applied) == len({(customer, key) for customer, key, _ in applied}) == 6 * len(slugs)
    # Spans of one customer's work never overlap (trivially true with one span each, but the
    # check stays meaningful if the job above runs more than once).
    for slug in slugs:
        spans = sorted((s, e) for c, _, s, e in activity if c == slug)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    store.close()
