"""``lmsync deploy`` and ``--rollback`` against OpenSSH's real sshd on loopback.

The runner host is this machine reached over SSH (tests/fixtures/sshd.py): what the deploy
did is checked on the local disk, and the runner's own catalog reads the deployed link.
"""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.deploy import KnownHosts, SshRunnerHost, load_identity
from engine.cli.main import main
from engine.config.loader import check_bytes
from engine.console import SilentReporter
from engine.deploy import (
    DeployError,
    RunnerAddress,
    RunnerAuthError,
    RunnerHostKeyError,
    RunnerUnavailableError,
    collect,
    deploy,
    rollback,
)
from engine.errors import ConfigError
from engine.runner.catalog import ConfigCatalog
from tests.engine.runner.helpers import write_customer
from tests.fixtures.sshd import SshServer
from tests.netproxy import CuttingProxy

from .conftest import SHA_1, SHA_2, SHA_3, SecondLogin, cli_args, owned_folder, ssh_host

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 6, 0, 0, tzinfo=UTC)


def releases_on(root: Path) -> list[str]:
    folder = root / "releases"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def current_of(root: Path) -> str:
    return os.readlink(root / "current")


def schedule_of(catalog: ConfigCatalog) -> list[str]:
    hris = catalog.refresh()["acme"].config.hris
    assert hris is not None
    return [str(t) for t in hris.schedule.times]


# --- deploy ------------------------------------------------------------------------------------


