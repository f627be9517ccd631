"""From a read HRIS file and the customer's mapping to the desired state of every user.

One pass over the rows applies the row rules (``rows.py``): duplicates, filter, status,
e-mail, language, dates, group hierarchy and rules. What comes out is what the file *asks
for*, independent of what the LMS holds; ``planner.py`` then compares it to a snapshot.

Values of a user are kept as tuples aligned with the state's column lists rather than as a
dict or model per row, because at a million rows every per-row object counts.

This module must never look at the target, read a clock or do I/O, and it never decides a
manager: whether a ``managerId`` names a known user needs the snapshot (the planner does it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.config.models import Hris
from engine.errors import FileLevelError
from engine.hris import rows as rules
from engine.hris.gcpause import without_collector
from engine.hris.reader import HrisFile
from engine.hris.rows import LanguageTable, Problem, ValueMatcher

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
    """Everything the file asks for, with the columns it carries and the rows it ignored."""

    file_name: str
    users: Mapping[str, DesiredUser]
    present: frozenset[str]
    profile_fields: tuple[str, ...]
    custom_fields: tuple[CustomFieldTarget, ...]
    has_manager: bool
    problems: tuple[Problem, ...]
    duplicated: int
    ignored: int
    filtered_out: int

    def __repr__(self) -> str:
        return f"DesiredState({self.file_name!r}, {len(self.users)} users, {len(self.problems)} problems)"


@without_collector
def build_desired(hris_file: HrisFile, config: Hris) -> DesiredState:
    """Apply the row rules to every row of ``hris_file`` in one pass."""
    header = hris_file.header
    _require_columns(hris_file, config)
    width = len(header)
    uid_i, status_i, email_i = header.index("uniqueId"), header.index("status"), header.index("email")
    present_fields = [(col, f) for col, f in config.fields.items() if col in header and f != "manager"]
    profile_fields = tuple(API_FIELD[f] for _, f in present_fields)
    profile_idx = tuple(header.index(col) for col, _ in present_fields)
    lang_pos = next((p for p, (_, f) in enumerate(present_fields) if f == "language"), None)
    languages = LanguageTable(config.languages)
    manager_col = next((col for col, f in config.fields.items() if f == "manager" and col in header), None)
    manager_i = header.index(manager_col) if manager_col is not None else None
    custom = [
        (col, spec if isinstance(spec, str) else spec.title, "string" if isinstance(spec, str) else spec.type)
        for col, spec in config.custom_fields.items()
        if col in header
    ]
    custom_idx = tuple(header.index(col) for col, _, _ in custom)
    date_checks = tuple((pos, col) for pos, (col, _, kind) in enumerate(custom) if kind == "date")
    level_idx = tuple(header.index(col) for col in config.groups.hierarchy)
    level_cols = tuple(config.groups.hierarchy)
    keep = ValueMatcher(header, config.filter) if config.filter else None
    rule_matchers = tuple((ValueMatcher(header, rule.when), rule.group) for rule in config.groups.rules)

    all_rows, all_lines = hris_file.rows, hris_file.lines
    duplicates = _duplicated_lines(hris_file, uid_i, width)
    users: dict[str, DesiredUser] = {}
    present: set[str] = set()
    problems: list[Problem] = []
    duplicated = ignored = filtered_out = 0
    normalize_email = rules.normalize_email
    paths: dict[tuple[str, ...], tuple[tuple[str, ...], str | None]] = {}
    dates: dict[str, bool] = {}

    def valid_date(value: str) -> bool:
        # Hire dates repeat across thousands of rows: validate each distinct one once.
        known = dates.get(value)
        if known is None:
            known = dates[value] = rules.is_calendar_date(value)
        return known

    for row, line in zip(all_rows, all_lines, strict=True):
        if len(row) != width:
            uid_guess = row[uid_i].strip() if len(row) > uid_i else ""
            problems.append(rules.problem_wrong_field_count(line, uid_guess or None, len(row), width))
            ignored += 1
            if uid_guess:
                present.add(uid_guess)
            continue
        uid = row[uid_i].strip()
        if not uid:
            problems.append(rules.problem_empty_unique_id(line))
            ignored += 1
            continue
        present.add(uid)
        if uid in duplicates:
            problems.append(rules.problem_duplicated(line, uid, duplicates[uid]))
            duplicated += 1
            continue
        if keep is not None and not keep.matches(row):
            filtered_out += 1
            continue
        if row[status_i].strip().lower() != rules.ACTIVE:
            # Deleting needs only the key: an HRIS often blanks the other cells of leavers.
            users[uid] = DesiredUser(uid, line, False)
            continue
        email = normalize_email(row[email_i])
        if email is None:
            problems.append(rules.problem_invalid_email(line, uid, "email"))
            ignored += 1
            continue
        profile = [row[i].strip() for i in profile_idx]
        if lang_pos is not None and profile[lang_pos]:
            code = languages.code(profile[lang_pos])
            if code is None:
                problems.append(rules.problem_unknown_language(line, uid, present_fields[lang_pos][0]))
                ignored += 1
                continue
            profile[lang_pos] = code
        values = tuple([row[i].strip() for i in custom_idx])
        bad_date = next(
            (col for pos, col in date_checks if values[pos] and not valid_date(values[pos])), None
        )
        if bad_date is not None:
            problems.append(rules.problem_invalid_date(line, uid, bad_date))
            ignored += 1
            continue
        path: tuple[str, ...] = ()
        if level_idx:
            # A few hundred distinct level combinations cover a million rows: parse each once
            # and share the resulting tuple between users.
            raw_levels = tuple([row[i] for i in level_idx])
            known = paths.get(raw_levels)
            if known is None:
                known = paths[raw_levels] = _group_path(row, level_idx, level_cols)
            path, bad_level = known
            if bad_level is not None:
                problems.append(rules.problem_invalid_group_name(line, uid, bad_level))
                ignored += 1
                continue
        rule_groups: tuple[str, ...] = ()
        if rule_matchers:
            rule_groups = tuple(dict.fromkeys(g for m, g in rule_matchers if m.matches(row)))
        manager = row[manager_i].strip() if manager_i is not None else None
        users[uid] = DesiredUser(uid, line, True, email, tuple(profile), values, manager, path, rule_groups)
    return DesiredState(
        file_name=hris_file.file_name,
        users=users,
        present=frozenset(present),
        profile_fields=profile_fields,
        custom_fields=tuple(CustomFieldTarget(title, kind) for _, title, kind in custom),
        has_manager=manager_i is not None,
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        duplicated=duplicated,
        ignored=ignored,
        filtered_out=filtered_out,
    )


def _require_columns(hris_file: HrisFile, config: Hris) -> None:
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
                line=hris_file.lines[0] - 1 if hris_file.lines else 1,
                hint=f"add '{column}' to the export, or change {where} in the customer file",
            )


def _duplicated_lines(hris_file: HrisFile, uid_i: int, width: int) -> dict[str, list[int]]:
    """uniqueId → every line it is on, for keys listed more than once."""
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for row, line in zip(hris_file.rows, hris_file.lines, strict=True):
        if len(row) != width:
            continue
        uid = row[uid_i].strip()
        if not uid:
            continue
        seen = first.setdefault(uid, line)
        if seen != line:
            repeated.setdefault(uid, [seen]).append(line)
    return repeated


def _group_path(
    row: list[str], level_idx: tuple[int, ...], level_cols: tuple[str, ...]
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
