"""The SFTP source against OpenSSH's real sshd on loopback (see tests/fixtures/sshd.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import paramiko
import pytest
from pydantic import SecretStr, TypeAdapter

from connectors.sources import SftpSource, open_source
from connectors.sources.sftp import _quiet_prefetch_on_disconnect, load_private_key
from engine.config.models import Source as SourceConfig
from engine.errors import AuthenticationError, ConfigError, HostKeyError, SourceError, SourceUnavailableError
from engine.files import Source
from tests.fixtures.sshd import SshServer
from tests.netproxy import CuttingProxy

pytestmark = pytest.mark.integration

SOURCE_CONFIG: TypeAdapter[object] = TypeAdapter(SourceConfig)


class RecordingReporter:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def password_source(sshd: SshServer, folder: Path, **overrides: object) -> SftpSource:
    if sshd.password is None:
        pytest.skip("password login needs a throwaway user, which needs root")
    options: dict[str, object] = {
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "host_key": sshd.host_key,
        "path": str(folder),
        "password": SecretStr(sshd.password),
        "timeout": 10.0,
        "retry_wait": 0.01,
    }
    options.update(overrides)
    return SftpSource(**options)  # type: ignore[arg-type]


def test_password_login_lists_reads_and_deletes(sshd: SshServer, sftp_folder: Path) -> None:
    (sftp_folder / "hris-a.tsv").write_bytes(b"uniqueId\tstatus\temail\n")
    (sftp_folder / "subdir").mkdir()
    os.utime(sftp_folder / "hris-a.tsv", (1_700_000_000, 1_700_000_000))
    with password_source(sshd, sftp_folder) as source:
        assert isinstance(source, Source)
        [info] = source.list()
        assert (info.name, info.size, info.mtime.timestamp()) == ("hris-a.tsv", 22, 1_700_000_000)
        assert source.read("hris-a.tsv") == b"uniqueId\tstatus\temail\n"
        source.delete("hris-a.tsv")
        source.delete("hris-a.tsv")  # idempotent
        assert source.list() == []
    assert not (sftp_folder / "hris-a.tsv").exists()


def test_key_login_through_the_customer_file_and_secret_references(
    sshd: SshServer, sftp_folder: Path
) -> None:
    (sftp_folder / "hris-b.tsv").write_bytes(b"x" * 70_000)
    config = SOURCE_CONFIG.validate_python(sshd.sftp_config(sftp_folder, private_key="env:ACME_SFTP_KEY"))
    source = open_source(
        config,  # type: ignore[arg-type]
        base_dir=Path("/"),
        environ={"ACME_SFTP_KEY": sshd.client_key},
    )
    assert sshd.client_key.splitlines()[1] not in repr(source) + source.describe()
    with source:
        assert [f.name for f in source.list()] == ["hris-b.tsv"]
        assert source.read("hris-b.tsv") == b"x" * 70_000


def test_wrong_password_is_an_authentication_error_without_the_password(
    sshd: SshServer, sftp_folder: Path
) -> None:
    source = password_source(sshd, sftp_folder, password=SecretStr("not-the-Password-42"))
    with pytest.raises(AuthenticationError) as caught:
        source.__enter__()
    assert not caught.value.transient
    assert "not-the-Password-42" not in str(caught.value)
    assert "hris.source.password" in str(caught.value)


def test_unknown_private_key_is_refused(sshd: SshServer, sftp_folder: Path, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    stranger = load_private_key(SecretStr((tmp_path / "k").read_text()), None)
    source = SftpSource(
        host=sshd.host, port=sshd.port, username=sshd.username, host_key=sshd.host_key,
        path=str(sftp_folder), private_key=stranger, retry_wait=0.01,
    )  # fmt: skip
    with pytest.raises(AuthenticationError, match="private_key"):
        source.__enter__()


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa"])
def test_changed_host_key_is_refused_with_the_offered_fingerprint(
    sshd: SshServer, sftp_folder: Path, tmp_path: Path, key_type: str
) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(tmp_path / "h")], check=True)
    impostor_pin = " ".join((tmp_path / "h.pub").read_text().split()[:2])
    source = password_source(sshd, sftp_folder, host_key=impostor_pin)
    with pytest.raises(HostKeyError) as caught:
        source.__enter__()
    message = str(caught.value)
    assert not caught.value.transient
    assert sshd.host_key_fingerprint in message  # what the server offered, as ssh-keygen -l shows it
    assert f'host_key: "{sshd.host_key}"' in message  # the line to paste if legitimate
    assert sshd.password is not None and sshd.password not in message


def test_connection_dropped_mid_download_is_retried(sshd: SshServer, sftp_folder: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    (sftp_folder / "hris-big.tsv").write_bytes(payload)
    reporter = RecordingReporter()
    with CuttingProxy(sshd.port, cut_after={0: 1024 * 1024}) as proxy:
        source = password_source(sshd, sftp_folder, port=proxy.port, reporter=reporter)
        with source:
            assert source.read("hris-big.tsv") == payload
        assert proxy.cuts == 1  # the first connection really was cut mid-download
        assert proxy.connections == 2  # ...and the read reconnected once
    assert len(reporter.warnings) == 1
    assert "reconnecting (attempt 2/3)" in reporter.warnings[0]


def test_prefetch_thread_stays_quiet_when_the_connection_is_gone(sshd: SshServer, sftp_folder: Path) -> None:
    # The race behind a dropped download, made certain: paramiko's prefetch thread sends its
    # read requests after the connection is closed. Unquieted, its OSError reaches
    # threading.excepthook (a stack trace in the run log; an error under pytest's
    # filterwarnings=error); the reading side reports the drop and the read is retried.
    (sftp_folder / "hris-a.tsv").write_bytes(b"x" * 100_000)
    with password_source(sshd, sftp_folder) as source:
        sftp = source._connect()
        handle = sftp.open(str(sftp_folder / "hris-a.tsv"), "rb")
        _quiet_prefetch_on_disconnect(handle)
        sftp.get_channel().close()
        handle.prefetch(100_000)
        with pytest.raises((OSError, EOFError, paramiko.SSHException)):
            handle.read(100_000)
    for thread in threading.enumerate():
        if thread.name.endswith("(quiet)"):
            thread.join(timeout=5)


def test_unreachable_server_is_transient_after_retries(sshd: SshServer, sftp_folder: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    reporter = RecordingReporter()
    source = password_source(sshd, sftp_folder, port=closed_port, reporter=reporter)
    with pytest.raises(SourceUnavailableError) as caught:
        source.__enter__()
    assert caught.value.transient
    assert len(reporter.warnings) == 2  # 3 attempts: 2 reconnects announced


def test_silent_server_times_out(sshd: SshServer, sftp_folder: Path) -> None:
    # Accepts TCP connections (the backlog) but never says a word: the banner never comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        source = password_source(sshd, sftp_folder, port=silent.getsockname()[1], timeout=0.3, attempts=1)
        with pytest.raises(SourceUnavailableError) as caught:
            source.__enter__()
    assert isinstance(caught.value.__cause__, Exception)


def test_missing_file_and_unsafe_names(sshd: SshServer, sftp_folder: Path) -> None:
    with password_source(sshd, sftp_folder) as source:
        with pytest.raises(SourceError, match="not found") as caught:
            source.read("hris-missing.tsv")
        assert not caught.value.transient
        for name in ("../etc/passwd", "a/b.tsv", "hris\n.tsv"):
            with pytest.raises(SourceError, match="refusing file name"):
                source.read(name)


def test_bad_configuration_values_are_config_errors(sshd: SshServer, sftp_folder: Path) -> None:
    with pytest.raises(ConfigError, match="host_key"):
        password_source(sshd, sftp_folder, host_key="ssh-ed25519 bm90IGEga2V5")
    with pytest.raises(ConfigError, match="not a usable"):
        load_private_key(SecretStr("-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n"), None)
