"""A customer's SFTP server as a ``Source``, through fabric and paramiko.

The server's host key is pinned in the customer file: an unknown or changed key is refused
before any credential is sent, with the offered key's fingerprint and the exact ``host_key:``
line to paste if the change is legitimate. A dropped connection or a timeout is transient:
the operation reconnects and is retried with backoff (tenacity, on the ``transient`` marker
only). Every paramiko and socket error is translated here into ``engine.errors``.

This module must never put a password, a private key or a passphrase in a message, a log or
a repr; never accept a host key it was not given; never read ~/.ssh (config, known_hosts,
agent or default keys): what it connects with is exactly what the customer file says.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import posixpath
import socket
import stat
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar

import fabric
import paramiko
from paramiko.ssh_exception import NoValidConnectionsError
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from connectors.ssh import locked_down_connection, parse_private_key
from engine.errors import (
    AuthenticationError,
    ConfigError,
    HostKeyError,
    LmsyncError,
    SourceError,
    SourceUnavailableError,
)
from engine.files.source import FileInfo, unsafe_name_reason

T = TypeVar("T")


class Warns(Protocol):
    """The one thing this source says: that it is reconnecting (any ``Reporter`` does)."""

    def warn(self, message: str) -> None: ...


class _Quiet:
    def warn(self, message: str) -> None:
        return None


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as ``ssh-keygen -lf`` and ``ssh`` print it."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def key_line(key: paramiko.PKey) -> str:
    """The ``type base64`` line the customer file's ``host_key`` holds."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_host_key(line: str) -> paramiko.PKey:
    """A ``host_key`` value (``ssh-ed25519 AAAA...``, as in known_hosts) as a public key."""
    parts = line.split()
    if len(parts) < 2:
        raise ConfigError(
            "hris.source.host_key is not a public key line",
            hint="write it as 'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 HOST prints it)",
        )
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except (binascii.Error, paramiko.SSHException, ValueError) as exc:
        raise ConfigError(
            f"hris.source.host_key: cannot read a {parts[0]} key from it",
            hint="copy the whole line printed by ssh-keyscan, without the host name",
        ) from exc


def load_private_key(key: SecretStr, passphrase: SecretStr | None) -> paramiko.PKey:
    """Parse ``hris.source.private_key`` (OpenSSH or PEM; ed25519, ECDSA or RSA)."""
    return parse_private_key(
        key,
        passphrase,
        name="hris.source.private_key",
        passphrase_hint="set hris.source.private_key_passphrase: env:NAME",
    )


