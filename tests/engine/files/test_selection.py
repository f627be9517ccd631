"""The pure file-selection rules: naming, encryption, order, uploads in progress, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.config.models import Encryption, FileNaming
from engine.files import FileInfo, Skipped, SkipReason, check_content, expired, select_files

NOW = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
PLAIN = Encryption()
REQUIRED = Encryption(required=True, private_key="env:PGP_KEY")
NAMING = FileNaming()  # hris*.tsv, settle 5 s


def file(name: str, *, age_s: float = 3600, size: int = 100) -> FileInfo:
    return FileInfo(name=name, size=size, mtime=NOW - timedelta(seconds=age_s))


def reasons(
    listing: list[FileInfo], encryption: Encryption = PLAIN, *, previous: list[FileInfo] | None = None
) -> dict[str, str]:
    result = select_files(listing, NAMING, encryption, now=NOW, previous=previous)
    outcome = {f.name: "selected" for f in result.selected}
    outcome.update({s.file.name: s.reason.value for s in result.skipped})
    return outcome


@pytest.mark.parametrize(
    ("name", "encryption", "expected"),
    [
        ("hris.tsv", PLAIN, "selected"),
        ("hris-360learning.tsv", PLAIN, "selected"),
        ("hris-export.TSV", PLAIN, "selected"),  # Windows exports: extension case ignored
        ("HRIS-export.tsv", PLAIN, "name_mismatch"),  # the prefix is the customer's convention
        ("export-hris.tsv", PLAIN, "name_mismatch"),
        ("hris-export.csv", PLAIN, "name_mismatch"),
        ("hris-export.tsv.bak", PLAIN, "name_mismatch"),
        ("hris-export.tsvx", PLAIN, "name_mismatch"),
        ("hris-export.tsv.pgp", PLAIN, "encrypted_not_expected"),
        ("hris-export.tsv.gpg", PLAIN, "encrypted_not_expected"),
        ("hris-export.tsv.pgp", REQUIRED, "selected"),
        ("hris-export.tsv.GPG", REQUIRED, "selected"),
        ("hris-export.tsv", REQUIRED, "selected"),  # content decides, after reading
        ("hris-export.csv.pgp", REQUIRED, "name_mismatch"),
        ("hris-export.pgp", REQUIRED, "name_mismatch"),
        ("hris/../../etc.tsv", PLAIN, "unsafe_name"),
        ("hris\\evil.tsv", PLAIN, "unsafe_name"),
        ("hris..tsv", PLAIN, "unsafe_name"),
        ("hris-\x1b[31m.tsv", PLAIN, "unsafe_name"),
        ("hris-\x00.tsv", PLAIN, "unsafe_name"),
        ("hris-\u202e.tsv", PLAIN, "unsafe_name"),  # right-to-left override hides the real name
        ("hris-line\nbreak.tsv", REQUIRED, "unsafe_name"),
    ],
)
def test_naming_and_encryption_rules(name: str, encryption: Encryption, expected: str) -> None:
    assert reasons([file(name)], encryption) == {name: expected}


def test_custom_prefix_and_extension() -> None:
    naming = FileNaming(prefix="users_", extension="csv")
    listing = [file("users_2025.csv"), file("hris.tsv"), file("users_2025.tsv")]
    result = select_files(listing, naming, PLAIN, now=NOW)
    assert [f.name for f in result.selected] == ["users_2025.csv"]
    assert {s.file.name for s in result.skipped} == {"hris.tsv", "users_2025.tsv"}
    assert "users_*.csv" in result.skipped[0].detail


def test_oldest_first_by_mtime_then_name() -> None:
    listing = [
        file("hris-c.tsv", age_s=100),
        file("hris-b.tsv", age_s=300),
        file("hris-z.tsv", age_s=200),
        file("hris-a.tsv", age_s=200),
    ]
    result = select_files(listing, NAMING, PLAIN, now=NOW)
    assert [f.name for f in result.selected] == ["hris-b.tsv", "hris-a.tsv", "hris-z.tsv", "hris-c.tsv"]


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (file("hris.tsv", size=100), None, "selected"),
        (file("hris.tsv", size=100), [file("hris.tsv", size=100)], "selected"),
        (file("hris.tsv", size=200), [file("hris.tsv", size=100)], "still_uploading"),
        (file("hris.tsv", age_s=3600), [file("hris.tsv", age_s=3700)], "still_uploading"),
        (file("hris.tsv", age_s=3600), [file("other.tsv", age_s=1)], "selected"),
        (file("hris.tsv", age_s=4.9), None, "still_uploading"),
        (file("hris.tsv", age_s=5.0), None, "selected"),
        (file("hris.tsv", age_s=-3), None, "still_uploading"),  # server clock slightly ahead
    ],
)
def test_files_still_being_uploaded_wait(
    current: FileInfo, previous: list[FileInfo] | None, expected: str
) -> None:
    assert reasons([current], previous=previous) == {"hris.tsv": expected}


def test_every_skip_carries_a_fix_and_selection_is_deterministic() -> None:
    listing = [
        file("hris-a.tsv", age_s=50),
        file("hris/b.tsv", age_s=40),
        file("notes.txt", age_s=30),
        file("hris-c.tsv.pgp", age_s=20),
        file("hris-d.tsv", age_s=1),
    ]
    first = select_files(listing, NAMING, PLAIN, now=NOW)
    again = select_files(list(reversed(listing)), NAMING, PLAIN, now=NOW)
    assert first == again
    assert [f.name for f in first.selected] == ["hris-a.tsv"]
    assert [(s.file.name, s.reason) for s in first.skipped] == [
        ("hris/b.tsv", SkipReason.UNSAFE_NAME),
        ("notes.txt", SkipReason.NAME_MISMATCH),
        ("hris-c.tsv.pgp", SkipReason.ENCRYPTED_NOT_EXPECTED),
        ("hris-d.tsv", SkipReason.STILL_UPLOADING),
    ]
    assert all(len(s.detail) > 20 for s in first.skipped)


ARMORED = b"-----BEGIN PGP MESSAGE-----\n\nhF4D...\n-----END PGP MESSAGE-----\n"
TSV = b"uniqueId\tstatus\temail\n1\tActive\tada@example.com\n"


@pytest.mark.parametrize(
    ("name", "data", "encryption", "expected"),
    [
        ("hris.tsv.pgp", ARMORED, REQUIRED, "decrypt"),
        ("hris.tsv", ARMORED, REQUIRED, "decrypt"),
        ("hris.tsv", TSV, REQUIRED, SkipReason.NOT_ENCRYPTED),
        ("hris.tsv.gpg", TSV, REQUIRED, SkipReason.NOT_ENCRYPTED),
        ("hris.tsv", TSV, PLAIN, "plain"),
        ("hris.tsv", ARMORED, PLAIN, SkipReason.ENCRYPTED_NOT_EXPECTED),
    ],
)
def test_content_decides_after_reading(
    name: str, data: bytes, encryption: Encryption, expected: str | SkipReason
) -> None:
    verdict = check_content(file(name), data, encryption)
    if isinstance(expected, SkipReason):
        assert isinstance(verdict, Skipped)
        assert verdict.reason is expected
        assert verdict.file.name == name
    else:
        assert verdict == expected


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("listed_age_days", "processed_age_days", "deleted"),
    [
        (40, 31, True),  # processed more than 30 days ago
        (40, 30, True),  # exactly at the retention boundary
        (40, 29, False),  # processed recently: kept until its 30 days are over
        (40, None, False),  # never processed: never deleted, however old
        (10, 31, False),  # re-uploaded after it was processed: a new, unprocessed file
    ],
)
def test_retention_deletes_only_old_processed_files(
    listed_age_days: int, processed_age_days: int | None, deleted: bool
) -> None:
    listing = [FileInfo("hris.tsv", 10, NOW - listed_age_days * DAY)]
    processed = {} if processed_age_days is None else {"hris.tsv": NOW - processed_age_days * DAY}
    assert expired(listing, processed, now=NOW, retention_days=30) == (["hris.tsv"] if deleted else [])


def test_retention_is_configurable_and_ignores_files_no_longer_listed() -> None:
    listing = [FileInfo("hris-b.tsv", 1, NOW - 9 * DAY), FileInfo("hris-a.tsv", 1, NOW - 9 * DAY)]
    processed = {"hris-a.tsv": NOW - 8 * DAY, "hris-b.tsv": NOW - 8 * DAY, "gone.tsv": NOW - 90 * DAY}
    assert expired(listing, processed, now=NOW, retention_days=7) == ["hris-a.tsv", "hris-b.tsv"]
    assert expired(listing, processed, now=NOW, retention_days=30) == []


def test_file_info_normalises_to_utc_and_refuses_naive_times() -> None:
    paris = timezone(timedelta(hours=1))
    info = FileInfo("hris.tsv", 1, datetime(2025, 3, 1, 7, 30, tzinfo=paris))
    assert info.mtime == NOW and info.mtime.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        FileInfo("hris.tsv", 1, datetime(2025, 3, 1, 6, 30))
