"""Decrypting customers' PGP-encrypted HRIS files with the real gpg binary (python-gnupg).

A ``PgpDecryptor`` imports the customer's private key into a private, temporary GNUPGHOME
(mode 0700) when entered, and removes that directory, and stops the gpg-agent gpg started
for it, when left: the key never touches a shared keyring and does not outlive the run. The
passphrase goes to gpg on its standard input with loopback pinentry, never on a command line.

Each failure gpg reports (a message encrypted to another key, a wrong passphrase, a corrupt
or truncated file, data that is no PGP message at all) is read from gpg's machine-readable
status lines and becomes a ``DecryptionError`` naming the file and the likely fix, so the run
stops before anything is written. This module must never log, return or put in a message
the key, the passphrase or any decrypted content.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

import gnupg
from pydantic import SecretStr

from engine.errors import ConfigError, DecryptionError

_ENCRYPT_FIX = "ask the customer to encrypt the file with the public key of this environment"


#: libgpg-error's code for a wrong passphrase, as in ``ERROR pkdecrypt_failed <code>``; the
#: low 16 bits are the error code, the high bits name the component that raised it.
_GPG_ERR_BAD_PASSPHRASE = 11


def _status_lines(stderr: str) -> dict[str, list[list[str]]]:
    """gpg's ``[GNUPG:] KEYWORD args`` lines, as keyword -> every argument list it came with."""
    status: dict[str, list[list[str]]] = {}
    for line in stderr.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, *args = line[len("[GNUPG:] ") :].split()
            status.setdefault(keyword, []).append(args)
    return status


def _error_codes(status: dict[str, list[list[str]]]) -> set[int]:
    codes: set[int] = set()
    for args in status.get("ERROR", []):
        if len(args) >= 2 and args[1].isdigit():
            codes.add(int(args[1]) & 0xFFFF)
    return codes


class PgpDecryptor:
    """A temporary keyring holding one private key; ``with`` it, then ``decrypt``."""

    def __init__(
        self,
        private_key: SecretStr,
        passphrase: SecretStr | None = None,
        *,
        gpg_binary: str = "gpg",
    ) -> None:
        self._private_key = private_key
        self._passphrase = passphrase
        self._gpg_binary = gpg_binary
        self._home: Path | None = None
        self._gpg: gnupg.GPG | None = None
        self.key_ids: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PgpDecryptor(key_ids={self.key_ids!r})"

    def __enter__(self) -> Self:
        # mkdtemp creates the directory 0700, which gpg requires of a home it trusts.
        self._home = Path(tempfile.mkdtemp(prefix="lmsync-gnupg-"))
        try:
            self._gpg = gnupg.GPG(gpgbinary=self._gpg_binary, gnupghome=str(self._home))
            self._import_key(self._gpg)
        except BaseException:
            self._remove_home()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._remove_home()

    def _passphrase_text(self) -> str | None:
        return self._passphrase.get_secret_value() if self._passphrase is not None else None

    def _import_key(self, gpg: gnupg.GPG) -> None:
        try:
            gpg.import_keys(self._private_key.get_secret_value(), passphrase=self._passphrase_text())
        except ValueError as exc:  # python-gnupg refuses a passphrase containing a newline
            raise ConfigError(
                "hris.encryption.passphrase is not usable (it contains a line break)",
                hint="store the passphrase alone, without a trailing newline",
            ) from exc
        secret_keys = gpg.list_keys(secret=True)
        if not secret_keys:
            raise ConfigError(
                "hris.encryption.private_key holds no PGP private key",
                hint="export it with: gpg --armor --export-secret-keys KEYID (a public key cannot decrypt)",
            )
        # Subkey ids too: a message is encrypted to the encryption subkey, and NO_SECKEY names it.
        ids: list[str] = []
        for key in secret_keys:
            ids.append(str(key["keyid"]))
            ids.extend(str(sub[0]) for sub in key.get("subkeys", []))
        self.key_ids = tuple(ids)

    def _remove_home(self) -> None:
        home, self._home, self._gpg = self._home, None, None
        if home is None:
            return
        # gpg started an agent for this home; stop it so no process keeps the key in memory.
        if shutil.which("gpgconf"):
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                capture_output=True,
                check=False,
                timeout=30,
            )
        shutil.rmtree(home, ignore_errors=True)

    def decrypt(self, data: bytes, *, file: str) -> bytes:
        """The plaintext of ``data`` (armored or binary PGP); ``file`` names it in errors."""
        if self._gpg is None:
            raise RuntimeError("PgpDecryptor.decrypt called outside its 'with' block")
        passphrase = self._passphrase_text()
        # Loopback even without a passphrase: gpg must fail at once, never wait on a pinentry
        # dialog no one will answer (python-gnupg adds the flag itself when one is given).
        extra = None if passphrase else ["--pinentry-mode", "loopback"]
        result = self._gpg.decrypt(data, passphrase=passphrase, extra_args=extra)
        status = _status_lines(result.stderr or "")
        failed = (
            "DECRYPTION_FAILED" in status
            or "BADMDC" in status
            or "DECRYPTION_OKAY" not in status
            or getattr(result, "returncode", 0) not in (0, None)
        )
        if not failed:
            return bytes(result.data)
        raise self._failure(status, file)

    def _failure(self, status: dict[str, list[list[str]]], file: str) -> DecryptionError:
        # Order matters: gpg emits DECRYPTION_FAILED alongside every specific cause.
        if _GPG_ERR_BAD_PASSPHRASE in _error_codes(status) or "BAD_PASSPHRASE" in status:
            return DecryptionError(
                "cannot decrypt: the passphrase of the decryption key is wrong",
                file=file,
                hint="check the secret behind hris.encryption.passphrase",
            )
        if self._passphrase is None and "NEED_PASSPHRASE" in status:
            return DecryptionError(
                "cannot decrypt: the decryption key is protected by a passphrase and none is set",
                file=file,
                hint="set hris.encryption.passphrase: env:NAME",
            )
        if "NO_SECKEY" in status and "DECRYPTION_KEY" not in status:
            recipients = ", ".join(args[0] for args in status["NO_SECKEY"] if args) or "an unknown key"
            return DecryptionError(
                f"cannot decrypt: the file is encrypted to key {recipients}, not to this "
                f"environment's key ({', '.join(self.key_ids)})",
                file=file,
                hint=_ENCRYPT_FIX,
            )
        # NODATA before any decryption started: the bytes were never a PGP message. After it
        # started (ENC_TO, BEGIN_DECRYPTION), NODATA means the decrypted stream is garbage.
        if "NODATA" in status and "ENC_TO" not in status and "BEGIN_DECRYPTION" not in status:
            return DecryptionError(
                "cannot decrypt: no PGP message found (the file is not encrypted, or damaged)",
                file=file,
                hint="ask the customer to upload it again, encrypted with gpg --encrypt",
            )
        return DecryptionError(
            "cannot decrypt: the PGP message is corrupt or truncated",
            file=file,
            hint="the upload may have been cut short; ask the customer to upload it again",
        )