def test_first_deploy_uploads_a_release_and_links_current(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    customers_commit: str,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = customers_commit
    assert main(cli_args(sshd, deploy_root, known_hosts, customers, "--sha", sha)) == 0
    [release] = releases_on(deploy_root)
    assert release.endswith("-" + sha[:12])
    assert current_of(deploy_root) == f"releases/{release}", "a relative link, inside the deploy folder"
    deployed = deploy_root / "current"
    assert (deployed / "REVISION").read_text() == sha + "\n"
    assert (deployed / "acme.yaml").read_bytes() == (customers / "acme.yaml").read_bytes()
    assert (deployed / "eu" / "globex.yaml").read_bytes() == (customers / "eu" / "globex.yaml").read_bytes()
    assert sorted(p.name for p in (deploy_root / "releases" / release).iterdir()) == [
        "REVISION",
        "acme.yaml",
        "eu",
    ]
    out, err = capsys.readouterr()
    assert f"release {release}: commit {sha}, 2 customer(s): acme, globex" in out
    assert f"ok      {sshd.username}@127.0.0.1:{sshd.port}:{deploy_root}: current -> {release} (first" in out
    key_body = sshd.client_key.splitlines()[1]
    assert key_body not in out + err


def test_second_deploy_switches_current_and_the_runner_follows(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    catalog = ConfigCatalog(deploy_root / "current", SilentReporter())
    first, [outcome] = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    assert outcome.ok and outcome.replaced is None
    assert schedule_of(catalog) == ["06:30", "23:30"]

    write_customer(customers, "acme", times='"07:15"')
    second, [outcome] = deploy(
        collect(customers).at(SHA_2),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(minutes=5),
        reporter=SilentReporter(),
    )
    assert outcome.ok and (outcome.release, outcome.replaced) == (second, first)
    assert releases_on(deploy_root) == [first, second], "the first release is kept for rollback"
    assert current_of(deploy_root) == f"releases/{second}"
    assert (deploy_root / "current" / "REVISION").read_text() == SHA_2 + "\n"
    # The runner reads the folder through the link: it sees the new schedule without restart.
    assert schedule_of(catalog) == ["07:15"]


def test_an_unchanged_file_is_followed_into_the_new_release_before_the_old_one_is_pruned(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    catalog = ConfigCatalog(deploy_root / "current", SilentReporter())
    bundle = collect(customers).at(SHA_1)
    for minutes in range(3):
        name, [outcome] = deploy(
            bundle,
            [ssh_host(sshd, deploy_root, known_hosts)],
            now=T0 + timedelta(minutes=minutes),
            reporter=SilentReporter(),
            keep=1,
        )
        assert outcome.ok
        loaded = catalog.refresh()["acme"]
        # The runner's job resolves relative paths from the file's folder: it must be the
        # current release, not the one the file was first read from (pruned by now).
        assert loaded.path == deploy_root / "releases" / name / "acme.yaml"
        assert loaded.path.is_file()


def test_keep_prunes_old_releases_but_never_current_or_previous(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    bundle = collect(customers).at(SHA_1)
    names = []
    for minutes, keep in ((0, 5), (1, 5), (2, 5), (3, 5), (4, 2)):
        name, [outcome] = deploy(
            bundle,
            [ssh_host(sshd, deploy_root, known_hosts)],
            now=T0 + timedelta(minutes=minutes),
            reporter=SilentReporter(),
            keep=keep,
        )
        assert outcome.ok
        names.append(name)
    assert releases_on(deploy_root) == names[-2:]
    [*_, last] = deploy(
        bundle,
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(minutes=9),
        reporter=SilentReporter(),
        keep=1,
    )[1]
    assert last.removed == (names[-2],)
    assert len(releases_on(deploy_root)) == 2, "--keep 1 still keeps the previous release"


def test_deploy_in_the_same_second_is_refused_without_touching_anything(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    bundle = collect(customers).at(SHA_1)
    first, _ = deploy(bundle, [ssh_host(sshd, deploy_root, known_hosts)], now=T0, reporter=SilentReporter())
    _, [outcome] = deploy(
        collect(customers).at(SHA_2),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    assert not outcome.ok and "is not older than this deploy's release" in (outcome.error or "")
    assert releases_on(deploy_root) == [first] and current_of(deploy_root) == f"releases/{first}"


def test_the_commit_comes_from_git_and_a_dirty_tree_is_refused(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    customers_commit: str,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head = customers_commit
    assert main(cli_args(sshd, deploy_root, known_hosts, customers)) == 0
    assert (deploy_root / "current" / "REVISION").read_text() == head + "\n"

    write_customer(customers, "initech")
    capsys.readouterr()
    assert main(cli_args(sshd, deploy_root, known_hosts, customers)) == 1
    assert f"differ from commit {head[:12]}" in capsys.readouterr().err
    assert len(releases_on(deploy_root)) == 1


# --- refusals that send nothing ----------------------------------------------------------------


def test_an_invalid_customer_set_is_refused_with_every_error_and_nothing_uploaded(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (customers / "acme.yaml").write_text("version: 1\ncustomer: acme\nbogus: true\n")
    (customers / "eu" / "globex.yaml").write_text("version: 2\ncustomer: globex\n")
    assert main(cli_args(sshd, deploy_root, known_hosts, customers, "--sha", SHA_1)) == 1
    out, err = capsys.readouterr()
    assert f"{customers / 'acme.yaml'}:3:1: bogus:" in out
    assert f"{customers / 'eu' / 'globex.yaml'}:1:" in out
    assert "2 of 2 customer file(s)" in err and "nothing was sent to any host" in err
    assert not deploy_root.exists()


def test_an_unknown_host_is_refused_with_its_fingerprint_and_the_line_to_add(
    sshd: SshServer,
    deploy_root: Path,
    tmp_path: Path,
    customers: Path,
    customers_commit: str,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty_known_hosts"
    assert main(cli_args(sshd, deploy_root, empty, customers, "--sha", customers_commit)) == 1
    out, err = capsys.readouterr()
    assert f"127.0.0.1:{sshd.port} is not in {empty} (the file does not exist)" in out
    assert sshd.host_key_fingerprint in out
    assert f"add this line to {empty}: [127.0.0.1]:{sshd.port} {sshd.host_key}" in out
    assert "the deploy failed on the host" in err
    assert not deploy_root.exists()


def test_a_changed_host_key_is_refused(
    sshd: SshServer, deploy_root: Path, tmp_path: Path, customers: Path
) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} {wrong}\n")
    with pytest.raises(RunnerHostKeyError) as caught, ssh_host(sshd, deploy_root, known):
        pass
    message = str(caught.value)
    assert sshd.host_key_fingerprint in message and "not the one" in message
    assert "no credential was sent" in message


def test_wrong_or_locked_deploy_keys_are_refused_clearly(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, tmp_path: Path, customers: Path
) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-pass", "-f", str(stranger)], check=True
    )
    locked = SecretStr(stranger.read_text())
    with pytest.raises(ConfigError, match="protected by a passphrase"):
        load_identity(locked, None)
    with pytest.raises(ConfigError, match="or its passphrase is wrong"):
        load_identity(locked, SecretStr("nope"))
    host = SshRunnerHost(
        RunnerAddress(sshd.username, sshd.host, sshd.port),
        str(deploy_root),
        known_hosts=KnownHosts(known_hosts),
        identity=load_identity(locked, SecretStr("s3cret-pass")),
        timeout=10,
    )
    with pytest.raises(RunnerAuthError) as caught, host:
        pass
    assert f"refused user {sshd.username!r} with the --identity key" in str(caught.value)
    assert "s3cret-pass" not in str(caught.value)


def test_a_folder_the_user_cannot_write_is_reported(
    sshd: SshServer, known_hosts: Path, customers: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs a login that is not the owner of the folder (root runs a throwaway user)")
    root_only = owned_folder(sshd.home, None)  # owned by root, 0755: the login cannot write
    _, [outcome] = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, root_only / "srv", known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    assert not outcome.ok
    assert "Permission denied" in (outcome.error or "") and f"may write to {root_only}/srv" in (
        outcome.error or ""
    )
    assert list(root_only.iterdir()) == []


# --- failures in the middle --------------------------------------------------------------------


def test_a_connection_dropped_mid_upload_leaves_current_untouched_and_no_partial_release(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    first, _ = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    # Big customer files (YAML comments), so the cut falls inside the upload, after the
    # handshake, the login and the first commands (a few kB).
    padding = "".join(f"# {i:06d} {'x' * 90}\n" for i in range(1500))
    for slug in ("big1", "big2", "big3"):
        path = write_customer(customers, slug)
        path.write_text(path.read_text() + padding)
    big = collect(customers).at(SHA_2)
    with CuttingProxy(sshd.port, cut_after={0: 250_000}, direction="upload") as proxy:
        known = known_hosts.parent / "known_hosts_proxy"
        known.write_text(f"[{sshd.host}]:{proxy.port} {sshd.host_key}\n")
        _, [outcome] = deploy(
            big,
            [ssh_host(sshd, deploy_root, known, port=proxy.port)],
            now=T0 + timedelta(minutes=1),
            reporter=SilentReporter(),
        )
        assert proxy.cuts == 1 and proxy.connections == 2, "cut once, then reconnected to clean up"
    assert not outcome.ok
    assert "connection failed or dropped" in (outcome.error or "")
    assert current_of(deploy_root) == f"releases/{first}"
    assert sorted(os.listdir(deploy_root / "releases")) == [first], "the staging folder was removed"
    assert (deploy_root / "current" / "REVISION").read_text() == SHA_1 + "\n"


def test_a_failed_switch_withdraws_the_new_release_and_keeps_current(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs to take the deploy folder away from the login (root runs a throwaway user)")
    first, _ = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    # releases/ stays writable, the folder holding `current` no longer is: the upload works and
    # the switch fails, as it would on a host whose permissions were changed under the deploy.
    os.chown(deploy_root, 0, 0)
    _, [outcome] = deploy(
        collect(customers).at(SHA_2),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(minutes=1),
        reporter=SilentReporter(),
    )
    assert not outcome.ok
    assert "switch current to" in (outcome.error or "") and "Permission denied" in (outcome.error or "")
    assert current_of(deploy_root) == f"releases/{first}"
    assert sorted(os.listdir(deploy_root / "releases")) == [first], "the unused release was removed"


def test_a_current_that_is_not_a_link_is_never_replaced(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    (deploy_root / "current").mkdir(parents=True)
    (deploy_root / "current" / "acme.yaml").write_text("hand-made")
    _, [outcome] = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    assert not outcome.ok and "current exists and is not a symbolic link" in (outcome.error or "")
    assert (deploy_root / "current" / "acme.yaml").read_text() == "hand-made"
    assert not (deploy_root / "releases").exists()


def test_switching_current_never_leaves_the_link_missing(
    sshd: SshServer, deploy_root: Path, known_hosts: Path, customers: Path
) -> None:
    bundle = collect(customers).at(SHA_1)
    a, _ = deploy(bundle, [ssh_host(sshd, deploy_root, known_hosts)], now=T0, reporter=SilentReporter())
    b, _ = deploy(
        bundle,
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(seconds=1),
        reporter=SilentReporter(),
    )
    seen: set[str] = set()
    missing: list[OSError] = []
    stop = threading.Event()

    def read_like_the_runner() -> None:
        while not stop.is_set():
            try:
                raw = (deploy_root / "current" / "acme.yaml").read_bytes()
                seen.add(os.readlink(deploy_root / "current"))
                assert check_bytes(raw, "acme.yaml").valid
            except OSError as exc:
                missing.append(exc)

    reader = threading.Thread(target=read_like_the_runner)
    reader.start()
    try:
        with ssh_host(sshd, deploy_root, known_hosts) as host:
            for i in range(20):
                host.switch_current(a if i % 2 else b)
    finally:
        stop.set()
        reader.join()
    assert missing == []
    assert seen == {f"releases/{a}", f"releases/{b}"}
    assert [p for p in os.listdir(deploy_root) if p.startswith(".current")] == [], "no temporary link left"


# --- rollback ----------------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_release_then_refuses_when_there_is_none(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, _ = deploy(
        collect(customers).at(SHA_1),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0,
        reporter=SilentReporter(),
    )
    second, _ = deploy(
        collect(customers).at(SHA_2),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(minutes=1),
        reporter=SilentReporter(),
    )
    capsys.readouterr()
    assert main(cli_args(sshd, deploy_root, known_hosts, None, "--rollback")) == 0
    out = capsys.readouterr().out
    assert f"current -> {first} (rolled back from {second}); removed {second}" in out
    assert current_of(deploy_root) == f"releases/{first}"
    assert (deploy_root / "current" / "REVISION").read_text() == SHA_1 + "\n"
    assert releases_on(deploy_root) == [first]

    # The next deploy's "previous" is the release rolled back to, not the abandoned one.
    third, [outcome] = deploy(
        collect(customers).at(SHA_3),
        [ssh_host(sshd, deploy_root, known_hosts)],
        now=T0 + timedelta(minutes=2),
        reporter=SilentReporter(),
    )
    assert outcome.replaced == first
    [back] = rollback([ssh_host(sshd, deploy_root, known_hosts)], reporter=SilentReporter())
    assert back.ok and (back.release, back.replaced, back.removed) == (first, third, (third,))

    capsys.readouterr()
    assert main(cli_args(sshd, deploy_root, known_hosts, None, "--rollback")) == 1
    out = capsys.readouterr().out
    assert f"FAILED  {sshd.username}@127.0.0.1:{sshd.port}:{deploy_root}: {first} is the only release" in out
    assert current_of(deploy_root) == f"releases/{first}"


def test_rollback_where_nothing_was_deployed_is_refused(
    sshd: SshServer, deploy_root: Path, known_hosts: Path
) -> None:
    [outcome] = rollback([ssh_host(sshd, deploy_root, known_hosts)], reporter=SilentReporter())
    assert not outcome.ok and "nothing is deployed there" in (outcome.error or "")
    assert not deploy_root.exists()


# --- several hosts -----------------------------------------------------------------------------


def test_two_hosts_each_get_the_release(
    sshd: SshServer,
    second_login: SecondLogin,
    known_hosts: Path,
    customers: Path,
    customers_commit: str,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    relative = f"lmsync-{os.urandom(4).hex()}"  # relative: under each login's own home
    args = cli_args(sshd, relative, known_hosts, customers, "--sha", customers_commit)
    args += ["--host", f"{second_login.username}@{sshd.host}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    roots = [sshd.home / relative, second_login.home / relative]
    [release] = releases_on(roots[0])
    for root in roots:
        assert releases_on(root) == [release]
        assert (root / "current" / "REVISION").read_text() == customers_commit + "\n"
        assert f":{relative}: current -> {release} (first release)" in out
    assert out.count("  ok  ") == 2


def test_a_failing_host_is_reported_and_the_others_still_deploy(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    customers_commit: str,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The first connection through the proxy dies at once.
    with CuttingProxy(sshd.port, cut_after={0: 0}, direction="upload") as dead:
        args = cli_args(sshd, deploy_root, known_hosts, customers, "--sha", customers_commit)
        args += ["--host", f"{sshd.username}@{sshd.host}:{dead.port}"]
        assert main(args) == 1
    out, err = capsys.readouterr()
    [release] = releases_on(deploy_root)
    assert f"ok      {sshd.username}@127.0.0.1:{sshd.port}:{deploy_root}: current -> {release}" in out
    assert f"FAILED  {sshd.username}@127.0.0.1:{dead.port}:{deploy_root}:" in out
    assert "1 of 2 host(s) failed; the others are done" in err


def test_unreachable_host_is_a_transient_failure(
    sshd: SshServer, deploy_root: Path, known_hosts: Path
) -> None:
    with CuttingProxy(sshd.port, cut_after={0: 0}, direction="upload") as dead:
        host = ssh_host(sshd, deploy_root, known_hosts, port=dead.port)
        with pytest.raises(RunnerUnavailableError) as caught, host:
            pass
    assert caught.value.transient


def test_a_repeated_host_is_refused(
    sshd: SshServer,
    deploy_root: Path,
    known_hosts: Path,
    customers: Path,
    deploy_key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli_args(sshd, deploy_root, known_hosts, customers, "--sha", SHA_1)
    args += ["--host", f"{sshd.username}@{sshd.host}:{sshd.port}"]
    assert main(args) == 1
    assert "is given more than once" in capsys.readouterr().err
    assert not deploy_root.exists()
    with pytest.raises(DeployError):
        ssh_host(sshd, "~/x", known_hosts)
