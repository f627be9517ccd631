"""Reads an HRIS export (CSV or TSV bytes) into a header and rows with their line numbers.

The reader decides only what makes the *whole file* unusable -- undecodable bytes, no
header, a missing required column, a duplicate column name, broken quoting, no data rows --
and raises ``FileLevelError`` for it, naming the file, the line or byte and the fix, so the
run stops before anything is written. Everything about single rows (wrong field count, bad
e-mail...) is left to the row rules, which ignore that row and let the rest proceed.

It must never interpret a value (status, e-mail...), never do I/O (it is given bytes) and
never keep more than one copy of the rows: at a million rows memory is the budget.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.config.models import FileNaming
from engine.errors import FileLevelError
from engine.hris.gcpause import without_collector
from engine.hris.table import LineCountMismatchError, LineFeed, parse_rows, rows_one_by_one

if TYPE_CHECKING:
    from _csv import Reader

REQUIRED_COLUMNS: tuple[str, ...] = ("uniqueId", "status", "email")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class HrisFile:
    """A read file: trimmed header names, raw rows and the line each row starts on.

    ``rows[i]`` is the list of fields csv produced (its length may differ from the header's:
    the row rules report that); ``lines[i]`` is the 1-based line where it starts, which is
    what an SA finds in an editor even when quoted fields span several lines. ``read_rows``
    stores the rows as a ``RowTable`` (columns); any sequence of lists is accepted.
    ``header_line``: the header's line, when known (else the line before the first row's):
    notes on the header name it, even when only some rows are kept (``columnar.py``).
    """

    file_name: str
    header: tuple[str, ...]
    rows: Sequence[list[str]]
    lines: Sequence[int]
    delimiter: str
    header_line: int | None = None

    @property
    def header_at(self) -> int:
        """The line of the header."""
        if self.header_line is not None:
            return self.header_line
        return self.lines[0] - 1 if self.lines else 1

    def column(self, name: str) -> int | None:
        """Index of a column by exact (trimmed) name, or None when the file lacks it."""
        try:
            return self.header.index(name)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"HrisFile({self.file_name!r}, {len(self.header)} columns, {len(self.rows)} rows)"


@without_collector
def read_rows(data: bytes, *, file_name: str, naming: FileNaming) -> HrisFile:
    """Parse ``data`` (UTF-8, BOM optional) into an ``HrisFile`` or raise ``FileLevelError``."""
    text = _decode(data, file_name)
    if not text.strip():
        raise FileLevelError(
            "the file is empty",
            file=file_name,
            line=1,
            hint="the HRIS export produced no header nor rows; re-run the export and upload it again",
        )
    delimiter = detect_delimiter(text, naming, file_name)
    feed = LineFeed(text)
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    header_line, header = parse_header(reader, file_name, delimiter)
    rows: Sequence[list[str]]
    lines: Sequence[int]
    try:
        try:
            rows, lines = parse_rows(text, feed.offset, header_line + 1, delimiter, len(header))
        except (csv.Error, LineCountMismatchError):
            # The reference loop says which line is wrong (or settles an odd line count).
            rows, lines = rows_one_by_one(text, feed.offset, header_line + 1, delimiter)
    except csv.Error as exc:
        raise FileLevelError(
            f"the file cannot be parsed as delimited text ({exc})",
            file=file_name,
            line=getattr(exc, "line", header_line + 1),
            hint="a quoted field is probably not closed; fix the quotes from this line on "
            '(a quote inside a field is written twice: "")',
        ) from exc
    if not rows:
        raise FileLevelError(
            "the file has a header but no user rows",
            file=file_name,
            line=header_line,
            hint="an export with no users would change nothing; check the HRIS export filter",
        )
    return HrisFile(
        file_name=file_name,
        header=header,
        rows=rows,
        lines=lines,
        delimiter=delimiter,
        header_line=header_line,
    )


def _decode(data: bytes, file_name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Offsets are reported in the original bytes (BOM included), as a hex editor shows them.
        offset = exc.start + (len(_BOM) if data.startswith(_BOM) else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise FileLevelError(
            f"the file is not valid UTF-8 at byte {offset} (line {line})",
            file=file_name,
            line=line,
            byte=offset,
            hint="export the file as UTF-8 (Excel: 'CSV UTF-8'); a Latin-1/Windows-1252 export "
            "shows this on the first accented letter",
        ) from exc


def detect_delimiter(text: str, naming: FileNaming, file_name: str) -> str:
    if naming.delimiter != "auto":
        return naming.delimiter
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    tabs, commas = first_line.count("\t"), first_line.count(",")
    if tabs == 0 and commas == 0:
        others = [d for d in ";|" if d in first_line]
        hint = (
            f"the header seems separated by '{others[0]}': set hris.file.delimiter to \"{others[0]}\""
            if others
            else "the header must list uniqueId, status and email separated by commas or tabs"
        )
        raise FileLevelError(
            "cannot detect the delimiter: the header line has neither a comma nor a tab",
            file=file_name,
            line=1,
            hint=hint,
        )
    return "\t" if tabs > commas else ","


def parse_header(reader: Reader, file_name: str, delimiter: str) -> tuple[int, tuple[str, ...]]:
    try:
        for raw in reader:
            if raw:
                break
        else:  # pragma: no cover - an all-blank file is caught as empty before
            raise FileLevelError("the file has no header line", file=file_name, line=1)
    except csv.Error as exc:
        raise FileLevelError(
            f"the header line cannot be parsed ({exc})",
            file=file_name,
            line=reader.line_num,
            hint="fix the quotes of the header line",
        ) from exc
    line = reader.line_num
    header = tuple(name.strip() for name in raw)
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise FileLevelError(
                f"column {position} of the header has no name",
                file=file_name,
                line=line,
                hint="name every column, or remove the empty one (a trailing delimiter makes one)",
            )
        if name in seen:
            raise FileLevelError(
                f"column '{name}' appears twice in the header (columns {seen[name]} and {position})",
                file=file_name,
                line=line,
                hint="rename or remove one of them: a value cannot come from two columns",
            )
        seen[name] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        folded = {name.casefold(): name for name in header}
        near = [f"'{folded[m.casefold()]}' should be '{m}'" for m in missing if m.casefold() in folded]
        shown = "tab" if delimiter == "\t" else f"'{delimiter}'"
        hint = (
            "; ".join(near)
            if near
            else (
                f"add the column(s) to the export; the header was split on {shown}, "
                "set hris.file.delimiter if the file uses another separator"
            )
        )
        raise FileLevelError(
            f"required column(s) missing: {', '.join(missing)}",
            file=file_name,
            line=line,
            hint=hint,
        )
    return line, header
