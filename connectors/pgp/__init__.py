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
from engine.files.selection import ENCRYPTED_SUFFIXES

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


def decrypt_if_encrypted(
    encryption: Encryption,
    data: bytes,
    name: str,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> tuple[bytes, str]:
    """A file that may be a PGP message, as plain bytes and the name its rows are reported
    under (``.pgp``/``.gpg`` dropped): what ``lmsync plan`` and the review read one file with.
    The keyring lives for this one file; a run over many files keeps one ``open_decryptor``."""
    if not looks_encrypted(data):
        return data, name
    with open_decryptor(encryption, base_dir=base_dir, environ=environ) as pgp:
        plain = pgp.decrypt(data, file=name)
    return plain, name[:-4] if name.endswith(ENCRYPTED_SUFFIXES) else name


__all__ = ["PgpDecryptor", "decrypt_if_encrypted", "looks_encrypted", "open_decryptor"]
