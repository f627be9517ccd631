"""Every kind of mistake, one fixture file each, with the exact diagnostics it must produce.

Each file under invalid/ starts with a comment saying what it holds, then one
``# expect: LINE:COL: PATH: MESSAGE`` line per diagnostic; the table below is those files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import check_file, validate_paths

INVALID = Path(__file__).parent / "invalid"
FIXTURES = sorted(INVALID.glob("*.yaml"))


def expected(path: Path) -> list[str]:
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


def test_there_are_at_least_25_distinct_invalid_files() -> None:
    assert len(FIXTURES) >= 25
    assert all(expected(path) for path in FIXTURES), "every fixture must declare what it expects"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_invalid_file_reports_exactly_its_mistakes(path: Path) -> None:
    checked = check_file(path)
    assert checked.config is None
    assert [str(d).removeprefix(f"{path}:") for d in checked.diagnostics] == expected(path)
    assert all(d.file == str(path) and d.severity == "error" for d in checked.diagnostics)


def test_the_folder_reports_every_error_of_every_file_sorted() -> None:
    diagnostics = validate_paths([INVALID])
    assert len(diagnostics) == sum(len(expected(p)) for p in FIXTURES)
    keys = [(d.file, d.line, d.column) for d in diagnostics]
    assert keys == sorted(keys)
    assert {d.file for d in diagnostics} == {str(p) for p in FIXTURES}


def test_multiple_errors_in_one_file_are_all_reported_in_order() -> None:
    checked = check_file(INVALID / "multiple-errors.yaml")
    assert [d.code for d in checked.diagnostics] == ["pattern", "enum", "unknown-key", "pattern", "timezone"]
    assert [d.line for d in checked.diagnostics] == sorted(d.line for d in checked.diagnostics)


def test_invalid_utf8_offset_is_the_offending_byte() -> None:
    path = INVALID / "invalid-utf8.yaml"
    raw = path.read_bytes()
    offset = raw.index(b"\xe9")
    (diagnostic,) = check_file(path).diagnostics
    assert f"byte {offset} " in diagnostic.message
    assert diagnostic.line == raw[:offset].count(b"\n") + 1


@pytest.mark.parametrize(
    ("fixture", "secrets"),
    [
        ("inline-secret", ["Zq8!kV3p-tD9x"]),
        ("inline-secret-number", ["90210443", "correct horse battery"]),
    ],
)
def test_inline_secrets_are_never_repeated(fixture: str, secrets: list[str]) -> None:
    checked = check_file(INVALID / f"{fixture}.yaml")
    assert checked.diagnostics
    for diagnostic in checked.diagnostics:
        assert all(secret not in repr(diagnostic) for secret in secrets)
