"""What every SSH connection of lmsync shares: a locked-down fabric connection and key parsing.

The SFTP source and the deploy command both connect with fabric, and both must connect with
exactly what they were given: no ~/.ssh/config, no fabric.yaml, no proxy command picked up
behind our back, and host keys checked against what the caller registers. Private keys are
secrets resolved by reference; this module must never put one, or its passphrase, in a
message.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import fabric
import paramiko
from pydantic import SecretStr

from engine.errors import ConfigError


def locked_down_connection(
    host: str,
    *,
    user: str,
    port: int,
    timeout: float,
    auth: Mapping[str, object],
    host_keys: Mapping[str, paramiko.PKey],
    known_as: str,
    on_unknown_host: paramiko.MissingHostKeyPolicy,
) -> fabric.Connection:
    """An unopened connection that trusts only ``host_keys`` (key type → key, registered under
    ``known_as``: paramiko's ``host`` or ``[host]:port`` naming) and authenticates only with
    ``auth`` (paramiko ``connect`` arguments)."""
    # An explicit, empty ssh_config and a lazy config: no ~/.ssh/config or fabric.yaml can
    # redirect the host, add a proxy command or an identity behind our back.
    config = fabric.Config(ssh_config=paramiko.SSHConfig(), lazy=True)
    connection = fabric.Connection(
        host,
        user=user,
        port=port,
        config=config,
        connect_timeout=timeout,
        connect_kwargs={
            "banner_timeout": timeout,
            "auth_timeout": timeout,
            "channel_timeout": timeout,
            **auth,
        },
    )
    client = connection.client
    client.set_missing_host_key_policy(on_unknown_host)
    for key_type, key in host_keys.items():
        client.get_host_keys().add(known_as, key_type, key)
    return connection


def parse_private_key(
    key: SecretStr, passphrase: SecretStr | None, *, name: str, passphrase_hint: str
) -> paramiko.PKey:
    """An OpenSSH or PEM private key (ed25519, ECDSA or RSA) held as a secret; ``name`` says
    where it came from in messages (``hris.source.private_key``, ``--identity``)."""
    text = key.get_secret_value()
    secret = passphrase.get_secret_value() if passphrase is not None else None
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text), password=secret)
        except paramiko.PasswordRequiredException as exc:
            raise ConfigError(f"{name} is protected by a passphrase", hint=passphrase_hint) from exc
        except (paramiko.SSHException, ValueError, TypeError):
            continue  # not this key type (or a wrong passphrase): try the next
    raise ConfigError(
        f"{name} is not a usable OpenSSH or PEM private key"
        + (" (or its passphrase is wrong)" if passphrase is not None else ""),
        hint="the secret must hold the whole private key, BEGIN and END lines included",
    )
