"""Files in, end to end with real peers: OpenSSH's sshd serving PGP-encrypted files (real gpg)
synced into the sandbox LMS; a runner killed with -9 in the middle of a sync, restarted; and
``lmsync demo`` from a fresh process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import DecryptionError
from engine.files import SkipReason
from tests.engine.sync.helpers import SyncWorld, make_world, people, utcnow
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.sshd import SshServer

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def poll(condition: Callable[[], bool], *, timeout: float = 60.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def sync_world(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SyncWorld]:
    """A customer with a local folder source (see tests/engine/sync/helpers.py)."""
    world = make_world(sandbox, tmp_path, monkeypatch)
    yield world
    world.store.close()


@pytest.fixture
def sftp_world(
    sandbox: SandboxHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sshd: SshServer,
    sftp_folder: Path,
    gpg_keys: GpgKeys,
) -> Iterator[SyncWorld]:
    """The customer of ``sync_world``, its files on sshd over SFTP, encryption required."""
    world = make_world(sandbox, tmp_path, monkeypatch)
    monkeypatch.setenv("ACME_SFTP_KEY", sshd.client_key)
    monkeypatch.setenv("ACME_PGP_KEY", gpg_keys.runner.private_key)
    monkeypatch.setenv("ACME_PGP_PASS", gpg_keys.runner.passphrase or "")
    world.write_config(
        source=sshd.sftp_config(sftp_folder, private_key="env:ACME_SFTP_KEY"),
        # Two listings 0.2 s apart over SFTP: the settle check runs for real.
        file={"prefix": "hris", "extension": "csv", "settle_seconds": 0.2},
        encryption={"required": True, "private_key": "env:ACME_PGP_KEY", "passphrase": "env:ACME_PGP_PASS"},
    )
    yield world
    world.store.close()


def test_encrypted_files_on_sftp_are_synced_oldest_first_and_deleted_after_retention(
    sftp_world: SyncWorld, sftp_folder: Path, gpg_keys: GpgKeys
) -> None:
    world = sftp_world
    world.drop(
        "hris-1.csv.pgp", gpg_keys.encrypt(people(("1", "Engineer"))), minutes_ago=30, folder=sftp_folder
    )
    world.drop(
        "hris-2.csv.gpg",
        gpg_keys.encrypt(people(("1", "CTO"), ("2", "Analyst")), armor=False),
        minutes_ago=20,
        folder=sftp_folder,
    )
    # Encryption is required: a plain file is never synchronized, whatever it holds.
    world.drop("hris-3.csv", people(("3", "Intruder")), minutes_ago=10, folder=sftp_folder)

    start = utcnow()
    _, outcome = world.sync(now=start)

    assert outcome.status == "succeeded", outcome.error
    assert outcome.source.startswith("sftp://")
    assert [(f.name, f.status) for f in outcome.files] == [
        ("hris-1.csv.pgp", "succeeded"),
        ("hris-2.csv.gpg", "succeeded"),
        ("hris-3.csv", "skipped"),
    ]
    assert outcome.files[2].detail is not None and outcome.files[2].detail.startswith(
        SkipReason.NOT_ENCRYPTED
    )
    managed = world.managed()
    assert sorted(managed) == ["1", "2"] and managed["1"]["job"] == "CTO"
    assert [e.file_name for e in world.store.ledger_entries("acme")] == ["hris-1.csv.pgp", "hris-2.csv.gpg"]

    # 31 days later the processed files are deleted over SFTP; the unprocessed one stays.
    _, later = world.sync(now=start + timedelta(days=31))
    assert sorted(later.deleted) == ["hris-1.csv.pgp", "hris-2.csv.gpg"]
    assert sorted(p.name for p in sftp_folder.iterdir()) == ["hris-3.csv"]
    assert all(e.deleted_at is not None for e in world.store.ledger_entries("acme"))


def test_a_file_encrypted_to_another_key_stops_the_run_and_nothing_is_written(
    sftp_world: SyncWorld, sftp_folder: Path, gpg_keys: GpgKeys
) -> None:
    world = sftp_world
    wrong = gpg_keys.encrypt(people(("1", "Engineer")), to=gpg_keys.other)
    world.drop("hris-1.csv.pgp", wrong, minutes_ago=30, folder=sftp_folder)
    world.drop(
        "hris-2.csv.pgp", gpg_keys.encrypt(people(("2", "Engineer"))), minutes_ago=10, folder=sftp_folder
    )

    _, outcome = world.sync()

    assert outcome.status == "failed"
    assert isinstance(outcome.error, DecryptionError)
    assert "hris-1.csv.pgp" in str(outcome.error) and "not to this environment's key" in str(outcome.error)
    assert outcome.waiting == ("hris-2.csv.pgp",), "the later file is kept for the next run"
    assert world.writes() == [], "nothing reached the LMS"
    assert world.store.ledger_entries("acme") == []
    assert sorted(p.name for p in sftp_folder.iterdir()) == ["hris-1.csv.pgp", "hris-2.csv.pgp"]


def test_kill_9_of_the_runner_mid_sync_then_restart_completes_the_run_from_its_journal(
    sync_world: SyncWorld, tmp_path: Path
) -> None:
    world, store = sync_world, sync_world.store
    count = 30
    world.drop("hris-1.csv", people(*[(f"{i:03d}", "Engineer") for i in range(count)]), minutes_ago=30)
    store.record_slot("acme", datetime(2000, 1, 1, tzinfo=UTC))  # overdue: runs at once
    processes: list[subprocess.Popen[bytes]] = []

    def start_runner() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"runner-{len(processes)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "engine.cli.main", "runner",
                "--configs", str(world.config_path.parent), "--state", world.state_url,
                "--environment", "test", "--poll-interval", "0.1", "--lock-ttl", "1.5",
            ],
            cwd=REPO, env={k: v for k, v in os.environ.items() if k != "LMSYNC_SMTP_URL"},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        processes.append(proc)
        return proc

    try:
        # The client paces writes at the LMS's 10/s: the sync takes seconds, killed in the middle.
        first = start_runner()
        poll(lambda: len(world.writes()) >= 15, what="the first writes")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        (run,) = store.list_runs("acme")
        assert run.status == "running", "killed: nobody finished the run"
        pending = [e for e in store.journal(run.id) if e.status == "pending" and e.action != "sync_file"]
        assert pending, "the kill happened with work left"
        writes_before = world.writes()
        world.sandbox.admin.reset_requests()

        second = start_runner()
        poll(lambda: store.get_run(run.id).status == "succeeded", what="the run to be completed")
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    writes_after = world.writes()
    assert [r.id for r in store.list_runs("acme")] == [run.id], "completed, not started again"
    # At most the action in flight at the kill is left pending: it reached the LMS, and the
    # completing run's re-plan found it done (e.g. a user created but not yet linked is linked).
    left = [e for e in store.journal(run.id) if e.status != "done"]
    assert len(left) <= 1, left
    assert len(writes_after) <= len(pending), "what the journal marked done was not sent again"
    creates = [
        w for w in writes_before + writes_after if w["method"] == "POST" and w["path"] == "/api/v2/users"
    ]
    assert len(creates) == count, "no user was created twice"
    mails = Counter(u["mail"] for u in world.sandbox.admin.users())
    assert all(n == 1 for n in mails.values())
    assert sorted(world.managed()) == [f"{i:03d}" for i in range(count)]
    assert [(e.file_name, e.run_id) for e in store.ledger_entries("acme")] == [("hris-1.csv", run.id)]


def _demo(tmp_path: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "demo", "--workdir", str(workdir)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("LMSYNC_")},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_lmsync_demo_runs_to_completion_and_its_second_pass_changes_nothing(tmp_path: Path) -> None:
    done = _demo(tmp_path, tmp_path / "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "== plan for hris-demo.csv (dry run: nothing written yet) ==" in out
    assert re.search(r"hris-demo\.csv \(sha256 [0-9a-f]{12}\): succeeded: [1-9][0-9]* created", out)
    assert "second pass: 0 changes, 0 write requests sent to the LMS" in out
    assert "demo finished: the LMS matches the file" in out
    assert "@example.com" not in out + done.stderr, "no employee e-mail is printed"
    assert "Applying" in done.stderr, "the apply shows its progress"
    logs = sorted((tmp_path / "demo" / "runs").glob("*.csv"))
    assert len(logs) == 2

    # The README's --workdir keeps the folder: running the demo again there tells the same
    # story from an empty LMS instead of tripping over the kept sandbox and state.
    again = _demo(tmp_path, tmp_path / "demo")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "holds an earlier demo: starting it again from an empty LMS" in again.stdout
    assert re.search(r"hris-demo\.csv \(sha256 [0-9a-f]{12}\): succeeded: [1-9][0-9]* created", again.stdout)
    assert len(sorted((tmp_path / "demo" / "runs").glob("*.csv"))) == 2


def test_lmsync_demo_never_empties_a_folder_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    done = _demo(tmp_path, mine)
    assert done.returncode != 0
    assert "is not empty and was not made by `lmsync demo`" in done.stderr
    assert "give a new or empty folder" in done.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_sigterm_stops_lmsync_sync_between_actions_and_the_next_sync_completes_the_run(
    sync_world: SyncWorld, tmp_path: Path
) -> None:
    world, store = sync_world, sync_world.store
    count = 20
    world.drop("hris-1.csv", people(*[(f"{i:03d}", "Engineer") for i in range(count)]), minutes_ago=30)
    argv = [
        sys.executable, "-m", "engine.cli.main", "sync", str(world.config_path),
        "--env", "test", "--state", world.state_url,
    ]  # fmt: skip

    # The client paces writes at 10/s, so the sync is still applying when SIGTERM arrives.
    first = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        poll(lambda: len(world.writes()) >= 8, what="the first writes")
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert first.returncode == 130, out + err
    assert "SIGTERM: stopping after the current action" in err
    (run,) = store.list_runs("acme")
    assert run.status == "interrupted"
    assert f"run {run.id} (acme, test): interrupted" in out

    again = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"run {run.id} (acme, test, completed from its journal): succeeded" in again.stdout
    assert [r.id for r in store.list_runs("acme")] == [run.id]
    creates = [w for w in world.writes() if w["method"] == "POST" and w["path"] == "/api/v2/users"]
    assert len(creates) == count, "each user created once over the two processes"
    assert sorted(world.managed()) == [f"{i:03d}" for i in range(count)]
