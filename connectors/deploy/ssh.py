"""A runner host's release folder over SSH, with fabric: ``Connection.run`` and ``Connection.put``.

Files go up over SFTP (``put``, which checks each file's size once written) into a staging
folder whose name is not a release, and are published by one ``mv -T``; ``current`` is
switched by making the new link under a temporary name and renaming it over the old one
(``ln -s`` + ``mv -T``, one rename(2)), so the runner never finds the link missing. Commands
are POSIX sh plus GNU coreutils' ``mv -T``, as on any Linux runner. Every name and path is
shell-quoted. If an upload fails, even by a dropped connection, the staging is removed (over
a new connection if needed) before the failure is reported.

Every paramiko, invoke and socket error is translated here into ``engine.deploy.errors``.
This module must never accept a host key that the known_hosts file does not hold, read
~/.ssh/config, or put the deploy key or its passphrase in a message.
"""

from __future__ import annotations

import contextlib
import errno
import io
import posixpath
import secrets
import shlex
import socket
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import fabric
import invoke.exceptions
import paramiko
from pydantic import SecretStr

from connectors.deploy.keys import KnownHosts, RefuseUnknownHosts, UnknownHostKey
from connectors.ssh import locked_down_connection
from engine.deploy.errors import DeployError, RunnerAuthError, RunnerUnavailableError
from engine.deploy.host import HostState
from engine.deploy.release import RunnerAddress, is_release_name, releases_among

_MARKER = "lmsync-deploy-state"
_CONNECTION_ERRORS = (
    OSError,
    EOFError,
    paramiko.SSHException,
    invoke.exceptions.CommandTimedOut,
    invoke.exceptions.ThreadException,
)


