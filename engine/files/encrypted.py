"""Recognising an OpenPGP message by its first bytes, without a key and without gpg.

With encryption required, a file named ``hris.tsv`` is processed only if its content is in
fact encrypted, and a plain file must never be fed to the sync. That decision is made here,
from the bytes alone (RFC 4880 / RFC 9580 packet headers), so it is pure and fast.

This module must never decrypt, call gpg, or treat a file as encrypted on a guess that a
plain UTF-8 export could also satisfy: an unrecognised start means "not encrypted".
"""

from __future__ import annotations

ARMOR_HEADER = b"-----BEGIN PGP MESSAGE-----"

#: Packet tags an encrypted message can start with, and the versions each may carry.
#: 1 = public-key encrypted session key, 3 = symmetric-key encrypted session key,
#: 18 = symmetrically encrypted and integrity protected data.
_FIRST_PACKET_VERSIONS: dict[int, frozenset[int]] = {
    1: frozenset({3, 6}),
    3: frozenset({4, 5, 6}),
    18: frozenset({1, 2}),
}

_UTF8_BOM = b"\xef\xbb\xbf"


def looks_encrypted(data: bytes) -> bool:
    """True when ``data`` starts like an OpenPGP encrypted message, armored or binary."""
    stripped = data[:4096]
    if stripped.startswith(_UTF8_BOM):
        stripped = stripped[len(_UTF8_BOM) :]
    if stripped.lstrip(b" \t\r\n").startswith(ARMOR_HEADER):
        return True
    return _starts_with_encryption_packet(data)


def _starts_with_encryption_packet(data: bytes) -> bool:
    if len(data) < 3:
        return False
    header = data[0]
    if not header & 0x80:
        # Bit 7 is always set on an OpenPGP packet header; ASCII text never has it.
        return False
    if header & 0x40:
        tag = header & 0x3F
        body_offset = _new_format_body_offset(data)
    else:
        tag = (header >> 2) & 0x0F
        length_type = header & 0x03
        body_offset = {0: 2, 1: 3, 2: 5}.get(length_type)
    versions = _FIRST_PACKET_VERSIONS.get(tag)
    if versions is None or body_offset is None or body_offset >= len(data):
        return False
    # The version byte is what tells a real packet from UTF-8 text that happens to start with
    # a byte in the packet-header range (an accented capital, for instance).
    return data[body_offset] in versions


def _new_format_body_offset(data: bytes) -> int | None:
    first = data[1]
    if first < 192:
        return 2
    if first < 224:
        return 3
    if first == 255:
        return 6
    # Partial body lengths are not allowed on a session-key packet: not the start of a message.
    return None
