"""No employee e-mail or name, and no secret, in anything lmsync prints, logs, stores or mails.

Every e-mail and name in these files carries the marker ``zqxjv`` (never found by chance), and
the LMS credentials are markers too. Real commands run in their own processes (``lmsync
apply``, ``lmsync sync``, ``lmsync runs``, ``lmsync runs show``, ``lmsync runner --once``
with a recap through a real SMTP server) against the sandbox over HTTP, on files that take
the error paths: a malformed row, a duplicated ``uniqueId``, an invalid e-mail, an e-mail
the LMS refuses with ``mailAlreadyUsed`` (the sandbox echoes the address in its message),
an unknown manager, a leaver. Then the whole ``tmp_path`` is searched byte by byte, SQLite
state included: only the input files themselves and the sandbox's own database (the LMS)
may hold a marker. The positive control: with ``review.show_personal_data`` the markers do
show, so the search would see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from connectors.lms.target import LmsTarget
from engine.cli.main import main
from engine.errors import TargetUnavailableError
from engine.hris.actions import CreateUser
from engine.state import StateStore
from tests.engine.apply.world import PLATFORM, ROOT, ApplyWorld
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MARKER = b"zqxjv"
HEADER = "uniqueId,status,email,firstName,lastName,title,managerId,location,country,site"
ROWS = [
    "1,Active,zqxjv.ada@markers.example,Zqxjvada,Zqxjvlovelace,CEO,,HQ,France,Paris",
    "2,Active,zqxjv.bob@markers.example,Zqxjvbob,Zqxjvbuilder,Engineer,1,HQ,France,Paris",
    # A malformed row: one field too many.
    "3,Active,zqxjv.carl@markers.example,Zqxjvcarl,Zqxjvcarlsson,Engineer,1,HQ,France,Paris,zqxjv-extra",
    # The same uniqueId twice.
    "4,Active,zqxjv.dup1@markers.example,Zqxjvdup,Zqxjvone,Engineer,1,HQ,France,Paris",
    "4,Active,zqxjv.dup2@markers.example,Zqxjvdup,Zqxjvtwo,Engineer,1,HQ,France,Paris",
    # Not an e-mail.
    "5,Active,zqxjv.eve-at-markers,Zqxjveve,Zqxjvevans,Engineer,1,HQ,France,Paris",
    # No uniqueId.
    ",Active,zqxjv.nobody@markers.example,Zqxjvno,Zqxjvbody,Engineer,1,HQ,France,Paris",
    # A manager nobody has.
    "6,Active,zqxjv.fay@markers.example,Zqxjvfay,Zqxjvfield,Engineer,404,HQ,France,Paris",
    # A name holding the delimiter, quoted.
    '7,Active,zqxjv.gus@markers.example,"Zqxjvgus, Jr",Zqxjvgrant,Engineer,1,HQ,France,Lyon',
    # Its address is taken by another LMS user while the first apply runs (see TAKEN).
    "8,Active,zqxjv.hal@markers.example,Zqxjvhal,Zqxjvhill,Engineer,1,HQ,France,Paris",
]
#: The LMS refuses this one (another LMS user got the address between plan and apply).
TAKEN = "zqxjv.hal@markers.example"


def text(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def run_cli(
    world: ApplyWorld, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lmsync ARGS`` in its own process, from ``world.tmp``; stdout and stderr kept."""
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=world.tmp,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    transcript = world.tmp / "transcripts"
    transcript.mkdir(exist_ok=True)
    index = len(list(transcript.iterdir()))
    (transcript / f"{index:02}-{args[0]}.out").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    return done