class _RefuseUnpinned(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Reached only when no key is pinned for the address we dialled: refuse, never learn."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise paramiko.BadHostKeyException(hostname, key, key)


class SftpSource:
    """HRIS files in a folder of an SFTP server, with the server's host key pinned."""

    def __init__(
        self,
        *,
        host: str,
        username: str,
        host_key: str,
        port: int = 22,
        path: str = "/",
        password: SecretStr | None = None,
        private_key: paramiko.PKey | None = None,
        timeout: float = 30.0,
        attempts: int = 3,
        retry_wait: float = 1.0,
        reporter: Warns | None = None,
    ) -> None:
        if (password is None) == (private_key is None):
            raise ConfigError("an SFTP source needs exactly one of a password or a private key")
        self.host, self.port, self.username, self.path = host, port, username, path
        self.pinned = parse_host_key(host_key)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.retry_wait = retry_wait
        self.reporter: Warns = reporter or _Quiet()
        self._password = password
        self._private_key = private_key
        self._connection: fabric.Connection | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def __repr__(self) -> str:
        return f"SftpSource({self.describe()!r})"

    def describe(self) -> str:
        return f"sftp://{self.username}@{self.host}:{self.port}{self.path}"

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        # Connect now, so a refused host key or a wrong password is reported before anything
        # else is attempted, and with the same retries as every operation.
        self._call("connect", lambda sftp: None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._disconnect()

    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        auth: dict[str, object] = {"look_for_keys": False, "allow_agent": False}
        if self._password is not None:
            auth["password"] = self._password.get_secret_value()
        else:
            auth["pkey"] = self._private_key
        # Known-hosts naming: paramiko looks the server up as "[host]:port" off port 22. With
        # the pinned key registered, paramiko also asks the server for that key type first.
        connection = locked_down_connection(
            self.host,
            user=self.username,
            port=self.port,
            timeout=self.timeout,
            auth=auth,
            host_keys={self.pinned.get_name(): self.pinned},
            known_as=self.host if self.port == 22 else f"[{self.host}]:{self.port}",
            on_unknown_host=_RefuseUnpinned(),
        )
        self._connection = connection
        try:
            connection.open()
            sftp = connection.sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(self.timeout)
        except BaseException:
            self._disconnect()
            raise
        self._sftp = sftp
        return sftp

    def _disconnect(self) -> None:
        connection, self._connection, self._sftp = self._connection, None, None
        if connection is not None:
            # The connection is being thrown away; a failing close changes nothing.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                connection.close()

    # --- operations -----------------------------------------------------------------------

    def list(self) -> list[FileInfo]:
        def listing(sftp: paramiko.SFTPClient) -> list[FileInfo]:
            files: list[FileInfo] = []
            for attributes in sftp.listdir_attr(self.path):
                mode = attributes.st_mode
                if mode is not None and stat.S_ISREG(mode):
                    files.append(
                        FileInfo.from_timestamp(
                            attributes.filename, attributes.st_size or 0, float(attributes.st_mtime or 0)
                        )
                    )
            return files

        return self._call("list", listing)

    def read(self, name: str) -> bytes:
        remote = self._remote_path(name)

        def download(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(remote, "rb") as handle:
                size = handle.stat().st_size or 0
                _quiet_prefetch_on_disconnect(handle)
                # Many reads in flight, so a big export downloads at link speed, not at one
                # round trip per 32 KiB.
                handle.prefetch(size)
                data: bytes = handle.read(size)
            if len(data) != size:
                # A short read is a dropped connection that paramiko reported as end of file.
                raise EOFError(f"read {len(data)} of {size} bytes")
            return data

        return self._call(f"read {name}", download)

    def delete(self, name: str) -> None:
        remote = self._remote_path(name)

        def remove(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(remote)
            except FileNotFoundError:
                # Already gone: a retried delete whose first attempt succeeded before the
                # connection dropped must not fail the run.
                return

        self._call(f"delete {name}", remove)

    def _remote_path(self, name: str) -> str:
        reason = unsafe_name_reason(name)
        if reason is not None:
            raise SourceError(f"{self.describe()}: refusing file name {name!r}: {reason}")
        return posixpath.join(self.path, name)

    def _call(self, what: str, operation: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run ``operation`` on a live connection; reconnect and retry when it drops."""

        def is_transient(exc: BaseException) -> bool:
            return isinstance(exc, LmsyncError) and exc.transient

        def before_retry(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            self.reporter.warn(
                f"{failure}; reconnecting (attempt {state.attempt_number + 1}/{self.attempts})"
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.retry_wait, max=60),
            retry=retry_if_exception(is_transient),
            before_sleep=before_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    return operation(self._connect())
                except LmsyncError:
                    self._disconnect()
                    raise
                except (OSError, EOFError, paramiko.SSHException) as exc:
                    self._disconnect()
                    raise self._translate(exc, what) from exc
        raise AssertionError("unreachable: tenacity reraises the last failure")

    # --- error translation ----------------------------------------------------------------

    def _translate(self, exc: BaseException, what: str) -> SourceError:
        where = f"{self.describe()}: {what}"
        if isinstance(exc, paramiko.BadHostKeyException):
            return self._host_key_error(exc.key)
        if isinstance(exc, paramiko.AuthenticationException):
            field = "password" if self._password is not None else "private_key"
            return AuthenticationError(
                f"{self.describe()}: the server refused user {self.username!r} with the configured {field}",
                hint=f"check hris.source.username and the secret behind hris.source.{field}",
            )
        if isinstance(exc, socket.gaierror):
            if exc.errno == socket.EAI_AGAIN:
                return SourceUnavailableError(f"{where}: name resolution failed temporarily")
            return SourceError(f"{where}: unknown host {self.host!r}", hint="check hris.source.host")
        if isinstance(exc, TimeoutError | socket.timeout):
            return SourceUnavailableError(
                f"{where}: no answer within {self.timeout:g} s",
                hint="check hris.source.host and port, and that this machine may reach them; "
                "the next run retries",
            )
        if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
            return SourceError(
                f"{where}: not found", hint="check hris.source.path, or the file was removed meanwhile"
            )
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
            return SourceError(
                f"{where}: permission denied",
                hint=f"ask the server's admin to let {self.username!r} read and delete files there",
            )
        if isinstance(exc, EOFError | ConnectionError | paramiko.SSHException | NoValidConnectionsError):
            return SourceUnavailableError(
                f"{where}: connection failed or dropped ({type(exc).__name__})",
                hint="check hris.source.host and port, and that the server accepts connections from "
                "this machine; the next run retries",
            )
        if isinstance(exc, OSError) and exc.errno is None:
            # paramiko reports a channel closed under us as a bare OSError("Socket is closed").
            return SourceUnavailableError(f"{where}: connection dropped")
        return SourceError(f"{where}: {exc}")

    def _host_key_error(self, offered: paramiko.PKey) -> HostKeyError:
        return HostKeyError(
            f"{self.host}:{self.port} offered host key {offered.get_name()} {fingerprint(offered)}, "
            f"which is not the key pinned in hris.source.host_key "
            f"({self.pinned.get_name()} {fingerprint(self.pinned)}); nothing was sent to it",
            hint="if the server's key was legitimately changed (confirm the fingerprint with its "
            f'administrator), set in the customer file: host_key: "{key_line(offered)}"',
        )


def _quiet_prefetch_on_disconnect(handle: paramiko.SFTPFile) -> None:
    """Stop paramiko's prefetch thread from dying loudly when the connection drops.

    The thread only sends read requests; when the connection goes, the reading thread sees the
    failure too and the download is retried. Left alone, the thread's own ``OSError`` would go
    to ``threading.excepthook`` and print a stack trace into the run log for a drop that was
    already handled.
    """
    send_requests = handle._prefetch_thread

    def quiet(*arguments: object) -> None:
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            send_requests(*arguments)

    handle._prefetch_thread = quiet
