"""The rows of an HRIS file stored column by column, and the parsers that fill them fast.

A million rows kept as a million lists cost more memory than the snapshot they are compared
with, and every later rule reads one column at a time; so rows are kept as one list per
column (``RowTable``) that still reads as a ``Sequence[list[str]]``. Columns let the row
rules and the planner run as C-level passes (``map``, ``zip``, sets) instead of a Python
loop per row: that is what makes a million rows plan in seconds.

Parsing gives exactly what ``csv.reader(io.StringIO(text, newline=""), delimiter=d,
strict=True)`` gives, with the same line numbers: a file without any quote character, or
with every field quoted around plain values, is cut with ``str.split`` (same result,
several times faster); anything else goes through ``csv.reader`` in batches. When in
doubt (a csv error, an unexpected line count) the caller falls back to ``rows_one_by_one``,
the plain loop, whose result is the reference.

This module must never interpret a value, and never return something ``csv.reader`` would not.
"""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import chain, islice, pairwise, repeat
from operator import index as as_index
from operator import itemgetter
from typing import overload

#: Characters per chunk of the split path: never more than csv's field size limit, so no
#: field can exceed it there, and that error stays csv's to raise.
_CHUNK = 1 << 17
_BATCH = 4096
#: A column whose first rows repeat this much is interned: one string object per distinct
#: "Active", "France" or hire date instead of one per cell (hundreds of MiB at 1M rows).
_REPEATED = 0.5
_SAMPLE = 256
_EOL = re.compile(r"\r\n?|\n")


