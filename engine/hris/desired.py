"""From a read HRIS file and the customer's mapping to the desired state of every user.

The row rules (``rows.py``) decide each row: duplicates, filter, status, e-mail, language,
dates, group hierarchy and rules. What comes out is what the file *asks for*, independent
of what the LMS holds; ``planner.py`` then compares it to a snapshot.

At a million rows every per-row object and every Python step per row counts, so the rules
first run over whole columns (``bulk.py``, C-level passes); only the rows a column check
flags go through the rules one row at a time (``Rules.outcome``, the reference). Values
stay in columns and each ``DesiredUser`` is built when asked for (``users.py``).

This module must never look at the target, read a clock or do I/O, and it never decides a
manager: whether a ``managerId`` names a known user needs the snapshot (the planner does it).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import filterfalse, repeat
from operator import and_, is_

from engine.config.models import Hris
from engine.errors import FileLevelError
from engine.hris import bulk
from engine.hris import rows as rules
from engine.hris.gcpause import without_collector
from engine.hris.reader import HrisFile
from engine.hris.rows import LanguageTable, Problem, ValueMatcher
from engine.hris.table import RowTable
from engine.hris.users import DesiredColumns, DesiredUsers

#: Profile field of the configuration → LMS API field name.
API_FIELD: Mapping[str, str] = {
    "first_name": "firstName",
    "last_name": "lastName",
    "organization": "organization",
    "title": "job",
    "language": "lang",
}


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """What one row asks for. ``""`` in ``profile``/``custom`` clears the field.

    ``active`` False means "delete this user" and then only ``unique_id``/``line`` matter.
    ``manager`` is None when the file has no manager column (leave it), ``""`` to clear.
    """

    unique_id: str
    line: int
    active: bool
    email: str = ""
    profile: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()
    manager: str | None = None
    group_path: tuple[str, ...] = ()
    rule_groups: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"DesiredUser({self.unique_id!r}, line={self.line}, active={self.active})"


@dataclass(frozen=True, slots=True)
class CustomFieldTarget:
    """A custom field the file feeds: its configured title and type."""

    title: str
    type: str


@dataclass(frozen=True)
class DesiredState:
    """Everything the file asks for, with the columns it carries and the rows it ignored.

    ``present``: every ``uniqueId`` of the file. ``settled``: rows of the file left out of
    ``users`` because the columnar pass (``columnar.py``) proved, against the snapshot the
    plan uses, that they ask for exactly what the LMS holds; the planner counts them as
    unchanged (``settled_without_rule`` of them match no group rule) and ``line_of`` still
    finds their lines.
    """

    file_name: str
    users: Mapping[str, DesiredUser]
    present: Collection[str]
    profile_fields: tuple[str, ...]
    custom_fields: tuple[CustomFieldTarget, ...]
    has_manager: bool
    problems: tuple[Problem, ...]
    duplicated: int
    ignored: int
    filtered_out: int
    settled: int = 0
    settled_without_rule: int = 0
    settled_line: Callable[[str], int | None] | None = field(default=None, repr=False, compare=False)

    def line_of(self, unique_id: str) -> int | None:
        """The line of ``unique_id``'s row, or None when the file has no such row."""
        user = self.users.get(unique_id)
        if user is not None:
            return user.line
        return self.settled_line(unique_id) if self.settled_line is not None else None

    def __repr__(self) -> str:
        return f"DesiredState({self.file_name!r}, {len(self.users)} users, {len(self.problems)} problems)"


