"""Row rules applied to a whole column at once, with C-level passes instead of a loop per row.

``rows.py`` says what a cell means; this module gets the same answers for a million cells in
one go: trimmed columns, e-mails lower-cased and validated, and per-distinct-value answers
(a status, a language, a date is decided once per distinct value, then looked up). Each
function is exact: where a shortcut cannot decide, it asks ``rows.py`` cell by cell.

This module must never decide what a row becomes (``desired.py`` does): it only answers
"which cells are what" for a column.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable
from itertools import compress, count
from operator import not_
from typing import TypeVar

from engine.hris import rows as rules

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_EMAIL_SLICE = 1 << 16
_EMAIL_CELLS = 64
#: Whitespace ``str.strip``/``\s`` know in ASCII, but the newline that separates e-mails below.
_ASCII_SPACES = " \t\r\x0b\x0c\x1c\x1d\x1e\x1f"
_NOT_MARKS = bytes(b for b in range(128) if chr(b) not in "@.\n")
_ONE_AT_PER_LINE = b"@\n"
_MAX_EMAIL = 254


def stripped(column: list[str], distinct: Collection[str] | None = None) -> list[str]:
    """Every cell trimmed. ``distinct``: every value the column holds, when known: if none
    needs trimming the column is returned as it is, without a pass over it."""
    if distinct is not None and all(map(str.__eq__, distinct, map(str.strip, distinct))):
        return column
    trimmed = list(map(str.strip, column))
    # Nothing trimmed (the usual case): keep one list, not two equal ones. (list == list
    # compares by identity first, and strip returns the very string when it trims nothing.)
    return column if trimmed == column else trimmed


def positions_of(column: list[str], values: Collection[str]) -> list[int]:
    """Indexes of the cells equal to one of ``values`` (few values, and rare ones: each is
    found by ``list.index``, a C scan that compares interned cells by identity first)."""
    found: list[int] = []
    for value in values:
        at = -1
        try:
            while True:
                at = column.index(value, at + 1)
                found.append(at)
        except ValueError:
            pass
    found.sort()
    return found


def positions(flags: Iterable[object]) -> list[int]:
    """Indexes of the truthy flags."""
    return list(compress(count(), flags))


def false_positions(flags: Iterable[object]) -> list[int]:
    """Indexes of the falsy flags."""
    return list(compress(count(), map(not_, flags)))


class Distinct(dict[K, V]):
    """Answers per distinct value, computed on first sight: most HRIS columns hold a few
    hundred values over a million rows (``map(table.__getitem__, column)`` stays in C)."""

    def __init__(self, decide: Callable[[K], V]) -> None:
        super().__init__()
        self._decide = decide

    def __missing__(self, key: K) -> V:
        value = self[key] = self._decide(key)
        return value


def normalized_emails(cells: list[str]) -> tuple[list[str], list[int]]:
    """``rows.normalize_email`` of each cell: the e-mails (trimmed, lower-cased) and the
    indexes of the cells that are not addresses.

    Checked a slice at a time (the joined text of a million e-mails is tens of MiB), and
    within a slice that may hold an invalid one, by halves down to a few cells."""
    emails = stripped(cells)
    lowered_any = False
    invalid: list[int] = []
    for start in range(0, len(emails), _EMAIL_SLICE):
        batch = emails[start : start + _EMAIL_SLICE]
        joined = "\n".join(batch)
        lowered = joined.lower()
        if lowered != joined:
            if not lowered_any:
                emails, lowered_any = list(emails), True  # never the caller's column
            batch = emails[start : start + _EMAIL_SLICE] = list(map(str.lower, batch))
            lowered = "\n".join(batch)
        if not _all_valid(batch, lowered):
            invalid.extend(start + i for i in _invalid(batch))
    return emails, invalid


def _invalid(emails: list[str]) -> list[int]:
    """Indexes of the invalid e-mails, halving the list while a half may hold one."""
    if len(emails) <= _EMAIL_CELLS:
        return [i for i, email in enumerate(emails) if rules.normalize_email(email) is None]
    half = len(emails) // 2
    found: list[int] = []
    for offset, part in ((0, emails[:half]), (half, emails[half:])):
        if not _all_valid(part, "\n".join(part)):
            found.extend(offset + i for i in _invalid(part))
    return found


def _all_valid(emails: list[str], joined: str) -> bool:
    """Whether each of ``emails`` (``joined`` by newlines) matches ``EMAIL_PATTERN``
    (``[^@\\s]+@[^@\\s]+\\.[^@\\s]+``) within the length limit, decided on the joined text
    with a few C-level passes. False means "some may be invalid": the caller then checks
    one by one.

    In ASCII a line matches iff it holds no whitespace, exactly one "@" with something
    before it, and a dot strictly inside the domain (not its first nor its last character).
    """
    size = len(emails)
    if not size or not joined.isascii() or joined.count("\n") != size - 1:
        return False
    if any(space in joined for space in _ASCII_SPACES) or max(map(len, emails)) > _MAX_EMAIL:
        return False
    if joined.startswith("@") or "\n@" in joined:
        return False
    # Dots at the very start or end of a domain do not count: blank them, then keep only
    # "@", "." and newlines: every line must read ".*@" then at least one dot.
    inner = joined.replace("@.", "@x").replace(".\n", "x\n")
    if inner.endswith("."):
        inner = inner[:-1] + "x"
    marks = inner.encode("ascii").translate(None, _NOT_MARKS)
    if marks.translate(None, b".") != _ONE_AT_PER_LINE * (size - 1) + b"@":
        return False
    return b"@\n" not in marks and not marks.endswith(b"@")
