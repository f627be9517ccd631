"""Runner hosts for ``lmsync deploy``: the SSH implementation of ``engine.deploy.RunnerHost``.

``open_runner_hosts`` turns the command's options into hosts, resolving the deploy key's
secret references at that moment and not before. It must never log a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.config.secrets import resolve_secret
from engine.deploy.release import RunnerAddress

from .keys import KnownHosts, load_identity
from .ssh import SshRunnerHost


def open_runner_hosts(
    addresses: Sequence[RunnerAddress],
    path: str,
    *,
    known_hosts: Path,
    identity: str | None = None,
    passphrase: str | None = None,
    timeout: float = 30.0,
    environ: Mapping[str, str] | None = None,
) -> list[SshRunnerHost]:
    """One host per address, sharing the known_hosts file and the deploy key.

    ``identity`` and ``passphrase`` are references (``env:NAME``, ``file:PATH``); without an
    identity the SSH agent and the default ~/.ssh keys are tried, as ``ssh`` does. Nothing is
    connected until a host is entered.
    """
    secret = None
    if passphrase is not None:
        secret = resolve_secret(passphrase, environ=environ, base_dir=Path.cwd(), what="--passphrase")
    key = None
    if identity is not None:
        key = load_identity(
            resolve_secret(identity, environ=environ, base_dir=Path.cwd(), what="--identity"), secret
        )
    keys = KnownHosts(known_hosts)
    return [
        SshRunnerHost(address, path, known_hosts=keys, identity=key, passphrase=secret, timeout=timeout)
        for address in addresses
    ]


__all__ = ["KnownHosts", "SshRunnerHost", "load_identity", "open_runner_hosts"]
