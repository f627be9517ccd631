"""Recognising OpenPGP messages from their first bytes; real gpg output: tests/connectors/pgp."""

from __future__ import annotations

import pytest

from engine.files import looks_encrypted


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"-----BEGIN PGP MESSAGE-----\n\nhF4D\n", True),
        (b"\xef\xbb\xbf\r\n  -----BEGIN PGP MESSAGE-----\r\n", True),  # BOM and blank lines first
        (b"\xc1\x5e\x03" + b"\x00" * 93, True),  # new-format PKESK, version 3
        (b"\xc1\x5e\x06" + b"\x00" * 93, True),  # new-format PKESK, version 6 (RFC 9580)
        (b"\x84\x5e\x03" + b"\x00" * 93, True),  # old-format PKESK, one-octet length
        (b"\x85\x01\x0c\x03" + b"\x00" * 268, True),  # old-format PKESK, two-octet length (RSA)
        (b"\xc3\x0d\x04\x07\x03", True),  # SKESK v4 (gpg --symmetric)
        (b"\xd2\xc0\x4a\x01", True),  # SEIPD, two-octet new-format length
        (b"uniqueId\tstatus\temail\n", False),
        (b"\xef\xbb\xbfuniqueId,status,email\n", False),
        ("Éric;Active".encode(), False),  # 0xC3 looks like a SKESK header; its version does not
        ("Ça va\tActive".encode(), False),
        (b"\xc8\x2e\x01", False),  # compressed data: a signed or plain message, not encrypted
        (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n", False),
        (b"\xc1", False),
        (b"", False),
    ],
)
def test_looks_encrypted(data: bytes, expected: bool) -> None:
    assert looks_encrypted(data) is expected