class RowTable(Sequence[list[str]]):
    """Rows of the header's width stored as columns; rows of another width kept whole.

    ``columns[j][i]`` is cell ``j`` of row ``i``. A row whose field count differs from the
    header's is kept in ``irregular`` (its cells in ``columns`` are ``""``). Indexing or
    iterating builds fresh lists, as csv would have yielded them.
    """

    __slots__ = ("_length", "columns", "distinct", "irregular")

    def __init__(
        self,
        columns: list[list[str]],
        irregular: dict[int, list[str]],
        length: int,
        distinct: Sequence[Collection[str] | None] = (),
    ) -> None:
        self.columns = columns
        self.irregular = irregular
        self._length = length
        #: Per column, every value it holds when known (interned columns), else None.
        self.distinct: Sequence[Collection[str] | None] = distinct or [None] * len(columns)

    @classmethod
    def of(cls, rows: Sequence[list[str]], width: int) -> RowTable:
        """``rows`` as a table of ``width`` columns (for an ``HrisFile`` built by hand)."""
        if isinstance(rows, RowTable) and len(rows.columns) == width:
            return rows
        builder = TableBuilder(width)
        builder.add(list(rows), range(1, len(rows) + 1), keep_blank=True)
        return builder.table()

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[str]]: ...

    def __getitem__(self, index: int | slice) -> list[str] | list[list[str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        i = as_index(index)
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError("row index out of range")
        row = self.irregular.get(i)
        if row is not None:
            return list(row)
        return [column[i] for column in self.columns]

    def __iter__(self) -> Iterator[list[str]]:
        if not self.irregular and self.columns:
            return map(list, zip(*self.columns, strict=True))
        return map(self.__getitem__, range(self._length))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(map(list.__eq__, self, map(list, other)))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RowTable({len(self.columns)} columns, {self._length} rows)"


class TableBuilder:
    """Appends csv rows (with the line each starts on) to columns."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.columns: list[list[str]] = [[] for _ in range(width)]
        self.irregular: dict[int, list[str]] = {}
        self.count = 0
        self._interners: list[dict[str, str] | None] | None = None
        # Lines stay a range while rows sit on consecutive lines (the common case).
        self._first_line = 0
        self._run = 0
        self._lines: array[int] | None = None

    def add(self, rows: list[list[str]], lines: Sequence[int], *, keep_blank: bool = False) -> None:
        """Rows as csv yields them and their lines; ``[]`` (a blank line) is dropped unless
        ``keep_blank`` (then it is a row of the wrong width, like any other)."""
        width = self.width
        if not rows:
            return
        if not width or min(map(len, rows)) != width or max(map(len, rows)) != width:
            kept: list[Sequence[str]] = []
            kept_lines: list[int] = []
            blank = ("",) * width
            for row, line in zip(rows, lines, strict=True):
                if not row and not keep_blank:
                    continue
                if len(row) != width:
                    self.irregular[self.count + len(kept)] = row
                    kept.append(blank)
                else:
                    kept.append(row)
                kept_lines.append(line)
            if not kept:
                return
            rows, lines = kept, kept_lines  # type: ignore[assignment]
        self._extend(list(zip(*rows, strict=True)) if width else [], len(rows))
        self._add_lines(lines)

    def add_columns(self, columns: Sequence[Sequence[str]], first_line: int) -> None:
        """Rows already cut into columns, on consecutive lines from ``first_line``."""
        count = len(columns[0])
        self._extend(columns, count)
        self._add_lines(range(first_line, first_line + count))

    def _extend(self, columns: Sequence[Sequence[str]], count: int) -> None:
        interners = self._interners
        if interners is None:
            for target, values in zip(self.columns, columns, strict=True):
                target.extend(values)
            self.count += count
            if self.count >= _SAMPLE:
                self._start_interning()
            return
        for target, values, interner in zip(self.columns, columns, interners, strict=True):
            if interner is None:
                target.extend(values)
            else:
                target.extend(map(interner.setdefault, values, values))
        self.count += count

    def _start_interning(self) -> None:
        interners: list[dict[str, str] | None] = []
        for j, column in enumerate(self.columns):
            if len(set(column)) > _REPEATED * len(column):
                interners.append(None)
                continue
            interner: dict[str, str] = {}
            self.columns[j] = list(map(interner.setdefault, column, column))
            interners.append(interner)
        self._interners = interners

    def _add_lines(self, lines: Sequence[int]) -> None:
        if self._lines is None:
            if not self._run:
                self._first_line = lines[0]
            # Lines of one batch only increase: first and last tell whether they are consecutive.
            if lines[0] == self._first_line + self._run and lines[-1] - lines[0] == len(lines) - 1:
                self._run += len(lines)
                return
            self._lines = array("L", range(self._first_line, self._first_line + self._run))
        self._lines.extend(lines)

    def lines(self) -> Sequence[int]:
        if self._lines is None:
            return range(self._first_line, self._first_line + self._run)
        return self._lines

    def table(self) -> RowTable:
        distinct = [None if interner is None else interner.keys() for interner in self._interners or ()]
        return RowTable(self.columns, self.irregular, self.count, distinct)


class LineFeed:
    """Lines of ``text`` from ``offset``, cut as ``io.StringIO(newline="")`` cuts them, and
    where the last one handed out ends: after the header, that is where the rows begin."""

    def __init__(self, text: str, offset: int = 0) -> None:
        self.text = text
        self.offset = offset

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        start, text = self.offset, self.text
        if start >= len(text):
            raise StopIteration
        found = _EOL.search(text, start)
        self.offset = found.end() if found else len(text)
        return text[start : self.offset]


class LineCountMismatchError(Exception):
    """The batched csv path did not count lines as csv did: use ``rows_one_by_one``."""


def parse_rows(
    text: str, start: int, first_line: int, delimiter: str, width: int
) -> tuple[RowTable, Sequence[int]]:
    """The rows of ``text[start:]`` (the first physical line there is ``first_line``) and
    the line each row starts on; blank lines dropped. Raises ``csv.Error`` as csv would, or
    ``LineCountMismatchError``."""
    builder = TableBuilder(width)
    crlf = text.find("\r", start) >= 0
    if delimiter != '"' and (not crlf or text.count("\r", start) == text.count("\r\n", start)):
        quoted = text.find('"', start) >= 0
        start, first_line = _split_rows(text, start, first_line, delimiter, builder, crlf=crlf, quoted=quoted)
    if start < len(text):
        _csv_rows(text, start, first_line, delimiter, builder)
    return builder.table(), builder.lines()


def rows_one_by_one(
    text: str, start: int, first_line: int, delimiter: str
) -> tuple[list[list[str]], list[int]]:
    """The reference: csv.reader row by row, each row's start line from ``line_num``.

    Raises ``csv.Error`` with ``.line`` set to the line of the row that failed."""
    reader = csv.reader(_stringio_lines(text, start), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    previous = 0
    try:
        for row in reader:
            begins = previous + 1
            previous = reader.line_num
            if row:
                rows.append(row)
                lines.append(first_line - 1 + begins)
    except csv.Error as exc:
        exc.line = first_line + previous  # type: ignore[attr-defined]
        raise
    return rows, lines


def _stringio_lines(text: str, start: int) -> Iterator[str]:
    """``io.StringIO(text[start:], newline="")`` lines, a chunk at a time: one StringIO of a
    whole million-row file holds it as 4-byte characters (hundreds of MiB)."""
    bounds: list[int] = [start]
    while bounds[-1] < len(text):
        cut = text.find("\n", bounds[-1] + _CHUNK * 8)
        bounds.append(len(text) if cut < 0 else cut + 1)
    chunks: Iterable[str] = (text[a:b] for a, b in pairwise(bounds))
    return chain.from_iterable(io.StringIO(chunk, newline="") for chunk in chunks)


def _split_rows(
    text: str, start: int, line: int, delimiter: str, builder: TableBuilder, *, crlf: bool, quoted: bool
) -> tuple[int, int]:
    """Rows cut with ``str.split``, chunk by chunk, as long as that is csv's result: where it
    stops (offset and line of the next record), csv takes over.

    No lone CR anywhere: every physical line is one record whose fields are
    ``line.split(delimiter)`` when the text holds no quote; or, with quotes, when a chunk is
    exactly lines of ``"field","field"`` whose fields hold no quote, delimiter or newline
    (checked by rebuilding the chunk from its unquoted text).
    """
    limit = csv.field_size_limit()
    size = max(1, min(_CHUNK, limit))
    position, end = start, len(text)
    while position < end:
        if end - position <= size:
            stop = end
        else:
            cut = text.rfind("\n", position, position + size)
            if cut < 0:  # one line longer than a chunk: csv decides (and may raise)
                cut = text.find("\n", position + size)
            stop = end if cut < 0 else cut + 1
        chunk = text[position:stop]
        lines = chunk.replace("\r\n", "\n") if crlf else chunk
        body = lines[:-1] if lines.endswith("\n") else lines
        plain = _unquoted(body, delimiter) if quoted else body
        if plain is not None and _split_chunk(plain, line, delimiter, builder, limit=limit):
            line += body.count("\n") + 1
        else:
            # csv reads this chunk alone when its records end with it (no quoted field
            # runs past it); otherwise csv reads the rest of the file from here.
            try:
                rows, starts, consumed = _csv_chunk(chunk, line, delimiter)
            except (csv.Error, LineCountMismatchError):
                return position, line
            builder.add(rows, starts)
            line += consumed
        position = stop
    return position, line


def _unquoted(body: str, delimiter: str) -> str | None:
    """``body`` without its quotes if it is exactly lines of quoted fields holding no
    quote, delimiter or newline (csv then reads the unquoted text alike), else None."""
    if not (body.startswith('"') and body.endswith('"')):
        return None
    plain = body.replace('"', "")
    rebuilt = '"' + plain.replace(delimiter, f'"{delimiter}"').replace("\n", '"\n"') + '"'
    return plain if rebuilt == body else None


def _split_chunk(body: str, line: int, delimiter: str, builder: TableBuilder, *, limit: int) -> bool:
    """Rows of one chunk whose every line is a record (``body``: those lines, unquoted,
    without the final newline) cut with ``str.split``; False when csv must read it (a
    blank line, a row of another width, a chunk over the field size limit)."""
    width = builder.width
    breaks = body.count("\n")
    if len(body) >= limit or width < 2:
        return False
    parts = body.split(delimiter)
    # Each line holds width-1 delimiters; the last cell of a line and the first of the
    # next come out joined by its newline.
    if len(parts) != (width - 1) * (breaks + 1) + 1:
        return False
    joined = parts[width - 1 :: width - 1]
    last = joined.pop()
    halves = list(map(str.partition, joined, repeat("\n")))
    if "" in map(itemgetter(1), halves):
        return False
    columns = [
        [parts[0], *map(itemgetter(2), halves)],
        *(parts[j :: width - 1] for j in range(1, width - 1)),
        [*map(itemgetter(0), halves), last],
    ]
    builder.add_columns(columns, line)
    return True


def _csv_chunk(chunk: str, line: int, delimiter: str) -> tuple[list[list[str]], Sequence[int], int]:
    """csv's rows of one chunk read alone, their lines, and the physical lines read.
    Raises ``csv.Error`` when a quoted field runs past the chunk (strict mode)."""
    reader = csv.reader(io.StringIO(chunk, newline=""), delimiter=delimiter, strict=True)
    rows = list(reader)
    consumed = reader.line_num
    if consumed == len(rows):
        return rows, range(line, line + consumed), consumed
    return rows, _record_lines(rows, line, line + consumed), consumed


def _csv_rows(text: str, start: int, first_line: int, delimiter: str, builder: TableBuilder) -> None:
    reader = csv.reader(_stringio_lines(text, start), delimiter=delimiter, strict=True)
    consumed = 0  # physical lines read so far (csv's line_num)
    while batch := list(islice(reader, _BATCH)):
        now = reader.line_num
        if now - consumed == len(batch):
            lines: Sequence[int] = range(first_line + consumed, first_line + now)
        else:
            lines = _record_lines(batch, first_line + consumed, first_line + now)
        builder.add(batch, lines)
        consumed = now


def _record_lines(batch: list[list[str]], first: int, after: int) -> list[int]:
    """The line each record starts on when some span several lines: a quoted field holds the
    line breaks it spans verbatim (CRLF, CR or LF, each one break, as StringIO cuts them)."""
    lines: list[int] = []
    line = first
    for row in batch:
        lines.append(line)
        line += 1
        if row:
            cells = "\0".join(row)
            if "\n" in cells or "\r" in cells:
                line += cells.count("\n") + cells.count("\r") - cells.count("\r\n")
    if line != after:
        raise LineCountMismatchError(f"counted up to line {line}, csv read up to {after - 1}")
    return lines
