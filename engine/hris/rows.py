"""Row rules of the HRIS file: how one cell becomes a value, and what makes a row invalid.

Each rule here is small and pure so that ``desired.py`` can apply it to a million rows in a
single pass. A rule that fails returns a ``Problem`` with a reason code; the row is then
ignored and the rest of the file proceeds (the reference's "invalid row" behaviour).

Problem messages must never contain an e-mail, a name or any other cell value: they say
which column is wrong and how to fix it, and carry only the line and the ``uniqueId``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from engine.config.models import EMAIL_PATTERN, LMS_LANGUAGES


class ProblemCode:
    """Reason codes of ignored rows and partial syncs (stable: CI and tools key on them)."""

    DUPLICATED = "duplicated"
    EMPTY_UNIQUE_ID = "empty_unique_id"
    WRONG_FIELD_COUNT = "wrong_field_count"
    INVALID_EMAIL = "invalid_email"
    UNKNOWN_LANGUAGE = "unknown_language"
    INVALID_DATE = "invalid_date"
    INVALID_GROUP_NAME = "invalid_group_name"
    UNKNOWN_MANAGER = "unknown_manager"
    EMAIL_IN_USE = "email_in_use"
    DUPLICATED_EMAIL = "duplicated_email"
    MAPPED_COLUMN_ABSENT = "mapped_column_absent"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one row: where, whose, what, and how to fix it.

    ``synced`` is True when the row was still synced and the problem is only a note on it
    (a manager left as is, an e-mail left as is); False when the row was set aside. The run
    log tells the two apart by this flag: one code (``email_in_use``) can mean either.
    """

    line: int
    unique_id: str | None
    code: str
    message: str
    synced: bool = False


#: ``Active`` after trimming, in any case; every other status value means "delete".
ACTIVE = "active"

_EMAIL = re.compile(EMAIL_PATTERN)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_EMAIL = 254

#: Separator of group paths in plans ("Acme › France › Paris"); a group name cannot hold it.
PATH_SEPARATOR = " › "


def is_active(status: str) -> bool:
    """``Active`` (trimmed, any case) → create or update; anything else → delete."""
    return status.strip().lower() == ACTIVE


def normalize_email(raw: str) -> str | None:
    """Trimmed, lower-cased e-mail, or None when it is not an address."""
    email = raw.strip().lower()
    if len(email) > _MAX_EMAIL or _EMAIL.fullmatch(email) is None:
        return None
    return email


def is_calendar_date(value: str) -> bool:
    """``YYYY-MM-DD`` naming a real day (2023-02-29 is not)."""
    if _DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class LanguageTable:
    """Resolves a language cell: an LMS code (any case) or a configured name (any case)."""

    __slots__ = ("_by_key",)

    def __init__(self, names: Mapping[str, str]) -> None:
        by_key = {code.casefold(): code for code in LMS_LANGUAGES}
        # Configured names win over codes: an SA mapping "no" to something else means it.
        by_key.update({name.strip().casefold(): code for name, code in names.items()})
        self._by_key = by_key

    def code(self, cell: str) -> str | None:
        """The LMS code for a non-empty cell, or None when it is unknown."""
        return self._by_key.get(cell.casefold())


class ValueMatcher:
    """AND across columns, OR across values: the shape of ``filter`` and of group rules.

    Matching is exact after trimming both sides, and case-sensitive ("Paris" ≠ "paris"),
    because HRIS values are codes an SA copies from the export.
    """

    __slots__ = ("tests",)

    def __init__(self, header: Sequence[str], wanted: Mapping[str, Sequence[str]]) -> None:
        #: (column index, accepted values) pairs, ANDed.
        self.tests = tuple(
            (header.index(column), frozenset(value.strip() for value in values))
            for column, values in wanted.items()
        )

    def matches(self, row: Sequence[str]) -> bool:
        return all(row[index].strip() in values for index, values in self.tests)


def problem_wrong_field_count(line: int, unique_id: str | None, found: int, expected: int) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.WRONG_FIELD_COUNT,
        f"row has {found} field(s) but the header has {expected}; "
        "a value probably contains an unquoted delimiter: quote it",
    )


def problem_mapped_column_absent(line: int, column: str, where: str, close: str | None) -> Problem:
    """A note on the file, not on a row (every row is still synced): a typo in a mapping
    would otherwise silently stop feeding a field, since an absent column leaves it as is."""
    guess = f" Did you mean '{close}'?" if close else ""
    return Problem(
        line,
        None,
        ProblemCode.MAPPED_COLUMN_ABSENT,
        f"column '{column}' mapped in {where} is not in the header, so that field is left as it "
        f"is in the LMS for every user.{guess} Fix the column name in the customer file, or "
        "ignore this note if the export leaves the column out on purpose",
        synced=True,
    )


def problem_empty_unique_id(line: int) -> Problem:
    return Problem(
        line, None, ProblemCode.EMPTY_UNIQUE_ID, "uniqueId is empty; every row needs its HRIS identifier"
    )


def problem_duplicated(line: int, unique_id: str, lines: Sequence[int]) -> Problem:
    listed = ", ".join(str(n) for n in lines)
    return Problem(
        line,
        unique_id,
        ProblemCode.DUPLICATED,
        f"uniqueId is listed on lines {listed}; all of them are skipped until it appears once",
    )


def problem_invalid_email(line: int, unique_id: str, column: str) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.INVALID_EMAIL,
        f"'{column}' is empty or not an e-mail address (expected name@domain.tld)",
    )


def problem_unknown_language(line: int, unique_id: str, column: str) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.UNKNOWN_LANGUAGE,
        f"'{column}' is neither an ISO 639-1 code the LMS knows nor a name listed in hris.languages; "
        "add the name to hris.languages or fix the export",
    )


def problem_invalid_date(line: int, unique_id: str, column: str) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.INVALID_DATE,
        f"'{column}' is not a date written YYYY-MM-DD (a real calendar day)",
    )


def problem_invalid_group_name(line: int, unique_id: str, column: str) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.INVALID_GROUP_NAME,
        f"'{column}' holds '{PATH_SEPARATOR.strip()}', which separates group levels; remove it",
    )


def problem_unknown_manager(line: int, unique_id: str, reason: str) -> Problem:
    return Problem(
        line,
        unique_id,
        ProblemCode.UNKNOWN_MANAGER,
        f"managerId {reason}; the manager is left unchanged and the rest of the row is synced",
        synced=True,
    )


def problem_email_in_use(line: int, unique_id: str, what: str, *, synced: bool = False) -> Problem:
    return Problem(line, unique_id, ProblemCode.EMAIL_IN_USE, what, synced)


def problem_duplicated_email(line: int, unique_id: str, lines: Sequence[int]) -> Problem:
    listed = ", ".join(str(n) for n in lines)
    return Problem(
        line,
        unique_id,
        ProblemCode.DUPLICATED_EMAIL,
        f"e-mail shared by lines {listed}: all of them are skipped until each row has its own",
    )
