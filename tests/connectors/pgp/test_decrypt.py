"""Decryption over the real gpg binary with keys made at test time (tests/fixtures/gpg.py)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.pgp import PgpDecryptor, looks_encrypted, open_decryptor
from engine.config.models import Encryption
from engine.errors import ConfigError, DecryptionError, FileLevelError
from tests.fixtures.gpg import GpgKeys

pytestmark = pytest.mark.integration

TSV = b"uniqueId\tstatus\temail\n0001\tActive\tada@computer.org\n"
ENCRYPTION = Encryption(required=True, private_key="env:ACME_PGP_KEY", passphrase="env:ACME_PGP_PASS")


def environ(keys: GpgKeys, passphrase: str | None = None) -> dict[str, str]:
    return {
        "ACME_PGP_KEY": keys.runner.private_key,
        "ACME_PGP_PASS": passphrase if passphrase is not None else str(keys.runner.passphrase),
    }


def runner_decryptor(keys: GpgKeys, passphrase: str | None = None) -> PgpDecryptor:
    return open_decryptor(ENCRYPTION, base_dir=Path("/"), environ=environ(keys, passphrase))


@pytest.mark.parametrize("armor", [True, False], ids=["armored", "binary"])
def test_decrypts_armored_and_binary_messages(gpg_keys: GpgKeys, armor: bool) -> None:
    message = gpg_keys.encrypt(TSV, armor=armor)
    assert looks_encrypted(message)
    with runner_decryptor(gpg_keys) as pgp:
        assert pgp.decrypt(message, file="hris-1.tsv.pgp") == TSV


def test_big_file_round_trip(gpg_keys: GpgKeys) -> None:
    big = TSV * 60_000  # ~3 MB
    with runner_decryptor(gpg_keys) as pgp:
        assert pgp.decrypt(gpg_keys.encrypt(big, armor=False), file="hris-big.tsv.gpg") == big


def test_keyring_is_private_and_removed_after_use(gpg_keys: GpgKeys) -> None:
    passphrase = gpg_keys.runner.passphrase
    assert passphrase is not None  # the runner key is always protected (tests/fixtures/gpg.py)
    pgp = runner_decryptor(gpg_keys)
    with pgp:
        home = pgp._home
        assert home is not None and home.is_dir()
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not home.exists()
    assert passphrase not in repr(pgp)


def corrupt_middle(message: bytes) -> bytes:
    middle = len(message) // 2
    return message[:middle] + bytes(b ^ 0xFF for b in message[middle : middle + 8]) + message[middle + 8 :]


@pytest.mark.parametrize(
    ("make_message", "passphrase", "expected"),
    [
        (lambda k: k.encrypt(TSV, to=k.other), None, "encrypted to key"),
        (lambda k: k.encrypt(TSV, to=k.other, armor=False), None, "encrypted to key"),
        (lambda k: corrupt_middle(k.encrypt(TSV * 50, armor=False)), None, "corrupt or truncated"),
        (lambda k: k.encrypt(TSV * 50, armor=False)[:-40], None, "corrupt or truncated"),
        (lambda k: b"uniqueId\tstatus\n", None, "no PGP message"),
        (lambda k: k.encrypt(TSV), "not-the-passphrase", "passphrase of the decryption key is wrong"),
    ],
    ids=["other-key-armored", "other-key-binary", "corrupt", "truncated", "not-pgp", "wrong-passphrase"],
)
def test_failures_are_file_level_errors_naming_the_file_and_fix(
    gpg_keys: GpgKeys, make_message: Callable[[GpgKeys], bytes], passphrase: str | None, expected: str
) -> None:
    message = make_message(gpg_keys)
    with runner_decryptor(gpg_keys, passphrase) as pgp, pytest.raises(DecryptionError) as caught:
        pgp.decrypt(message, file="hris-2025-03-01.tsv.pgp")
    error = caught.value
    assert isinstance(error, FileLevelError) and not error.transient
    assert expected in str(error)
    assert str(error).startswith("hris-2025-03-01.tsv.pgp: ")
    assert error.hint  # every failure says what to do
    assert str(gpg_keys.runner.passphrase) not in str(error)
    assert "ada@computer.org" not in str(error)


def test_encrypted_to_another_key_names_both_keys(gpg_keys: GpgKeys) -> None:
    with runner_decryptor(gpg_keys) as pgp, pytest.raises(DecryptionError) as caught:
        pgp.decrypt(gpg_keys.encrypt(TSV, to=gpg_keys.other), file="hris.tsv.pgp")
    assert gpg_keys.other.fingerprint[-16:] not in pgp.key_ids
    assert any(key_id in str(caught.value) for key_id in pgp.key_ids)
    assert "public key of this environment" in str(caught.value)


def test_missing_passphrase_is_reported_as_such(gpg_keys: GpgKeys) -> None:
    with (
        PgpDecryptor(SecretStr(gpg_keys.runner.private_key)) as pgp,
        pytest.raises(DecryptionError) as caught,
    ):
        pgp.decrypt(gpg_keys.encrypt(TSV), file="hris.tsv.pgp")
    assert "hris.encryption.passphrase" in str(caught.value)


def test_unprotected_key_needs_no_passphrase(gpg_keys: GpgKeys) -> None:
    with PgpDecryptor(SecretStr(gpg_keys.other.private_key)) as pgp:
        assert pgp.decrypt(gpg_keys.encrypt(TSV, to=gpg_keys.other), file="x.tsv.gpg") == TSV


def test_a_public_key_or_no_key_is_a_config_error(gpg_keys: GpgKeys) -> None:
    with (
        pytest.raises(ConfigError, match="holds no PGP private key"),
        PgpDecryptor(SecretStr(gpg_keys.runner.public_key)),
    ):
        pass
    with pytest.raises(ConfigError, match="private_key is not set"):
        open_decryptor(Encryption(), base_dir=Path("/"))
