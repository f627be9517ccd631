"""The reader's contract: one test per file-level rule, and row-level leniency."""

from __future__ import annotations

from typing import Any

import pytest

from engine.config.models import FileNaming
from engine.errors import FileLevelError
from engine.hris import HrisFile, read_rows


def read(data: bytes, **naming: Any) -> HrisFile:
    return read_rows(data, file_name="hris-acme.tsv", naming=FileNaming(**naming))


def test_utf8_with_or_without_bom_reads_the_same() -> None:
    text = "uniqueId,status,email,firstName\n1,Active,ada@example.org,Zoë\n".encode()
    plain, bommed = read(text), read(b"\xef\xbb\xbf" + text)
    assert plain.header == bommed.header == ("uniqueId", "status", "email", "firstName")
    assert list(plain.rows) == list(bommed.rows) == [["1", "Active", "ada@example.org", "Zoë"]]


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"uniqueId,status,email\n1,Active,a@b.co\n", ","),
        (b"uniqueId\tstatus\temail\n1\tActive\ta@b.co\n", "\t"),
        # a comma inside a tab-separated header does not fool the detection
        (b"uniqueId\tstatus\temail\tcity, region\n1\tActive\ta@b.co\tx\n", "\t"),
    ],
)
def test_delimiter_is_detected_from_the_header_line(data: bytes, delimiter: str) -> None:
    assert read(data).delimiter == delimiter


def test_configured_delimiter_is_used() -> None:
    hris_file = read(b"uniqueId;status;email\n1;Active;a@b.co\n", delimiter=";")
    assert hris_file.rows[0] == ["1", "Active", "a@b.co"]


def test_undetectable_delimiter_suggests_the_configuration() -> None:
    with pytest.raises(FileLevelError) as caught:
        read(b"uniqueId;status;email\n1;Active;a@b.co\n")
    assert 'set hris.file.delimiter to ";"' in str(caught.value)


def test_quoted_fields_with_embedded_newlines_keep_the_starting_line() -> None:
    data = b'uniqueId,status,email,title\n1,Active,a@b.co,"Chief\nof ""things"""\n2,Active,c@d.co,x\n'
    hris_file = read(data)
    assert hris_file.rows[0][3] == 'Chief\nof "things"'
    assert list(hris_file.lines) == [2, 4]


def test_crlf_line_endings_and_blank_lines() -> None:
    hris_file = read(b"uniqueId,status,email\r\n\r\n1,Active,a@b.co\r\n\r\n2,Active,c@d.co\r\n")
    assert list(hris_file.lines) == [3, 5]


def test_header_names_are_trimmed() -> None:
    hris_file = read(b" uniqueId , status ,email \n1,Active,a@b.co\n")
    assert hris_file.header == ("uniqueId", "status", "email")


def test_row_with_wrong_field_count_is_kept_for_the_row_rules() -> None:
    hris_file = read(b"uniqueId,status,email\n1,Active\n2,Active,c@d.co,extra\n")
    assert [len(row) for row in hris_file.rows] == [2, 4]


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"", "empty", 1),
        (b"\xef\xbb\xbf  \n\n", "empty", 1),
        (b"uniqueId,status,email\n", "no user rows", 1),
        (b"uniqueId,status,email\n\n\n", "no user rows", 1),
        (b"uniqueId,status\n1,Active\n", "missing: email", 1),
        (b"uniqueid,status,email\n1,Active,a@b.co\n", "'uniqueid' should be 'uniqueId'", 1),
        (b"uniqueId,status,email,email\n1,Active,a@b.co,x\n", "appears twice", 1),
        (b"uniqueId,status,email,\n1,Active,a@b.co,\n", "column 4 of the header has no name", 1),
        (b'uniqueId,status,email\n1,Active,a@b.co\n2,Active,"unclosed\n', "cannot be parsed", 3),
    ],
)
def test_file_level_errors_stop_the_run_with_location_and_fix(data: bytes, message: str, line: int) -> None:
    with pytest.raises(FileLevelError) as caught:
        read(data)
    error = caught.value
    assert message in str(error)
    assert error.file == "hris-acme.tsv" and error.line == line
    assert error.hint


def test_undecodable_bytes_report_the_byte_offset_and_line() -> None:
    data = b"uniqueId,status,email\n1,Active,a@b.co\n2,Active,ren" + b"\xe9@b.co\n"
    with pytest.raises(FileLevelError) as caught:
        read(data)
    assert caught.value.byte == data.index(b"\xe9")
    assert caught.value.line == 3
    assert "UTF-8" in str(caught.value)
