"""Who the runner host is (known_hosts) and who we are (the deploy key), for ``lmsync deploy``.

Host keys are checked strictly, as ``ssh -o StrictHostKeyChecking=yes`` does: a host missing
from the known_hosts file is refused, never learnt, and the refusal carries the offered key's
fingerprint and the exact line to add once an administrator has confirmed it. A changed key
is refused with both fingerprints. The deploy key is a secret resolved by reference; this
module must never put it, or its passphrase, in a message.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
from paramiko.hostkeys import InvalidHostKey
from pydantic import SecretStr

from connectors.sources.sftp import fingerprint, key_line
from connectors.ssh import parse_private_key
from engine.deploy.errors import DeployError, RunnerHostKeyError
from engine.deploy.release import RunnerAddress


class UnknownHostKey(paramiko.SSHException):  # type: ignore[misc]
    """Raised inside paramiko's handshake when the host is not in known_hosts; carries the key."""

    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class RefuseUnknownHosts(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Never learn a host key: an unknown host is refused before any credential is sent."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(key)


class KnownHosts:
    """The host keys of one OpenSSH known_hosts file (hashed names included)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.exists = path.is_file()
        self._keys = paramiko.HostKeys()
        if not self.exists:
            return
        try:
            self._keys.load(str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise DeployError(
                f"cannot read the known_hosts file {path}", hint="check --known-hosts and its permissions"
            ) from exc
        except InvalidHostKey as exc:
            raise DeployError(
                f"{path}: a line holds a key that is not valid base64",
                hint="fix or remove it; ssh-keyscan -p PORT HOST prints valid lines",
            ) from exc

    def keys_for(self, address: RunnerAddress) -> dict[str, paramiko.PKey]:
        """The accepted keys of ``address`` by type; empty when the host is unknown."""
        found = self._keys.lookup(address.known_hosts_name)
        return dict(found.items()) if found is not None else {}

    def unknown_host_error(self, address: RunnerAddress, offered: paramiko.PKey) -> RunnerHostKeyError:
        missing = "" if self.exists else " (the file does not exist)"
        return RunnerHostKeyError(
            f"{address.host}:{address.port} is not in {self.path}{missing}; it offered host key "
            f"{offered.get_name()} {fingerprint(offered)}; no credential was sent to it",
            hint="confirm that fingerprint with the runner's administrator (on the runner, "
            f"ssh-keygen -lf /etc/ssh/ssh_host_{_short_type(offered)}_key.pub prints it); then add "
            f"this line to {self.path}: {address.known_hosts_name} {key_line(offered)}",
        )

    def changed_key_error(
        self, address: RunnerAddress, offered: paramiko.PKey, expected: paramiko.PKey
    ) -> RunnerHostKeyError:
        return RunnerHostKeyError(
            f"{address.host}:{address.port} offered host key {offered.get_name()} {fingerprint(offered)}, "
            f"not the one {self.path} holds for it ({expected.get_name()} {fingerprint(expected)}): the "
            "runner was reinstalled, or something is in between; no credential was sent to it",
            hint="only if the runner's administrator confirms the new fingerprint, replace the host's "
            f"line in {self.path} with: {address.known_hosts_name} {key_line(offered)}",
        )


def _short_type(key: paramiko.PKey) -> str:
    name = key.get_name()
    if "ed25519" in name:
        return "ed25519"
    return "ecdsa" if "ecdsa" in name else "rsa"


def load_identity(key: SecretStr, passphrase: SecretStr | None) -> paramiko.PKey:
    """The deploy key (OpenSSH or PEM; ed25519, ECDSA or RSA) from a resolved ``--identity``."""
    return parse_private_key(
        key,
        passphrase,
        name="the --identity key",
        passphrase_hint="give it by reference: --passphrase env:NAME or file:PATH",
    )