def in_process(world: ApplyWorld, capsys: pytest.CaptureFixture[str], *args: str) -> int:
    """``lmsync ARGS`` in this process (read-only commands: fast), its output kept likewise."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    transcript = world.tmp / "transcripts"
    transcript.mkdir(exist_ok=True)
    index = len(list(transcript.iterdir()))
    (transcript / f"{index:02}-{args[0]}.out").write_text(out + "\n--- stderr ---\n" + err)
    return code


def capsys_last(world: ApplyWorld) -> str:
    """The stdout of the last command run."""
    last = sorted((world.tmp / "transcripts").iterdir())[-1].read_text()
    return last.split("\n--- stderr ---\n")[0]


def leaks(root: Path, *, allowed: set[Path], needles: list[bytes]) -> list[str]:
    """Every file under ``root`` (but ``allowed``) holding a needle, case-insensitively."""
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path in allowed:
            continue
        data = path.read_bytes().lower()
        found += [f"{path.relative_to(root)}: {n.decode()}" for n in needles if n.lower() in data]
    return found


def sandbox_files(sandbox: SandboxHandle) -> set[Path]:
    db = sandbox.db_path
    return {
        db,
        db.with_name(db.name + "-wal"),
        db.with_name(db.name + "-shm"),
        db.with_name(db.name + "-journal"),
    }


class TakenDuringApply(LmsTarget):
    """Another LMS administrator creates a user with one of the file's addresses just after
    the snapshot: the LMS then refuses the creation with ``mailAlreadyUsed``."""

    def create_user(self, action: CreateUser, *, columns: tuple[str, ...]) -> Any:
        if action.email == TAKEN and not getattr(self, "_taken", False):
            self._taken = True
            self.client.create_user(TAKEN, ROOT, send_invitation=False)
        return super().create_user(action, columns=columns)


def mailed(inbox: SmtpServer) -> bytes:
    """The recaps as their readers see them: subjects and bodies decoded (quoted-printable
    would cut a marker at a soft line break)."""
    texts = []
    for message in inbox.inbox.messages:
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        texts.append(str(make_header(decode_header(message["Subject"]))).encode() + b"\n" + body)
    return b"\n".join(texts)


def test_apply_sync_runs_and_the_recap_never_show_an_email_a_name_or_a_secret(
    world: ApplyWorld,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox = world.tmp / "customers" / "inbox"
    inbox.mkdir(parents=True)
    config = world.write_config(
        file={"prefix": "hris", "extension": "csv", "settle_seconds": 0}, notify=["sa@ops.example"]
    )
    first = world.tmp / "hris-first.csv"
    first.write_text(text(*ROWS), encoding="utf-8")

    # 1. An apply in-process whose creation the LMS refuses (the sandbox echoes the address).
    outcome = world.apply(
        text(*ROWS), target=TakenDuringApply(world.sandbox.new_client(), platform=PLATFORM, root_group=ROOT)
    )
    refused = [r for r in outcome.report if r["code"] == "mailAlreadyUsed"]
    assert refused and "<e-mail>" in str(refused[0]["reason"]), outcome.report
    (taken_run,) = world.store.list_runs("acme")
    world.store.save_report(taken_run.id, outcome.report)

    # 2. lmsync apply of the same file (what is left to do) and of a file where people leave.
    applied = run_cli(world, "apply", str(config), "--input", str(first), "--state", world.state_url)
    assert applied.returncode in (0, 1), applied.stderr
    leavers = world.tmp / "hris-leavers.csv"
    leavers.write_text(text(*ROWS[:2], ROWS[7].replace(",Active,", ",Terminated,")), encoding="utf-8")
    assert (
        run_cli(world, "apply", str(config), "--input", str(leavers), "--state", world.state_url).returncode
        == 0
    )

    # 3. lmsync plan in every format.
    for fmt in ("text", "json", "markdown"):
        plan_args = ["plan", str(config), "--input", str(first), "--state", world.state_url, "--format", fmt]
        assert in_process(world, capsys, *plan_args) in (0, 2)

    # 4. lmsync sync of a new export (names changed, one more person), then the runner's
    # scheduled run of another one, with its recap mailed.
    (inbox / "hris-sync.csv").write_text(
        text(*ROWS, "9,Active,zqxjv.ivy@markers.example,Zqxjvivy,Zqxjvivory,Engineer,1,HQ,Spain,Madrid"),
        encoding="utf-8",
    )
    synced = run_cli(world, "sync", str(config), "--env", "test", "--state", world.state_url)
    assert synced.returncode in (0, 1), synced.stdout + synced.stderr
    (inbox / "hris-runner.csv").write_text(
        text(*ROWS, "10,Active,zqxjv.jo@markers.example,Zqxjvjo,Zqxjvjones,Engineer,1,HQ,Spain,Madrid"),
        encoding="utf-8",
    )
    store = StateStore.open(world.state_url)
    store.record_slot("acme", datetime(2000, 1, 1, tzinfo=UTC))
    store.close()
    runner = run_cli(
        world,
        "runner", "--configs", str(config.parent), "--state", world.state_url,
        "--environment", "test", "--once",
        env={"LMSYNC_SMTP_URL": smtp_server.url},
    )  # fmt: skip
    assert runner.returncode == 0, runner.stderr
    assert smtp_server.inbox.messages, runner.stderr
    recaps = mailed(smtp_server)
    assert b"wrong_field_count" in recaps and b"duplicated" in recaps
    (world.tmp / "recaps.txt").write_bytes(recaps)

    # 5. The history and every run's log, as an SA downloads them.
    assert in_process(world, capsys, "runs", "--state", world.state_url) == 0
    assert in_process(world, capsys, "runs", "acme", "--state", world.state_url, "--format", "json") == 0
    runs = json.loads(capsys_last(world))["runs"]
    assert len(runs) >= 5
    for run in runs:
        for fmt in ("text", "json", "csv"):
            assert (
                in_process(
                    world, capsys, "runs", "show", run["id"], "--state", world.state_url, "--format", fmt
                )
                == 0
            )
    shown = b"".join(p.read_bytes() for p in (world.tmp / "transcripts").glob("*-runs.out"))
    assert b"mailAlreadyUsed" in shown and b"duplicated" in shown and b"wrong_field_count" in shown

    # 6. The sandbox's request log, as its admin surface hands it out.
    (world.tmp / "sandbox-requests.json").write_text(json.dumps(world.sandbox.admin.requests()))

    allowed = {
        first,
        leavers,
        inbox / "hris-sync.csv",
        inbox / "hris-runner.csv",
        *sandbox_files(world.sandbox),
    }
    secrets = [world.sandbox.client_id.encode(), world.sandbox.client_secret.encode()]
    assert leaks(world.tmp, allowed=allowed, needles=[MARKER, *secrets]) == []


def test_the_markers_do_show_when_the_customer_file_opts_in(world: ApplyWorld) -> None:
    """The positive control of the search above."""
    data = world.config_data()
    data["review"] = {"show_personal_data": True}
    config = world.write_config()
    config.write_text(json.dumps(data), encoding="utf-8")
    first = world.tmp / "hris-first.csv"
    first.write_text(text(*ROWS), encoding="utf-8")

    shown = run_cli(
        world, "plan", str(config), "--input", str(first), "--state", world.state_url, "--format", "json"
    )

    assert "zqxjv.ada@markers.example" in shown.stdout and "Zqxjvlovelace" in shown.stdout


def test_the_sandbox_request_log_keeps_no_address_looked_up_after_a_lost_answer(world: ApplyWorld) -> None:
    # Every answer to a write is lost after the write happened: each creation is checked by
    # looking its address up (GET /api/v2/users?mail=...) before it is sent again.
    world.sandbox.admin.configure(faults={"drop": 1.0, "seed": 1})
    client = world.sandbox.new_client(max_retries=1)
    with pytest.raises(TargetUnavailableError):  # the second attempt is dropped too
        client.create_user("zqxjv.lost@markers.example", ROOT, send_invitation=False)
    world.sandbox.admin.configure(faults={"drop": 0.0})

    requests = world.sandbox.admin.requests()
    assert any(r["method"] == "GET" and r["path"] == "/api/v2/users" and r["query"] for r in requests)
    assert "zqxjv" not in json.dumps(requests).lower()
