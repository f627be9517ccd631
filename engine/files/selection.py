"""Which files on a source a run processes, in which order, and which it may delete.

The rules come from the HRIS connector's documentation: only ``{prefix}*.{extension}`` files
are processed (plus ``.pgp``/``.gpg`` after the extension when encryption is required); with
encryption required, only encrypted content is synchronized; several files are processed
one after the other, oldest first; processed files are deleted after the retention period.
To these we add what a runner needs to be safe: a file still being uploaded is left for the
next run, and a name that could reach outside the folder is refused.

Everything here is pure: the listing, the previous listing and "now" are passed in, so the
same inputs always give the same answer. This module must never do I/O, read a clock, or
decide to delete a file that has not been processed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from engine.config.models import Encryption, FileNaming
from engine.files.encrypted import looks_encrypted
from engine.files.source import FileInfo, unsafe_name_reason

ENCRYPTED_SUFFIXES: tuple[str, ...] = (".pgp", ".gpg")


class SkipReason(StrEnum):
    """Why a file on the source is not processed by this run. Values are stable codes."""

    #: The name has a path separator, ``..`` or a control character: never touched.
    UNSAFE_NAME = "unsafe_name"
    #: The name does not follow ``{prefix}*.{extension}``: not an HRIS export for us.
    NAME_MISMATCH = "name_mismatch"
    #: Encryption is not required, yet the file is encrypted (by name or by content).
    ENCRYPTED_NOT_EXPECTED = "encrypted_not_expected"
    #: Encryption is required and the content is plain text: it is not synchronized.
    NOT_ENCRYPTED = "not_encrypted"
    #: Its size or modification time is still changing: left for the next run.
    STILL_UPLOADING = "still_uploading"


@dataclass(frozen=True)
class Skipped:
    """A file left alone, with a stable reason code and a sentence saying what to do."""

    file: FileInfo
    reason: SkipReason
    detail: str


@dataclass(frozen=True)
class Selection:
    """The outcome of ``select_files``: what to process (in order) and what was left alone."""

    selected: tuple[FileInfo, ...]
    skipped: tuple[Skipped, ...]


def _oldest_first(file: FileInfo) -> tuple[datetime, str]:
    return (file.mtime, file.name)


def expected_names(naming: FileNaming, encryption: Encryption) -> str:
    """The accepted name patterns, as a user reads them in a message."""
    plain = f"{naming.prefix}*.{naming.extension}"
    if encryption.required:
        return f"{plain}, {plain}.pgp or {plain}.gpg"
    return plain


def _classify_name(name: str, naming: FileNaming) -> Literal["plain", "encrypted", "mismatch"]:
    # The prefix is matched exactly (it is the customer's naming convention); the extension
    # ignores case because HRIS exports made on Windows often write ``.TSV``.
    if not name.startswith(naming.prefix):
        return "mismatch"
    lowered = name.lower()
    extension = "." + naming.extension.lower()
    for suffix in ENCRYPTED_SUFFIXES:
        if lowered.endswith(extension + suffix) and len(name) >= len(naming.prefix) + len(extension + suffix):
            return "encrypted"
    if lowered.endswith(extension) and len(name) >= len(naming.prefix) + len(extension):
        return "plain"
    return "mismatch"


def select_files(
    listing: Iterable[FileInfo],
    naming: FileNaming,
    encryption: Encryption,
    *,
    now: datetime,
    previous: Iterable[FileInfo] | None = None,
) -> Selection:
    """Decide from names and listings alone which files this run processes, oldest first.

    ``previous`` is an earlier listing of the same source (the last run's, or one taken
    ``settle_seconds`` ago): a file whose size or modification time changed since is still
    being written. A file modified within ``settle_seconds`` of ``now`` (either side, so a
    server clock slightly ahead does not let a half-written file through) is too.

    With encryption required, a selected plain-named file must still pass ``check_content``
    once read: only encrypted content is synchronized.
    """
    before = {file.name: file for file in previous} if previous is not None else {}
    settle = timedelta(seconds=naming.settle_seconds)
    selected: list[FileInfo] = []
    skipped: list[Skipped] = []
    for file in sorted(listing, key=_oldest_first):
        reason = unsafe_name_reason(file.name)
        if reason is not None:
            skipped.append(Skipped(file, SkipReason.UNSAFE_NAME, f"{reason}; rename the file on the source"))
            continue
        kind = _classify_name(file.name, naming)
        if kind == "mismatch":
            skipped.append(
                Skipped(
                    file,
                    SkipReason.NAME_MISMATCH,
                    f"only {expected_names(naming, encryption)} files are processed",
                )
            )
            continue
        if kind == "encrypted" and not encryption.required:
            skipped.append(
                Skipped(
                    file,
                    SkipReason.ENCRYPTED_NOT_EXPECTED,
                    "the file is encrypted but encryption is not enabled for this customer; "
                    "upload it unencrypted, or set hris.encryption.required: true with the key",
                )
            )
            continue
        earlier = before.get(file.name)
        if earlier is not None and (earlier.size, earlier.mtime) != (file.size, file.mtime):
            skipped.append(
                Skipped(
                    file,
                    SkipReason.STILL_UPLOADING,
                    "its size or modification time changed since the previous listing; "
                    "it will be processed by the next run once the upload has finished",
                )
            )
            continue
        if abs(now - file.mtime) < settle:
            skipped.append(
                Skipped(
                    file,
                    SkipReason.STILL_UPLOADING,
                    f"it was modified less than {naming.settle_seconds:g} s ago; "
                    "it will be processed by the next run",
                )
            )
            continue
        selected.append(file)
    return Selection(selected=tuple(selected), skipped=tuple(skipped))


def check_content(
    file: FileInfo, data: bytes, encryption: Encryption
) -> Literal["decrypt", "plain"] | Skipped:
    """After reading a selected file: decrypt it, use it as is, or skip it (with why).

    The content decides, not the name: with encryption required a ``.tsv`` holding a PGP
    message is decrypted and a ``.tsv.pgp`` holding plain text is skipped; without
    encryption, encrypted content is skipped (the connector processes only plain files).
    """
    encrypted = looks_encrypted(data)
    if encryption.required:
        if encrypted:
            return "decrypt"
        return Skipped(
            file,
            SkipReason.NOT_ENCRYPTED,
            "encryption is required and this file is not encrypted, so it is not synchronized; "
            "ask the customer to encrypt it with the public key for this environment",
        )
    if encrypted:
        return Skipped(
            file,
            SkipReason.ENCRYPTED_NOT_EXPECTED,
            "the content is a PGP message but encryption is not enabled for this customer; "
            "upload it unencrypted, or set hris.encryption.required: true with the key",
        )
    return "plain"


def expired(
    listing: Iterable[FileInfo],
    processed: Mapping[str, datetime],
    *,
    now: datetime,
    retention_days: int,
) -> list[str]:
    """Names of files to delete from the source: processed, and older than the retention.

    ``processed`` maps a name to when it was processed. A file is expired only when it was
    processed at least ``retention_days`` ago AND the listed copy is no newer than that
    processing: a file re-uploaded under the same name after it was processed is a new,
    unprocessed file and is kept. Unprocessed files are never returned.
    """
    cutoff = now - timedelta(days=retention_days)
    names: list[str] = []
    for file in listing:
        processed_at = processed.get(file.name)
        if processed_at is None or unsafe_name_reason(file.name) is not None:
            continue
        if processed_at <= cutoff and file.mtime <= processed_at:
            names.append(file.name)
    return sorted(names)
