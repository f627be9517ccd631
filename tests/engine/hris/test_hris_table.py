"""The column store and the fast parsers give exactly what csv.reader gives, line numbers included.

``rows_one_by_one`` is the plain csv loop the reader always used; ``parse_rows`` (split fast
path for quote-free text, batched csv otherwise) must agree with it on every input, which
these tests check on seeded random texts built from the characters that matter.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence

import pytest

from engine.hris import table as table_module
from engine.hris.table import RowTable, TableBuilder, parse_rows, rows_one_by_one

HEADER = "a,b,c\n"


def _cell(rng: random.Random, special: bool) -> str:
    pieces = ["x", "yz", " ", "é", "\t", "Ω", ";", "\x00", "1"]
    if special:
        pieces += [",", '"', "\n", "\r\n", "\r"]
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(4)))


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def _text(rng: random.Random, style: str, rows: int) -> str:
    """``plain``: no quote at all; ``mixed``: quotes where csv.writer would put them and
    at random; ``all``: every field quoted, a few lines breaking the pattern."""
    lines: list[str] = []
    for _ in range(rows):
        shape = rng.random()
        if shape < 0.03:
            lines.append(rng.choice(["", '""']))  # a blank line, a line of one empty field
            continue
        width = 3 if shape < 0.9 else rng.choice([1, 2, 4])
        odd = style != "plain" and rng.random() < (0.02 if style == "all" else 0.3)
        cells = [_cell(rng, odd) for _ in range(width)]
        if style == "all":
            lines.append(",".join(c if odd and rng.random() < 0.3 else _quote(c) for c in cells))
        elif style == "mixed":
            lines.append(
                ",".join(_quote(c) if rng.random() < 0.5 or set(c) & set(',"\r\n') else c for c in cells)
            )
        else:
            lines.append(",".join(cells))
    ending = rng.choice(["\n", "\r\n"])
    return HEADER + ending.join(lines) + rng.choice(["", ending])


def _outcome(parse: Callable[[], tuple[Sequence[list[str]], Sequence[int]]]) -> object:
    try:
        rows, lines = parse()
    except csv.Error as exc:
        return ("csv.Error", getattr(exc, "line", None))
    return list(rows), list(lines)


def _both(text: str, delimiter: str = ",") -> tuple[object, object]:
    """(fast, reference) outcomes: rows and lines, or the error and its line. As in
    ``read_rows``, any csv error of the fast path is located by the reference loop."""
    start = text.index("\n") + 1

    def fast() -> tuple[Sequence[list[str]], Sequence[int]]:
        try:
            return parse_rows(text, start, 2, delimiter, 3)
        except csv.Error:
            return rows_one_by_one(text, start, 2, delimiter)

    return _outcome(fast), _outcome(lambda: rows_one_by_one(text, start, 2, delimiter))


@pytest.mark.parametrize("chunk", [64, table_module._CHUNK], ids=["tiny-chunks", "real-chunks"])
@pytest.mark.parametrize("style", ["plain", "all", "mixed"])
@pytest.mark.parametrize("seed", range(20))
def test_parse_rows_equals_the_plain_csv_loop(
    seed: int, style: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_module, "_CHUNK", chunk)  # chunk and batch edges everywhere
    monkeypatch.setattr(table_module, "_BATCH", 7)
    rng = random.Random(seed)
    text = _text(rng, style, rng.choice([5, 300, 3000]))
    got, expected = _both(text)
    assert got == expected


def test_split_path_handles_crlf_tabs_and_long_files() -> None:
    body = "".join(f"{i}\tActive\tu{i}@x.org\r\n" for i in range(20_000))
    text = "a\tb\tc\r\n" + body
    table, lines = parse_rows(text, len("a\tb\tc\r\n"), 2, "\t", 3)
    assert len(table) == 20_000 and table[-1] == ["19999", "Active", "u19999@x.org"]
    assert lines == range(2, 20_002)


def test_a_field_over_csvs_size_limit_is_still_csvs_error() -> None:
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(50)
        text = HEADER + "1,2,3\n" + "x" * 60 + ",2,3\n"
        with pytest.raises(csv.Error):
            parse_rows(text, len(HEADER), 2, ",", 3)
        with pytest.raises(csv.Error) as caught:
            rows_one_by_one(text, len(HEADER), 2, ",")
        assert getattr(caught.value, "line", None) == 3  # set by rows_one_by_one; read as the reader does
    finally:
        csv.field_size_limit(limit)


def test_an_unclosed_quote_raises_with_the_line_of_its_row() -> None:
    text = HEADER + '1,2,3\n4,"5,6\n7,8,9\n'
    with pytest.raises(csv.Error):
        parse_rows(text, len(HEADER), 2, ",", 3)
    with pytest.raises(csv.Error) as caught:
        rows_one_by_one(text, len(HEADER), 2, ",")
    assert getattr(caught.value, "line", None) == 3  # set by rows_one_by_one; read as the reader does


def test_row_table_reads_like_a_list_of_rows() -> None:
    rows = [["1", "a", "x"], ["2", "b"], ["3", "c", "z"], []]
    table = RowTable.of(rows, 3)
    assert len(table) == 4 and list(table) == rows and table == rows
    assert table[1] == ["2", "b"] and table[-1] == [] and table[0:2] == rows[0:2]
    assert table.columns[0] == ["1", "", "3", ""]  # rows of another width are kept aside
    table[0].append("mutated")
    assert table[0] == ["1", "a", "x"]  # a row is a fresh list each time
    with pytest.raises(IndexError):
        table[4]


def test_repeated_values_share_one_string_and_unique_ones_are_left_alone() -> None:
    builder = TableBuilder(2)
    rows = [[f"id{i}", "Act" + "ive"] for i in range(1000)]
    builder.add(rows, range(1, 1001))
    table = builder.table()
    statuses, ids = table.columns[1], table.columns[0]
    assert len({id(s) for s in statuses}) == 1 and statuses[0] == "Active"
    assert table.distinct[1] is not None and set(table.distinct[1]) == {"Active"}
    assert table.distinct[0] is None and len(set(ids)) == 1000
    assert list(table) == rows


def test_lines_stay_a_range_until_rows_skip_one() -> None:
    builder = TableBuilder(1)
    builder.add([["a"], ["b"]], range(2, 4))
    assert builder.lines() == range(2, 4)
    builder.add([[], ["c"]], range(4, 6))  # a blank line on 4
    assert list(builder.lines()) == [2, 3, 5]
