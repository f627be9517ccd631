"""PGP decryption of HRIS files over the real gpg binary, in a temporary keyring.

``open_decryptor`` turns a customer file's ``hris.encryption`` into a ready ``PgpDecryptor``,
resolving the key and passphrase references at that moment. It must never log a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.config.models import Encryption
from engine.config.secrets import resolve_secret
from engine.errors import ConfigError
from engine.files.encrypted import looks_encrypted

from .decrypt import PgpDecryptor


def open_decryptor(
    encryption: Encryption,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> PgpDecryptor:
    """The decryptor for ``hris.encryption``; use it as ``with open_decryptor(...) as pgp:``."""
    if encryption.private_key is None:
        raise ConfigError(
            "hris.encryption.private_key is not set, so encrypted files cannot be read",
            hint="set private_key: env:NAME (an armored PGP private key)",
        )
    key = resolve_secret(
        encryption.private_key, environ=environ, base_dir=base_dir, what="hris.encryption.private_key"
    )
    passphrase = None
    if encryption.passphrase is not None:
        passphrase = resolve_secret(
            encryption.passphrase, environ=environ, base_dir=base_dir, what="hris.encryption.passphrase"
        )
    return PgpDecryptor(key, passphrase)


__all__ = ["PgpDecryptor", "looks_encrypted", "open_decryptor"]
