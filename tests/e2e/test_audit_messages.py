"""Every run-stopping error, as the SA reads it at 7 a.m. on ``lmsync sync``'s stderr.

Each case drops a real file (or breaks a real peer: sshd, gpg, the sandbox LMS), runs
``lmsync sync`` and checks the one ``error:`` line: it names the file (and the line when
there is one), says what is wrong and how to fix it, and the exit code, the LMS (no write)
and the later file (left for the next run) behave as documented. Secrets never show, even
the wrong ones.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.lms.target import LmsTarget
from engine.apply import plan_hris_file
from engine.cli.main import main
from engine.errors import TargetUnavailableError
from tests.engine.sync.helpers import SECRET_ENV, SyncWorld, make_world, people
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.sshd import SshServer

pytestmark = pytest.mark.integration


@pytest.fixture
def world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncWorld]:
    built = make_world(sandbox, tmp_path, monkeypatch)
    yield built
    built.store.close()


def sync(world: SyncWorld, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["sync", str(world.config_path), "--env", "test", "--state", world.state_url])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


HEADER = b"uniqueId,status,email,firstName,lastName,title\n"


@pytest.mark.parametrize(
    ("data", "where", "what", "fix"),
    [
        (
            b"uniqueId,status,firstName\n1,Active,Ada\n",
            "hris-1.csv:1: ",
            "required column(s) missing: email",
            "add the column(s) to the export",
        ),
        (b"", "hris-1.csv:1: ", "the file is empty", "re-run the export and upload it again"),
        (HEADER, "hris-1.csv:1: ", "the file has a header but no user rows", "check the HRIS export filter"),
        (
            HEADER + "1,Active,a@acme.example,Ren\xe9,X,Y\n".encode("latin-1"),
            "hris-1.csv:2: ",
            "not valid UTF-8 at byte 74",
            "export the file as UTF-8",
        ),
        (
            HEADER + b'1,Active,a@acme.example,"Ada,X,Y\n2,Active,b@acme.example,B,C,D\n',
            "hris-1.csv:2: ",
            "cannot be parsed",
            "fix the quotes from this line on",
        ),
    ],
    ids=["missing-column", "empty", "header-only", "not-utf8", "unclosed-quote"],
)
def test_an_unusable_file_names_file_line_problem_and_fix(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], data: bytes, where: str, what: str, fix: str
) -> None:
    world.drop("hris-1.csv", data, minutes_ago=30)
    world.drop("hris-2.csv", people(("1", "Engineer")), minutes_ago=20)

    code, out, err = sync(world, capsys)

    line = error_line(err)
    assert code == 1
    assert line.startswith(f"error: {where}") and what in line and fix in line, line
    assert "left for the next run: hris-2.csv" in out
    assert world.writes() == []


def test_a_file_encrypted_to_another_key_names_both_keys_and_who_fixes_it(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PGP_KEY", gpg_keys.runner.private_key)
    monkeypatch.setenv("ACME_PGP_PASS", gpg_keys.runner.passphrase or "")
    world.write_config(
        encryption={"required": True, "private_key": "env:ACME_PGP_KEY", "passphrase": "env:ACME_PGP_PASS"}
    )
    world.drop("hris-1.csv.pgp", gpg_keys.encrypt(people(("1", "A")), to=gpg_keys.other), minutes_ago=30)

    code, _, err = sync(world, capsys)

    line = error_line(err)
    assert code == 1 and line.startswith(
        "error: hris-1.csv.pgp: cannot decrypt: the file is encrypted to key"
    )
    assert "ask the customer to encrypt the file with the public key of this environment" in line
    assert (gpg_keys.runner.passphrase or "\0") not in err
    assert world.writes() == []


def test_a_wrong_pgp_passphrase_says_which_secret_and_never_shows_it(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PGP_KEY", gpg_keys.runner.private_key)
    monkeypatch.setenv("ACME_PGP_PASS", "zqx-wrong-passphrase")
    world.write_config(
        encryption={"required": True, "private_key": "env:ACME_PGP_KEY", "passphrase": "env:ACME_PGP_PASS"}
    )
    world.drop("hris-1.csv.pgp", gpg_keys.encrypt(people(("1", "A"))), minutes_ago=30)

    code, out, err = sync(world, capsys)

    line = error_line(err)
    assert code == 1 and line.startswith("error: hris-1.csv.pgp: cannot decrypt")
    assert "hris.encryption.passphrase" in line
    assert "zqx" not in out + err


def test_an_unreachable_sftp_server_says_which_settings_to_check(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], sshd: SshServer, sftp_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ACME_SFTP_KEY", sshd.client_key)
    port = free_port()  # nothing listens there
    world.write_config(source=sshd.sftp_config(sftp_folder, port=port, private_key="env:ACME_SFTP_KEY"))

    code, _, err = sync(world, capsys)

    line = error_line(err)
    assert code == 1
    assert f"127.0.0.1:{port}" in line and "connection failed" in line
    assert "check hris.source.host and port" in line and "the next run retries" in line
    assert "PRIVATE KEY" not in err


def test_lms_credentials_refused_name_the_references_never_the_values(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "zqx-wrong-secret")
    world.drop("hris-1.csv", people(("1", "A")), minutes_ago=30)

    code, out, err = sync(world, capsys)

    line = error_line(err)
    assert code == 1
    assert "LMS refused the client credentials" in line
    assert f"environments.test.lms.client_secret (env:{SECRET_ENV})" in line
    assert f"environments.test.lms.url ({world.sandbox.url})" in line
    assert "zqx" not in out + err and world.sandbox.client_id not in out + err
    assert world.store.ledger_entries("acme") == [], "the file is not recorded as processed"


def test_an_unreachable_lms_names_its_url(world: SyncWorld) -> None:
    # Through the planning step ``lmsync sync`` runs, with a client that does not retry: the
    # command itself retries for about a minute before it gives the same error.
    data = world.config_data()
    url = f"http://127.0.0.1:{free_port()}"
    data["environments"]["test"]["lms"]["url"] = url
    world.config_path.write_text(json.dumps(data), encoding="utf-8")

    with (
        LmsTarget.from_config(world.config(), "test", max_retries=0) as target,
        pytest.raises(TargetUnavailableError) as raised,
    ):
        plan_hris_file(world.config(), people(("1", "A")), file_name="hris-1.csv", target=target)

    assert raised.value.transient, "the runner retries it"
    assert "connection failed" in str(raised.value)
    assert f"check environments.test.lms.url ({url}) and the network" in str(raised.value)


def test_a_tripped_guard_says_how_many_of_how_many_and_the_command(
    world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.drop("hris-1.csv", people(("1", "A"), ("2", "B"), ("3", "C")), minutes_ago=30)
    assert sync(world, capsys)[0] == 0
    world.write_config(safety={"max_deletions": 1})
    world.drop("hris-2.csv", people(("1", "A", "Gone"), ("2", "B", "Gone"), ("3", "C")), minutes_ago=20)
    world.sandbox.admin.reset_requests()

    code, _, err = sync(world, capsys)

    line = error_line(err)
    assert code == 3
    assert line.startswith("error: hris-2.csv: this plan deletes 2 managed user(s)")
    assert "(1 of 3 managed users)" in line and "nothing was written" in line
    assert "--allow-deletions 2" in line
    assert world.writes() == []