@without_collector
def build_desired(hris_file: HrisFile, config: Hris) -> DesiredState:
    """Apply the row rules to every row of ``hris_file``.

    Whole columns are checked at once (``bulk.py``); a row any column check flags (leaver,
    duplicate, bad cell...) is then decided alone by ``Rules.outcome``, the rules as
    written, so every row gets exactly the outcome the per-row rules give.
    """
    header = hris_file.header
    require_columns(hris_file, config)
    rules_ = Rules(header, config)
    table = RowTable.of(hris_file.rows, len(header))
    lines = hris_file.lines
    columns = table.columns
    count = len(table)

    distinct = table.distinct
    unique_ids = bulk.stripped(columns[rules_.uid_i], distinct[rules_.uid_i])
    alone: set[int] = set(table.irregular)  # rows the per-row rules decide
    if "" in unique_ids:
        alone.update(bulk.false_positions(unique_ids))
    present, duplicates = _keys(unique_ids, table.irregular, rules_.uid_i, lines, alone)
    # Leavers before the filter: their other cells are often blank, and a leaver must leave
    # even when the filter's column no longer names them (see ``Rules.outcome``).
    alone.update(_leavers(columns[rules_.status_i], distinct[rules_.status_i]))
    filtered = _filtered_out(rules_, columns, alone)
    emails, invalid_emails = bulk.normalized_emails(columns[rules_.email_i])
    alone.update(invalid_emails)
    profile = _profile(rules_, table, alone)
    custom = _custom(rules_, table, alone)
    combo, groups = _groups(rules_, columns, count, alone)
    manager_i = rules_.manager_i
    managers = None if manager_i is None else bulk.stripped(columns[manager_i], distinct[manager_i])

    decided: dict[int, DesiredUser] = {}
    problems: list[Problem] = _absent_mappings(hris_file, config)
    duplicated = ignored = filtered_out = 0
    for row in sorted(alone.difference(filtered)):
        outcome = rules_.outcome(table[row], lines[row], duplicates)
        if isinstance(outcome, DesiredUser):
            decided[row] = outcome
        elif outcome is None:  # pragma: no cover - filtered rows are counted in bulk
            filtered_out += 1
        else:
            problems.append(outcome)
            if outcome.code == rules.ProblemCode.DUPLICATED:
                duplicated += 1
            else:
                ignored += 1
    dropped = filtered.union(alone.difference(decided))
    order: Sequence[int] = list(filterfalse(dropped.__contains__, range(count))) if dropped else range(count)
    users = DesiredUsers(
        order,
        decided,
        dropped=dropped,
        columns=DesiredColumns(
            unique_ids=unique_ids,
            lines=lines,
            emails=emails,
            profile=profile,
            custom=custom,
            managers=managers,
            combo=combo,
            groups=groups,
        ),
    )
    return DesiredState(
        file_name=hris_file.file_name,
        users=users,
        present=present,
        profile_fields=rules_.profile_fields,
        custom_fields=tuple(CustomFieldTarget(title, kind) for _, title, kind in rules_.custom),
        has_manager=rules_.manager_i is not None,
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        duplicated=duplicated,
        ignored=ignored,
        filtered_out=filtered_out + len(filtered),
    )