class SshRunnerHost:
    """``<path>`` on a runner host reached over SSH; implements ``engine.deploy.RunnerHost``."""

    def __init__(
        self,
        address: RunnerAddress,
        path: str,
        *,
        known_hosts: KnownHosts,
        identity: paramiko.PKey | None = None,
        passphrase: SecretStr | None = None,
        timeout: float = 30.0,
    ) -> None:
        root = path.rstrip("/") or "/"
        if not path or any(c in path for c in "\0\n") or path.startswith("~"):
            raise DeployError(
                f"--path {path!r} is not usable",
                hint="give an absolute folder such as /srv/lmsync (a relative one starts in the "
                "login's home; ~ is not expanded)",
            )
        self.address = address
        self.root = root
        self.known_hosts = known_hosts
        self.timeout = timeout
        self._identity = identity
        self._passphrase = passphrase
        self._connection: fabric.Connection | None = None

    def __repr__(self) -> str:
        return f"SshRunnerHost({self.describe()!r})"

    def describe(self) -> str:
        return f"{self.address}:{self.root}"

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        # Connect now: an unknown host or a refused key is reported before anything else.
        self._run("true", "connect")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._disconnect()

    def _connect(self) -> fabric.Connection:
        if self._connection is not None:
            return self._connection
        auth: dict[str, object]
        if self._identity is not None:
            auth = {"pkey": self._identity, "look_for_keys": False, "allow_agent": False}
        else:
            auth = {"look_for_keys": True, "allow_agent": True}
            if self._passphrase is not None:
                auth["passphrase"] = self._passphrase.get_secret_value()
        connection = locked_down_connection(
            self.address.host,
            user=self.address.user,
            port=self.address.port,
            timeout=self.timeout,
            auth=auth,
            host_keys=self.known_hosts.keys_for(self.address),
            known_as=self.address.known_hosts_name,
            on_unknown_host=RefuseUnknownHosts(),
        )
        self._connection = connection
        try:
            connection.open()
        except BaseException:
            self._disconnect()
            raise
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # The connection is being thrown away; a failing close changes nothing.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                connection.close()

    # --- RunnerHost -----------------------------------------------------------------------

    def state(self) -> HostState:
        root = shlex.quote(self.root)
        # The marker: a login shell's rc file may print before our output; it is skipped.
        script = (
            f"echo {_MARKER}\n"
            f"if [ ! -d {root} ]; then echo absent; exit 0; fi\n"
            f"cd {root} || exit 1\n"
            "if [ -L current ]; then echo link; readlink current\n"
            "elif [ -e current ]; then echo other; echo\n"
            "else echo none; echo; fi\n"
            "if [ -d releases ]; then ls -1A releases; fi\n"
        )
        output = self._run(script, "read the releases").split("\n")
        lines = output[output.index(_MARKER) + 1 :] if _MARKER in output else []
        kind = lines[0] if lines else ""
        if kind not in ("absent", "other", "link", "none"):
            raise DeployError(f"{self.describe()}: unexpected answer when reading the releases")
        if kind == "absent":
            return HostState(releases=(), current=None)
        if kind == "other":
            raise DeployError(
                f"{self.describe()}/current exists and is not a symbolic link",
                hint="move it away: a deploy manages current as a link to releases/<name>",
            )
        target = lines[1] if kind == "link" and len(lines) > 1 else None
        return HostState(
            releases=tuple(releases_among(lines[2:])),
            current=_release_of(target),
            current_target=target,
        )

    def upload_release(self, name: str, files: Mapping[str, bytes]) -> None:
        _check_release_name(name)
        releases = f"{self.root}/releases"
        # A staging name of our own: removing it can never touch another deploy's upload.
        stage = f"{releases}/.{name}.{secrets.token_hex(4)}.partial"
        final = f"{releases}/{name}"
        folders = sorted({posixpath.dirname(p) for p in files} - {""})
        prepare = (
            f"mkdir -p -- {shlex.quote(releases)} || exit 1\n"
            f"if [ -e {shlex.quote(final)} ]; then echo 'release {name} already exists' >&2; exit 1; fi\n"
            f"mkdir -- {shlex.quote(stage)} || exit 1\n"
        )
        if folders:
            prepare += "mkdir -p -- " + " ".join(shlex.quote(f"{stage}/{f}") for f in folders) + "\n"
        try:
            self._run(prepare, f"create {stage}")
        except DeployError:
            # The staging folder may exist from this very command: it is ours to remove. The
            # release folder is not: this command found it there already, or never got that far.
            self._discard(stage, None, cause=None)
            raise
        try:
            for relative, content in files.items():
                self._put(f"{stage}/{relative}", content)
            self._run(f"mv -T -- {shlex.quote(stage)} {shlex.quote(final)}", f"publish release {name}")
        except DeployError as exc:
            self._discard(stage, final, cause=exc)
            raise

    def switch_current(self, name: str) -> None:
        _check_release_name(name)
        temporary = f".current.{secrets.token_hex(6)}"
        script = (
            f"cd {shlex.quote(self.root)} || exit 1\n"
            f"if [ ! -d releases/{name} ]; then echo 'releases/{name} does not exist' >&2; exit 1; fi\n"
            f"ln -s -- releases/{name} {temporary} || exit 1\n"
            f"mv -T -- {temporary} current || {{ rm -f -- {temporary}; exit 1; }}\n"
        )
        self._run(script, f"switch current to {name}")

    def remove_release(self, name: str) -> None:
        _check_release_name(name)
        self._run(f"rm -rf -- {shlex.quote(f'{self.root}/releases/{name}')}", f"remove release {name}")

    # --- plumbing -------------------------------------------------------------------------

    def _discard(self, stage: str, final: str | None, *, cause: DeployError | None) -> None:
        """Remove a failed upload's staging (and its publication, which nothing was switched to:
        a publish whose answer was lost to a dropped connection may have happened).

        The connection may be the thing that failed: ``_run`` reconnects for this.
        """
        targets = " ".join(shlex.quote(p) for p in (stage, final) if p is not None)
        try:
            self._run(f"rm -rf -- {targets}", "remove the failed upload")
        except DeployError as exc:
            raise DeployError(
                f"{cause or 'the upload failed'}; its staging folder {stage} could not be removed "
                f"either ({exc}); it is not a release and is ignored",
                hint=f"remove it on the host: rm -rf {shlex.quote(stage)}",
            ) from cause

    def _run(self, script: str, what: str) -> str:
        try:
            result = self._connect().run(
                script, hide=True, warn=True, in_stream=False, pty=False, timeout=self.timeout
            )
        except _CONNECTION_ERRORS as exc:
            self._disconnect()
            raise self._translate(exc, what) from exc
        if result.exited != 0:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {result.exited}"
            raise DeployError(
                f"{self.describe()}: {what} failed: {reason}",
                hint=f"check that {self.address.user} may write to {self.root} on the host",
            )
        return str(result.stdout).rstrip("\n")

    def _put(self, remote: str, content: bytes) -> None:
        try:
            connection = self._connect()
            channel = connection.sftp().get_channel()  # fabric keeps one SFTP session open
            if channel is not None:
                channel.settimeout(self.timeout)  # a stalled upload fails instead of hanging
            connection.put(io.BytesIO(content), remote=remote, preserve_mode=False)
        except _CONNECTION_ERRORS as exc:
            self._disconnect()
            raise self._translate(exc, f"upload {remote}") from exc

    # --- error translation ----------------------------------------------------------------

    def _translate(self, exc: BaseException, what: str) -> DeployError:
        where = f"{self.describe()}: {what}"
        if isinstance(exc, UnknownHostKey):
            return self.known_hosts.unknown_host_error(self.address, exc.key)
        if isinstance(exc, paramiko.BadHostKeyException):
            return self.known_hosts.changed_key_error(self.address, exc.key, exc.expected_key)
        if isinstance(exc, paramiko.AuthenticationException):
            used = "the --identity key" if self._identity is not None else "the SSH agent and ~/.ssh keys"
            return RunnerAuthError(
                f"{self.address}: the host refused user {self.address.user!r} with {used}",
                hint="check the user in --host, and that the deploy key's public half is in that "
                "user's authorized_keys on the runner",
            )
        if isinstance(exc, socket.gaierror):
            if exc.errno == socket.EAI_AGAIN:
                return RunnerUnavailableError(f"{where}: name resolution failed temporarily")
            return DeployError(f"{where}: unknown host {self.address.host!r}", hint="check --host")
        if isinstance(exc, TimeoutError | socket.timeout | invoke.exceptions.CommandTimedOut):
            return RunnerUnavailableError(f"{where}: no answer within {self.timeout:g} s")
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
            return DeployError(
                f"{where}: permission denied",
                hint=f"let {self.address.user} write to {self.root} on the host",
            )
        if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, ConnectionError):
            return DeployError(f"{where}: {exc.strerror or exc}")
        # Connection refused or reset, a bare "Socket is closed", EOF, an SSH protocol error.
        return RunnerUnavailableError(f"{where}: connection failed or dropped ({type(exc).__name__})")


def _check_release_name(name: str) -> None:
    # The engine only passes names it made; this guard keeps ``rm -rf`` on release folders only.
    if not is_release_name(name):
        raise DeployError(f"refusing to act on {name!r}: not a release name")


def _release_of(target: str | None) -> str | None:
    """The release a ``current`` link names (``releases/<name>``, relative or absolute)."""
    if not target:
        return None
    parent, name = posixpath.split(target.rstrip("/"))
    if posixpath.basename(parent) == "releases" and is_release_name(name):
        return name
    return None
