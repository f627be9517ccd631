"""Pieces shared by the deploy tests: a deploy folder on the sshd host, known_hosts, customers.

The sshd fixture (tests/fixtures/sshd.py) already gives a shell-capable login (``/bin/sh``, no
ForceCommand), so ``Connection.run`` works against it as on a real runner. The host is this
machine: a remote path is also a local one, and the tests look at the result directly.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.deploy import KnownHosts, SshRunnerHost, load_identity
from engine.deploy import RunnerAddress
from tests.engine.runner.helpers import write_customer
from tests.fixtures.sshd import SshServer
from tests.gitrepo import git

SHA_1 = "1111111111111111111111111111111111111111"
SHA_2 = "2222222222222222222222222222222222222222"
SHA_3 = "3333333333333333333333333333333333333333"


def owned_folder(parent: Path, owner: str | None) -> Path:
    """A fresh folder under ``parent`` that ``owner`` (the SSH login) may write in."""
    folder = Path(tempfile.mkdtemp(dir=parent, prefix="deploy-"))
    folder.chmod(0o755)
    if owner is not None and os.geteuid() == 0:
        shutil.chown(folder, user=owner)
    return folder


@pytest.fixture
def deploy_root(sshd: SshServer) -> Path:
    """The --path of a deploy: not created yet, inside a folder the SSH user owns."""
    return owned_folder(sshd.home, sshd.username) / "srv"


@pytest.fixture
def known_hosts(tmp_path: Path, sshd: SshServer) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(f"[{sshd.host}]:{sshd.port} {sshd.host_key}\n")
    return path


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "customers"
    write_customer(folder, "acme")
    write_customer(folder / "eu", "globex")
    return folder


@pytest.fixture
def customers_commit(customers: Path) -> str:
    """The ``customers`` folder committed in a fresh repository: a deploy's --sha must be this."""
    git(customers.parent, "init", "-q")
    git(customers.parent, "add", ".")
    git(customers.parent, "commit", "-q", "-m", "customers")
    return git(customers.parent, "rev-parse", "HEAD")


def ssh_host(
    sshd: SshServer,
    path: Path | str,
    known_hosts: Path,
    *,
    user: str | None = None,
    port: int | None = None,
    timeout: float = 10.0,
) -> SshRunnerHost:
    return SshRunnerHost(
        RunnerAddress(user or sshd.username, sshd.host, port or sshd.port),
        str(path),
        known_hosts=KnownHosts(known_hosts),
        identity=load_identity(SecretStr(sshd.client_key), None),
        timeout=timeout,
    )


def cli_args(
    sshd: SshServer, path: Path | str, known_hosts: Path, configs: Path | None = None, *extra: str
) -> list[str]:
    """``lmsync deploy`` arguments for the sshd host, the key given by reference (env:)."""
    args = [
        "deploy",
        "--host",
        f"{sshd.username}@{sshd.host}",
        "--port",
        str(sshd.port),
        "--path",
        str(path),
        "--identity",
        "env:LMSYNC_TEST_DEPLOY_KEY",
        "--known-hosts",
        str(known_hosts),
        "--timeout",
        "10",
    ]
    if configs is not None:
        args += ["--configs", str(configs)]
    return args + list(extra)


@pytest.fixture
def deploy_key_env(sshd: SshServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LMSYNC_TEST_DEPLOY_KEY", sshd.client_key)
    return "env:LMSYNC_TEST_DEPLOY_KEY"


@dataclass(frozen=True)
class SecondLogin:
    username: str
    home: Path


@pytest.fixture(scope="session")
def second_login(sshd: SshServer) -> Iterator[SecondLogin]:
    """Another account on the sshd host (same authorised key), with its own home: a second
    "runner" for the several-hosts tests, whose relative --path lands in a different folder."""
    if os.geteuid() != 0:
        pytest.skip("a second login needs a throwaway user, which needs root")
    base = Path(tempfile.mkdtemp(prefix="lmsync-deploy-"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    username = f"lmdeploy{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", username],
        check=True,
        capture_output=True,
    )
    try:
        # sshd without PAM refuses a locked account (no password set), even for key logins.
        subprocess.run(["chpasswd"], input=f"{username}:{secrets.token_urlsafe(18)}\n", text=True, check=True)
        shutil.chown(home, user=username)
        yield SecondLogin(username, home)
    finally:
        subprocess.run(["userdel", username], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