class Rules:
    """What the configuration asks of this header, and the row rules applied to one row."""

    def __init__(self, header: tuple[str, ...], config: Hris) -> None:
        self.width = len(header)
        self.uid_i, self.status_i = header.index("uniqueId"), header.index("status")
        self.email_i = header.index("email")
        present_fields = [(col, f) for col, f in config.fields.items() if col in header and f != "manager"]
        self.present_fields = present_fields
        self.profile_fields = tuple(API_FIELD[f] for _, f in present_fields)
        self.profile_idx = tuple(header.index(col) for col, _ in present_fields)
        self.lang_pos = next((p for p, (_, f) in enumerate(present_fields) if f == "language"), None)
        self.languages = LanguageTable(config.languages)
        manager_col = next(
            (col for col, f in config.fields.items() if f == "manager" and col in header), None
        )
        self.manager_i = header.index(manager_col) if manager_col is not None else None
        self.custom = [
            (
                col,
                spec if isinstance(spec, str) else spec.title,
                "string" if isinstance(spec, str) else spec.type,
            )
            for col, spec in config.custom_fields.items()
            if col in header
        ]
        self.custom_idx = tuple(header.index(col) for col, _, _ in self.custom)
        self.date_checks = tuple(
            (pos, col) for pos, (col, _, kind) in enumerate(self.custom) if kind == "date"
        )
        self.level_idx = tuple(header.index(col) for col in config.groups.hierarchy)
        self.level_cols = tuple(config.groups.hierarchy)
        self.keep = ValueMatcher(header, config.filter) if config.filter else None
        self.rule_matchers = tuple(
            (ValueMatcher(header, rule.when), rule.group) for rule in config.groups.rules
        )
        self.rule_idx = tuple(sorted({i for m, _ in self.rule_matchers for i, _ in m.tests}))
        self.paths: dict[tuple[str, ...], tuple[tuple[str, ...], str | None]] = {}
        self.dates: dict[str, bool] = {}

    def valid_date(self, value: str) -> bool:
        # Hire dates repeat across thousands of rows: validate each distinct one once.
        known = self.dates.get(value)
        if known is None:
            known = self.dates[value] = rules.is_calendar_date(value)
        return known

    def path(self, row: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
        # A few hundred distinct level combinations cover a million rows: parse each once
        # and share the resulting tuple between users.
        raw_levels = tuple([row[i] for i in self.level_idx])
        known = self.paths.get(raw_levels)
        if known is None:
            known = self.paths[raw_levels] = _group_path(row, self.level_idx, self.level_cols)
        return known

    def rule_groups(self, row: Sequence[str]) -> tuple[str, ...]:
        if not self.rule_matchers:
            return ()
        return tuple(dict.fromkeys(g for m, g in self.rule_matchers if m.matches(row)))

    def outcome(
        self, row: list[str], line: int, duplicates: Mapping[str, list[int]]
    ) -> DesiredUser | Problem | None:
        """The row rules, in order, for one row: its user, the problem that sets it aside, or
        None when the filter leaves it out. ``present`` is the caller's to collect."""
        width, uid_i = self.width, self.uid_i
        if len(row) != width:
            uid_guess = row[uid_i].strip() if len(row) > uid_i else ""
            return rules.problem_wrong_field_count(line, uid_guess or None, len(row), width)
        uid = row[uid_i].strip()
        if not uid:
            return rules.problem_empty_unique_id(line)
        if uid in duplicates:
            return rules.problem_duplicated(line, uid, duplicates[uid])
        if row[self.status_i].strip().lower() != rules.ACTIVE:
            # Deleting needs only the key: an HRIS often blanks the other cells of leavers, the
            # filter's included, so the filter never holds back a leaver (only users this
            # connector manages are deleted: one it never synced stays as it is).
            return DesiredUser(uid, line, False)
        if self.keep is not None and not self.keep.matches(row):
            return None
        email = rules.normalize_email(row[self.email_i])
        if email is None:
            return rules.problem_invalid_email(line, uid, "email")
        profile = [row[i].strip() for i in self.profile_idx]
        lang_pos = self.lang_pos
        if lang_pos is not None and profile[lang_pos]:
            code = self.languages.code(profile[lang_pos])
            if code is None:
                return rules.problem_unknown_language(line, uid, self.present_fields[lang_pos][0])
            profile[lang_pos] = code
        values = tuple([row[i].strip() for i in self.custom_idx])
        bad_date = next(
            (col for pos, col in self.date_checks if values[pos] and not self.valid_date(values[pos])), None
        )
        if bad_date is not None:
            return rules.problem_invalid_date(line, uid, bad_date)
        path: tuple[str, ...] = ()
        if self.level_idx:
            path, bad_level = self.path(row)
            if bad_level is not None:
                return rules.problem_invalid_group_name(line, uid, bad_level)
        manager = row[self.manager_i].strip() if self.manager_i is not None else None
        return DesiredUser(
            uid, line, True, email, tuple(profile), values, manager, path, self.rule_groups(row)
        )


def _keys(
    unique_ids: list[str],
    irregular: Mapping[int, list[str]],
    uid_i: int,
    lines: Sequence[int],
    alone: set[int],
) -> tuple[frozenset[str], dict[str, list[int]]]:
    """Every ``uniqueId`` of the file (rows of a wrong width included), and the lines of each
    key listed more than once (only rows of the right width count); flags those rows."""
    keys = frozenset(unique_ids)
    listed = len(unique_ids) - unique_ids.count("")
    distinct = len(keys) - ("" in keys)
    guesses = {row[uid_i].strip() for row in irregular.values() if len(row) > uid_i}
    present = keys.union(guesses).difference(("",)) if guesses or "" in keys else keys
    duplicates: dict[str, list[int]] = {}
    if distinct == listed:
        return present, duplicates
    repeated = {uid for uid, n in Counter(unique_ids).items() if n > 1 and uid}
    rows_of: dict[str, list[int]] = {}
    for row in bulk.positions(map(repeated.__contains__, unique_ids)):
        if row not in irregular:
            rows_of.setdefault(unique_ids[row], []).append(row)
    for uid, rows in rows_of.items():
        first = lines[rows[0]]
        again = [lines[row] for row in rows[1:] if lines[row] != first]
        if again:
            duplicates[uid] = [first, *again]
            alone.update(rows)
    return present, duplicates


def _filtered_out(rules_: Rules, columns: list[list[str]], alone: set[int]) -> set[int]:
    """Rows the filter leaves out (among those no earlier rule sets aside)."""
    if rules_.keep is None:
        return set()
    passes: Iterator[bool] | None = None
    for index, values in rules_.keep.tests:
        matches = map(values.__contains__, map(str.strip, columns[index]))
        passes = matches if passes is None else map(and_, passes, matches)
    assert passes is not None  # a filter names at least one column
    return set(filterfalse(alone.__contains__, bulk.false_positions(passes)))


def _leavers(statuses: list[str], distinct: Collection[str] | None) -> list[int]:
    """Rows whose status is not Active: the per-row rules turn them into deletions."""
    if distinct is None:
        distinct = set(statuses)
    leaving = [status for status in distinct if not rules.is_active(status)]
    if not leaving:
        return []
    if len(leaving) * 4 < len(distinct) or len(distinct) < 8:
        return bulk.positions_of(statuses, leaving)
    active = bulk.Distinct(rules.is_active)
    return bulk.false_positions(map(active.__getitem__, statuses))


def _profile(rules_: Rules, table: RowTable, alone: set[int]) -> list[list[str]]:
    """Trimmed profile columns, languages as LMS codes; flags unknown languages."""
    profile = [bulk.stripped(table.columns[i], table.distinct[i]) for i in rules_.profile_idx]
    if rules_.lang_pos is not None:
        languages = rules_.languages
        code_of: bulk.Distinct[str, str | None] = bulk.Distinct(
            lambda cell: languages.code(cell) if cell else ""
        )
        cells = profile[rules_.lang_pos]
        known = table.distinct[rules_.profile_idx[rules_.lang_pos]]
        if known is not None and all(code_of[value.strip()] == value for value in known):
            return profile  # every cell is already an LMS code (or empty)
        codes = list(map(code_of.__getitem__, cells))
        if None in code_of.values():
            alone.update(bulk.positions(map(is_, codes, repeat(None))))
        profile[rules_.lang_pos] = codes  # type: ignore[assignment]  # None only on flagged rows
    return profile


def _custom(rules_: Rules, table: RowTable, alone: set[int]) -> list[list[str]]:
    """Trimmed custom-field columns; flags dates that are not real ``YYYY-MM-DD`` days."""
    custom = [bulk.stripped(table.columns[i], table.distinct[i]) for i in rules_.custom_idx]
    for pos, _ in rules_.date_checks:
        valid: bulk.Distinct[str, bool] = bulk.Distinct(lambda value: not value or rules_.valid_date(value))
        known = table.distinct[rules_.custom_idx[pos]]
        if known is not None and all(valid[value.strip()] for value in known):
            continue  # every distinct value is a real day (or empty)
        alone.update(bulk.false_positions(map(valid.__getitem__, custom[pos])))
    return custom


def _groups(
    rules_: Rules, columns: list[list[str]], count: int, alone: set[int]
) -> tuple[Sequence[int], list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Each row's (group path, rule groups), as an index into the few distinct combinations
    of the hierarchy and rule columns; flags level values that cannot name a group."""
    key_idx = sorted({*rules_.level_idx, *rules_.rule_idx})
    if not key_idx:
        return [0] * count, [((), ())]
    groups: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    bad: list[int] = []

    def combine(key: str | tuple[str, ...]) -> int:
        row = [""] * rules_.width
        for index, value in zip(key_idx, (key,) if isinstance(key, str) else key, strict=True):
            row[index] = value
        path, bad_level = rules_.path(row) if rules_.level_idx else ((), None)
        if bad_level is not None:
            bad.append(len(groups))
        groups.append((path, rules_.rule_groups(row)))
        return len(groups) - 1

    combos: bulk.Distinct[str | tuple[str, ...], int] = bulk.Distinct(combine)
    keys: Iterable[str | tuple[str, ...]] = (
        columns[key_idx[0]] if len(key_idx) == 1 else zip(*(columns[i] for i in key_idx), strict=True)
    )
    combo = list(map(combos.__getitem__, keys))
    if bad:
        alone.update(bulk.positions(map(set(bad).__contains__, combo)))
    return combo, groups


def require_columns(hris_file: HrisFile, config: Hris) -> None:
    """Filter, hierarchy and rule columns must exist: without them every row would fail to
    match and users would silently leave their groups (or the whole file be filtered out)."""
    needed = [("hris.filter", col) for col in config.filter]
    needed += [("hris.groups.hierarchy", col) for col in config.groups.hierarchy]
    for i, rule in enumerate(config.groups.rules):
        needed += [(f"hris.groups.rules[{i}].when", col) for col in rule.when]
    for where, column in needed:
        if column not in hris_file.header:
            raise FileLevelError(
                f"column '{column}' used by {where} is not in the header",
                file=hris_file.file_name,
                line=hris_file.header_at,
                hint=f"add '{column}' to the export, or change {where} in the customer file",
            )


def _absent_mappings(hris_file: HrisFile, config: Hris) -> list[Problem]:
    """Notes for mapped columns the header lacks (the rule leaves their fields untouched)."""
    header = hris_file.header
    line = hris_file.header_at
    mapped = [(column, "hris.fields") for column in config.fields]
    mapped += [(column, "hris.custom_fields") for column in config.custom_fields]
    notes: list[Problem] = []
    for column, where in mapped:
        if column in header:
            continue
        same_letters = [name for name in header if name.casefold() == column.casefold()]
        close = same_letters or difflib.get_close_matches(column, header, n=1, cutoff=0.8)
        notes.append(rules.problem_mapped_column_absent(line, column, where, close[0] if close else None))
    return notes


def _group_path(
    row: Sequence[str], level_idx: tuple[int, ...], level_cols: tuple[str, ...]
) -> tuple[tuple[str, ...], str | None]:
    """Hierarchy values down to the first empty level (the user stops at the last non-empty
    one); the name of a column whose value cannot be a group name, if any."""
    path: list[str] = []
    for index, column in zip(level_idx, level_cols, strict=True):
        value = row[index].strip()
        if not value:
            break
        if rules.PATH_SEPARATOR.strip() in value:
            return (), column
        path.append(value)
    return tuple(path), None
