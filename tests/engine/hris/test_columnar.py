"""The columnar path plans exactly like the reference path, for every input.

``columnar.plan_input(columnar=True)`` settles in native columns the rows that ask for what
the LMS holds and hands every other row to the reference path (read_rows → build_desired
→ plan_sync). Its contract is equality: the same plan byte for byte, the same problems and
counts, the same line for every ``uniqueId``, the same addresses handed to the target, and
the same error for any file or snapshot the reference rejects. These tests check that
contract differentially: on seeded, rule-dense worlds (configs and drift drawn at random),
on each file-shape edge case the reader knows, and on the golden scenarios.

Equality reached by falling back to the reference proves nothing about the columnar code,
so wherever rows should be settled the tests also require ``settled > 0``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import polars
import pytest

from engine.config.models import Hris
from engine.errors import FileLevelError, LmsyncError, PlanError
from engine.hris import (
    CustomFieldDefinition,
    CustomValue,
    DeletionGuardTrippedError,
    DesiredState,
    DesiredUser,
    ExternalId,
    LmsGroup,
    LmsUser,
    Plan,
    Snapshot,
    columnar,
    plan_sync,
    plan_to_json,
    render_text,
)
from engine.hris.actions import ACTION_ORDER
from engine.hris.columnar import plan_input
from engine.hris.desired import Rules
from engine.hris.groups import GroupTree
from engine.hris.held import FrameUsers, all_distinct
from engine.hris.reader import read_rows
from engine.hris.rows import ProblemCode
from engine.hris.snapshot import PROFILE_ATTRIBUTES, UserStatus, fed_definition_ids
from engine.hris.table import RowTable

from .factories import ROOT, ROOT_ID, held_snapshot, hris_config
from .test_hris_golden import SCENARIOS

# --- the differential harness ---------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One path's outcome: its desired state, the addresses it handed the target, and the
    plan (with the guard's verdict when it tripped), or the error it raised."""

    desired: DesiredState | None
    emails: frozenset[str] | None
    plan: Plan | None
    guard: tuple[str, int, int, str | None] | None
    error: LmsyncError | None


def _run(data: bytes, config: Hris, snapshot: Snapshot, *, columnar: bool) -> _Run:
    asked: list[frozenset[str]] = []

    def snapshot_of(emails: Collection[str]) -> Snapshot:
        asked.append(frozenset(emails))
        return snapshot

    try:
        desired, planned_against = plan_input(
            data, file_name="hris-k.csv", config=config, snapshot_of=snapshot_of, columnar=columnar
        )
    except LmsyncError as exc:
        return _Run(None, None, None, None, exc)
    # The columnar path plans against the users its rows can reach (``held.narrowed``).
    assert planned_against is snapshot or columnar
    assert len(asked) == 1, "the target is read once per file"
    try:
        plan = plan_sync(desired, planned_against, config)
    except DeletionGuardTrippedError as exc:
        guard = (str(exc), exc.deletions, exc.allowed, exc.hint)
        return _Run(desired, asked[0], exc.plan, guard, None)
    except LmsyncError as exc:
        return _Run(desired, asked[0], None, None, exc)
    return _Run(desired, asked[0], plan, None, None)


def _error_facts(exc: LmsyncError | None) -> tuple[Any, ...]:
    return (
        type(exc),
        str(exc),
        getattr(exc, "message", None),
        getattr(exc, "hint", None),
        getattr(exc, "file", None),
        getattr(exc, "line", None),
        getattr(exc, "byte", None),
    )


def _plan_facts(plan: Plan) -> dict[str, Any]:
    return {
        "json": json.dumps(plan_to_json(plan, show_personal_data=True), sort_keys=True),
        "masked": json.dumps(plan_to_json(plan), sort_keys=True),
        "text": render_text(plan),
    }


def _same_desired(ref: DesiredState, col: DesiredState) -> None:
    assert ref.settled == 0, "the reference path settles nothing"
    assert (col.file_name, col.profile_fields, col.custom_fields, col.has_manager) == (
        ref.file_name,
        ref.profile_fields,
        ref.custom_fields,
        ref.has_manager,
    )
    assert col.problems == ref.problems
    assert (col.duplicated, col.ignored, col.filtered_out) == (ref.duplicated, ref.ignored, ref.filtered_out)
    assert set(col.present) == set(ref.present)
    assert len(col.present) == len(ref.present)
    for unique_id in ref.present:
        assert col.line_of(unique_id) == ref.line_of(unique_id), unique_id
    assert col.line_of("\0not in any file") is None
    ref_users = dict(ref.users.items())
    col_users = dict(col.users.items())
    # The columnar state keeps the reference's users minus the settled ones, unchanged.
    for unique_id, user in col_users.items():
        assert ref_users.get(unique_id) == user, unique_id
    settled = set(ref_users).difference(col_users)
    assert len(settled) == col.settled
    assert all(ref_users[unique_id].active for unique_id in settled)
    assert list(col_users) == [u for u in ref_users if u in col_users], "file order is kept"


def both(data: bytes, config: Hris, snapshot: Snapshot) -> DesiredState:
    """Plan ``data`` both ways, assert every observable outcome is the same, and return the
    columnar desired state (so a test can check rows were really settled)."""
    return _both(data, config, snapshot)[0]


def _both(data: bytes, config: Hris, snapshot: Snapshot) -> tuple[DesiredState, Plan]:
    ref = _run(data, config, snapshot, columnar=False)
    in_columns = held_snapshot(snapshot)
    col = _run(data, config, in_columns, columnar=True)
    assert ref.error is None, f"the reference rejects this input: {ref.error!r} (use both_reject)"
    assert col.error is None, repr(col.error)
    assert ref.desired is not None and col.desired is not None
    _same_desired(ref.desired, col.desired)
    assert col.emails == ref.emails, "the target is asked for the same addresses (adoption)"
    assert ref.plan is not None and col.plan is not None
    assert col.guard == ref.guard
    assert col.plan.actions == ref.plan.actions
    assert col.plan.changes == ref.plan.changes
    assert col.plan.summary == ref.plan.summary
    assert col.plan.problems == ref.plan.problems
    assert col.plan.guard == ref.plan.guard
    assert _plan_facts(col.plan) == _plan_facts(ref.plan)
    if col.desired.settled and isinstance(in_columns.users, FrameUsers):
        assert in_columns.held, "the columnar path made every user of the snapshot an object"
    return col.desired, col.plan


def both_reject(data: bytes, config: Hris, snapshot: Snapshot) -> LmsyncError:
    """Both paths raise the same error (type, message, hint, file, line, byte)."""
    ref = _run(data, config, snapshot, columnar=False)
    col = _run(data, config, snapshot, columnar=True)
    assert ref.error is not None, "the reference accepts this input (use both)"
    assert _error_facts(col.error) == _error_facts(ref.error)
    return ref.error


# --- seeded worlds --------------------------------------------------------------------

#: What ``str.strip`` removes besides the space: the rules trim with it, so must polars.
_PADS = (" ", "  ", "\t", "\x1c", "\x1f", "\u3000", "\xa0", "\x0b", "\x0c", "\x85", "\u2028")
_TREE = {
    "France": ("Paris", "Lyon"),
    "Spain": ("Madrid", "Sevilla"),
    "Schweiz": ("Zürich",),
}
_TEAMS = ("Red", "Blue")
_LEVELS = ("country", "site", "team")
_LANGUAGE_NAMES = {"Français": "fr", "English": "en", "Deutsch": "de"}
_CUSTOM: dict[str, Any] = {
    "location": "Location",
    "hireDate": {"title": "Hire date", "type": "date"},
    "badge": "Badge",
}
_DEFINITIONS = {
    "Location": CustomFieldDefinition("cf-loc", "Location"),
    "Hire date": CustomFieldDefinition("cf-hire", "Hire date", "date"),
    "Badge": CustomFieldDefinition("cf-badge", "Badge"),
}
_PROFILE = {"lastName": "last_name", "title": "title", "organization": "organization", "language": "language"}


@dataclass(frozen=True)
class World:
    """A file, the configuration reading it and the LMS a previous sync left, then drifted.

    ``settles``: nothing in it sends the whole file back to the reference (a lone CR, a
    custom field definition to create or renamed), so the columnar path must settle some
    rows.
    """

    data: bytes
    config: Hris
    snapshot: Snapshot
    settles: bool


def _pad(rng: random.Random, value: str, delimiter: str) -> str:
    pads = [p for p in _PADS if p != delimiter]
    return rng.choice(pads) + value if rng.random() < 0.5 else value + rng.choice(pads)


def _field(cell: str, delimiter: str, rng: random.Random, quote_all: bool) -> str:
    """A cell as an export writes it: quoted when it must be (RFC 4180), sometimes anyway."""
    if any(c in cell for c in (delimiter, '"', "\r", "\n")) or quote_all or rng.random() < 0.03:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _world(seed: int) -> World:
    rng = random.Random(seed)
    n = rng.randrange(30, 301)
    delimiter = rng.choice((",", "\t", ";", "|"))
    declared = rng.choice(("auto", delimiter)) if delimiter in ",\t" else delimiter
    eol = rng.choice(("\n", "\r\n"))
    depth = rng.randrange(4)
    levels = list(_LEVELS[:depth])
    with_manager = rng.random() < 0.7
    with_filter = rng.random() < 0.4
    n_rules = rng.choice((0, 0, 1, 2))
    with_former = rng.random() < 0.25
    multiline = rng.random() < 0.05
    lone_cr = rng.random() < 0.04
    stale = rng.random() < 0.05
    missing_definition = rng.random() < 0.05
    quote_all = rng.random() < 0.1
    odd_quote = rng.random() < 0.1  # ab"c in an unquoted cell

    profile = {"firstName": "first_name"}
    profile.update({c: f for c, f in _PROFILE.items() if rng.random() < 0.6})
    custom = {c: spec for c, spec in _CUSTOM.items() if rng.random() < 0.6}
    fields: dict[str, str] = dict(profile)
    if with_manager:
        fields["managerId"] = "manager"
    header = ["uniqueId", "status", "email", *fields, *custom, *levels, "department", "contract"]
    if rng.random() < 0.5:
        header.append("note")
    if rng.random() < 0.05 and "organization" in fields:
        header.remove("organization")  # mapped but absent from the export: a note
    rng.shuffle(header)

    rules: list[dict[str, Any]] = []
    if n_rules >= 1:
        group = rng.choice(("g-sales", "g-sales", ROOT_ID, *(("g-France",) if depth else ())))
        rules.append({"when": {"department": ["Sales"]}, "group": group})
    if n_rules >= 2:
        when = {"country": ["France"]} if depth else {"contract": ["CDI"]}
        rules.append({"when": {"department": ["Sales", "Marketing"], **when}, "group": "g-biz"})
    max_deletions: int | str = 100_000 if rng.random() < 0.85 else rng.choice((0, 2, "5%"))
    config = hris_config(
        fields=fields,
        languages=_LANGUAGE_NAMES if rng.random() < 0.5 else {},
        custom_fields=custom,
        filter={"contract": ["CDI", "CDD"]} if with_filter else {},
        groups={"hierarchy": levels, "rules": rules},
        missing_users=rng.choice(("keep", "delete")),
        safety={"max_deletions": max_deletions},
        file={"delimiter": declared},
    )

    # The LMS groups: the whole tree three levels deep (deeper than configured is out of
    # scope), with a subtree or a leaf sometimes missing (the plan creates them).
    groups: list[LmsGroup] = [ROOT, LmsGroup("g-sales", "Sales team"), LmsGroup("g-biz", "Business")]
    drop_country = "Schweiz" if rng.random() < 0.3 else None
    paths = [
        (country, site, team)
        for country, sites in _TREE.items()
        for site in sites
        for team in _TEAMS
        if country != drop_country
    ]
    dropped_leaf = rng.choice(paths)[:depth] if depth and rng.random() < 0.3 else None
    if dropped_leaf == ("France",):
        dropped_leaf = None  # a rule may name g-France: a missing rule group is a PlanError
    made: set[tuple[str, ...]] = set()
    for path in paths:
        for cut in range(1, 4):
            prefix = path[:cut]
            if prefix in made or prefix == dropped_leaf:
                continue
            made.add(prefix)
            parent = "g-" + "-".join(prefix[:-1]) if cut > 1 else ROOT_ID
            groups.append(LmsGroup("g-" + "-".join(prefix), prefix[-1], parent, public=rng.random() < 0.5))
    if rng.random() < 0.3:
        groups.append(LmsGroup("g-France-Paris-dup", "Paris", "g-France", public=True))
    if with_former:
        groups.append(LmsGroup("g-old", "Old team"))

    definitions = [d for title, d in _DEFINITIONS.items() if not missing_definition or title != "Location"]
    definitions.append(CustomFieldDefinition("cf-hobby", "Hobby"))
    if rng.random() < 0.3:
        definitions.append(CustomFieldDefinition("cf-loc-2", "Location"))
    # Definitions fed before: those of configured titles (one no longer configured would
    # be stale: its values are taken back, and the file is planned the reference way).
    titles = {spec if isinstance(spec, str) else spec["title"] for spec in custom.values()}
    previous_fields = {d.id for title, d in _DEFINITIONS.items() if title in titles and rng.random() < 0.7}
    if stale:
        definitions.append(CustomFieldDefinition("cf-old", "Site (old)"))
        previous_fields.add("cf-old")

    # The rows.
    # "x^" opens a zlib stream: polars must never take a row for compressed data.
    uids = [
        rng.choices((f"E{i:04d}", f"e-{i}", f"Ü{i}", f"x^{i}", f"\ufeffB{i}"), (20, 5, 5, 1, 1))[0]
        for i in range(n)
    ]
    locals_ = ("user", "user", "zoë", "İnci", "o'brien", "first.last+tag")
    emails = [f"{rng.choice(locals_)}{i}@acme.example" for i in range(n)]
    cells: list[dict[str, str]] = []
    for i, uid in enumerate(uids):
        email = emails[i]
        cell = {
            "uniqueId": rng.choices(
                (uid, _pad(rng, uid, delimiter), "", rng.choice(uids[: i + 1])), (40, 3, 1, 2)
            )[0],
            "status": rng.choices(
                ("Active", " active", "ACTIVE ", "Inactive", " inactive", "Terminated", ""),
                (40, 3, 3, 3, 2, 2, 1),
            )[0],
            "email": rng.choices(
                (
                    email,
                    email.upper(),
                    _pad(rng, email, delimiter),
                    "not-an-email",
                    "a b@acme.example",
                    "",
                    emails[rng.randrange(n)],
                    f"lms-only{i % 5}@acme.example",
                ),
                (40, 3, 3, 1, 1, 1, 2, 2),
            )[0],
            "firstName": rng.choice(("Zoë", "Ærø", "Łukasz", "José", "Anne", "İnci")) + str(i),
            "lastName": rng.choices((f"Last{i}", "", _pad(rng, f"Last{i}", delimiter)), (10, 1, 1))[0],
            "title": rng.choices(
                (f"Title {i % 5}", 'Chief, "Tea" Officer', "a;b|c", "Ünïcödé", ""), (20, 1, 1, 1, 2)
            )[0],
            "organization": rng.choice(("Acme", "", "ACME Ltd.")),
            "language": rng.choices(
                ("fr", "FR", "Fr", "en", "de", "", "Français", "FRANÇAIS", "english", "xx", " fr "),
                (10, 2, 1, 4, 2, 3, 2, 1, 1, 1, 1),
            )[0],
            "location": rng.choices((f"Loc {i % 4}", "", f" Loc {i % 4} "), (10, 2, 1))[0],
            "hireDate": rng.choices(
                (f"2020-0{1 + i % 9}-1{i % 9}", "", "2023-02-29", "2023/01/01", " 2021-03-04 "),
                (10, 2, 1, 1, 1),
            )[0],
            "badge": rng.choice((f"B{i % 3}", "")),
            "department": rng.choices(("Sales", "Marketing", "HR", "", " Sales "), (4, 3, 4, 1, 1))[0],
            "contract": rng.choices(("CDI", "CDD", "Intern", " CDI ", "cdi"), (10, 3, 2, 1, 1))[0],
            "note": rng.choice(("", "ok", 'say "hi"', "x;y", "tab\there" if delimiter != "\t" else "t")),
        }
        country = rng.choice((*_TREE, "Italia"))
        site = rng.choice(_TREE.get(country, ("Roma",)))
        where = [country, site, rng.choice(_TEAMS)]
        variant = rng.random()
        if variant < 0.05:
            where[rng.randrange(3)] = ""  # the path stops at the last non-empty level
        elif variant < 0.08:
            where[rng.randrange(3)] = "A › B"  # not a group name
        elif variant < 0.12:
            where[0] = _pad(rng, where[0], delimiter)
        cell.update(zip(_LEVELS, where, strict=True))
        if odd_quote and rng.random() < 0.1:
            cell["note"] = 'ab"c'
        cells.append(cell)
    if with_manager:
        for i, cell in enumerate(cells):
            cell["managerId"] = rng.choices(
                (
                    uids[rng.randrange(max(i, 1))],  # chains towards the first rows
                    _pad(rng, uids[rng.randrange(n)], delimiter),
                    uids[i],  # oneself
                    "",
                    "NOBODY",
                    "G1",  # linked in the LMS, absent from the file
                    "G0",  # linked but deleted in the LMS
                ),
                (20, 2, 1, 6, 1, 2, 1),
            )[0]
    if multiline:
        cells[rng.randrange(n)]["department"] = "Two\nlines"
    if lone_cr:
        cells[rng.randrange(n)]["department"] = "lone\rCR"

    lines = [delimiter.join(_field(name, delimiter, rng, quote_all) for name in header)]
    for cell in cells:
        row = [cell[name] for name in header]
        shape = rng.choices(("ok", "short", "long", "trailing", "uid-only", "blank"), (90, 2, 1, 1, 1, 2))[0]
        if shape == "short":
            row = row[:-1]
        elif shape == "long":
            row = [*row, "extra"]
        elif shape == "trailing":
            row = [*row, ""]
        elif shape == "uid-only":
            row = [cell["uniqueId"]]
        elif shape == "blank":
            lines.append("")
        fields_ = []
        for name, value in zip([*header, "extra"], row, strict=False):
            if name == "note" and value == 'ab"c':
                fields_.append(value)  # a quote inside an unquoted field, left as is
            else:
                fields_.append(_field(value, delimiter, rng, quote_all))
        lines.append(delimiter.join(fields_))
    text = eol.join(lines) + (eol if rng.random() < 0.8 else "")

    snapshot = _lms(rng, text, config, groups, definitions, previous_fields, with_former)
    # A definition to create, or one fed before and no longer ours (renamed, deleted):
    # rare runs the columnar path leaves to the reference.
    creates_definition = bool(titles - {d.name for d in definitions})
    stale = bool(previous_fields - fed_definition_ids(definitions, titles))
    settles = not (lone_cr or stale or creates_definition)
    return World(text.encode(), config, snapshot, settles)


def _lms(
    rng: random.Random,
    text: str,
    config: Hris,
    groups: list[LmsGroup],
    definitions: list[CustomFieldDefinition],
    previous_fields: set[str],
    with_former: bool,
) -> Snapshot:
    """The LMS a previous sync of (nearly) this file left, then drifted: each user's row is
    decided by the reference rules, so "same" users hold exactly what their row asks."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    delimiter = config.file.delimiter
    if delimiter == "auto":
        delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    records = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if row]
    header = tuple(name.strip() for name in records[0])
    rules = Rules(header, config)
    tree = GroupTree(Snapshot(groups=tuple(groups), custom_fields=tuple(definitions)), config)
    by_title: dict[str, CustomFieldDefinition] = {}
    for definition in sorted(definitions, key=lambda d: d.id):
        by_title.setdefault(definition.name, definition)
    asked: list[DesiredUser] = []
    for row in records[1:]:
        outcome = rules.outcome(row, 0, {})
        if isinstance(outcome, DesiredUser):
            asked.append(outcome)
        elif len(row) > rules.uid_i and row[rules.uid_i].strip():
            asked.append(DesiredUser(row[rules.uid_i].strip(), 0, False))
    ids: dict[str, str] = {}
    for k, user in enumerate(asked):
        ids.setdefault(user.unique_id, f"u{k}")
    ids.update({f"G{k}": f"gone-{k}" for k in range(5)})

    users: list[LmsUser] = []
    links: list[ExternalId] = []
    learners: dict[str, set[str]] = {}
    done: set[str] = set()
    for k, user in enumerate(asked):
        if user.unique_id in done:
            continue
        done.add(user.unique_id)
        user_id = ids[user.unique_id]
        state = rng.choices(
            (
                "same",
                "drift",
                "absent",
                "deleted",
                "invited",
                "unlinked",
                "unlinked-deleted",
                "linked-other",
                "deleted-taken",
            ),
            (60, 15, 6, 3, 2, 3, 1, 1, 1),
        )[0]
        if state == "absent":
            continue
        if not user.active:
            users.append(LmsUser(user_id, f"left{k}@acme.example", "active", f"Left{k}"))
            links.append(ExternalId(user_id, user.unique_id))
            learners.setdefault(ROOT_ID, set()).add(user_id)
            continue
        attributes: dict[str, str | None] = {}
        for name, value in zip(rules.profile_fields, user.profile, strict=True):
            attributes[PROFILE_ATTRIBUTES[name]] = value or rng.choice((None, ""))
        values: list[CustomValue] = []
        for (_, title, _), value in zip(rules.custom, user.custom, strict=True):
            fed = by_title.get(title)
            if fed is not None and (value or rng.random() < 0.2):
                values.append(CustomValue(fed.id, fed.type, value))
        if rng.random() < 0.2:
            values.append(CustomValue("cf-hobby", "string", "Chess"))  # not ours: kept
        if rng.random() < 0.1 and values:
            first = values[0]
            values.insert(0, dataclasses.replace(first, value="held before"))  # held twice: last wins
        if rng.random() < 0.2:
            rng.shuffle(values)
        managers: tuple[str, ...] = ()
        if user.manager and user.manager != user.unique_id and user.manager in ids:
            managers = (ids[user.manager],)
        member_of = {ROOT_ID}
        wanted = tree.wanted_groups(user.group_path, user.rule_groups)
        member_of.update(wanted or ())
        if with_former and rng.random() < 0.1:
            member_of.add("g-old")
        mail = user.email
        status: UserStatus = "active"
        if state == "drift":
            for change in rng.sample(range(10), rng.randint(1, 3)):
                if change == 0:
                    mail = mail.upper()
                elif change == 1:
                    mail = f"old{k}@acme.example"
                elif change == 2:
                    attributes["first_name"] = "Changed"
                elif change == 3:
                    attributes["job"] = None if attributes.get("job") else "Old job"
                elif change == 4:
                    attributes["lang"] = rng.choice(("fr", "en", None, "FR"))
                elif change == 5:
                    values = rng.choice(([], [CustomValue("cf-loc", "string", "Elsewhere")]))
                elif change == 6:
                    member_of.discard(ROOT_ID)
                elif change == 7:
                    member_of.add(rng.choice(("g-France-Paris", "g-France-Paris-dup", "g-sales", "g-biz")))
                elif change == 8:
                    managers = rng.choice(((), ("u0",), ("u1", "u2"), ("gone-1",), ("",)))
                elif with_former:
                    member_of.add("g-old")
        elif state in ("deleted", "unlinked-deleted", "deleted-taken"):
            status = "deleted"
        elif state == "invited":
            status = "invited"
        elif state == "linked-other":
            mail = f"other{k}@acme.example"
        users.append(
            LmsUser(
                user_id,
                mail,
                status,
                attributes.get("first_name", f"First{k}"),
                attributes.get("last_name"),
                attributes.get("organization"),
                attributes.get("job"),
                attributes.get("lang"),
                tuple(values),
                managers,
            )
        )
        if state == "deleted-taken":
            users.append(LmsUser(f"t{k}", mail, "active"))
        if not state.startswith("unlinked"):
            links.append(ExternalId(user_id, user.unique_id if state != "linked-other" else f"X{k}"))
        for group_id in member_of:
            if any(g.id == group_id for g in groups):
                learners.setdefault(group_id, set()).add(user_id)
    for k in range(5):
        users.append(
            LmsUser(f"lms-{k}", f"lms-only{k}@acme.example", rng.choice(("active", "deleted", "invited")))
        )
        users.append(LmsUser(f"gone-{k}", f"gone{k}@acme.example", "deleted" if k == 0 else "active"))
        links.append(ExternalId(f"gone-{k}", f"G{k}"))
        learners.setdefault(ROOT_ID, set()).add(f"gone-{k}")
    links.append(ExternalId("gone-1", "G9"))  # one user linked twice
    links.append(ExternalId("u-missing", "G8"))  # a link to nobody
    return Snapshot(
        users=tuple(users),
        external_ids=tuple(links),
        custom_fields=tuple(definitions),
        groups=tuple(groups),
        learners={group_id: frozenset(members) for group_id, members in learners.items()},
        previous_custom_fields=frozenset(previous_fields),
        previous_groups=frozenset({"g-old"}) if with_former else frozenset(),
    )


SEEDS = range(200)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_world_plans_alike_both_ways(seed: int) -> None:
    world = _world(seed)
    desired, plan = _both(world.data, world.config, world.snapshot)
    if not world.settles:
        assert desired.settled == 0
    elif plan.summary.unchanged >= 10:
        assert desired.settled > 0, "nothing settled: the equality proves only the reference"


def test_seeded_worlds_cover_what_they_claim() -> None:
    """The random worlds are only evidence if they reach the cases: most seeds settle rows,
    and over all seeds the plans hold every action type and problem code the core has."""
    actions: set[str] = set()
    codes: set[str] = set()
    summary: dict[str, int] = {}
    settling = 0
    for seed in SEEDS[:60]:
        world = _world(seed)
        settling += world.settles
        ref = _run(world.data, world.config, world.snapshot, columnar=False)
        assert ref.plan is not None
        actions.update(type(action).__name__ for action in ref.plan.actions)
        codes.update(problem.code for problem in ref.plan.problems)
        for key, value in dataclasses.asdict(ref.plan.summary).items():
            summary[key] = summary.get(key, 0) + value
    assert settling >= 40
    assert actions == {action.__name__ for action in ACTION_ORDER}  # every kind of action
    assert all(summary.values()), summary
    assert codes >= {
        ProblemCode.DUPLICATED, ProblemCode.EMPTY_UNIQUE_ID, ProblemCode.WRONG_FIELD_COUNT,
        ProblemCode.INVALID_EMAIL, ProblemCode.UNKNOWN_LANGUAGE, ProblemCode.INVALID_DATE,
        ProblemCode.INVALID_GROUP_NAME, ProblemCode.UNKNOWN_MANAGER, ProblemCode.EMAIL_IN_USE,
        ProblemCode.DUPLICATED_EMAIL,
    }  # fmt: skip


# --- file shapes ----------------------------------------------------------------------

_HEADER = ("uniqueId", "status", "email", "firstName", "title", "managerId", "location", "country")
_ROWS = 40


def _config(**overrides: Any) -> Hris:
    base: dict[str, Any] = {
        "fields": {"firstName": "first_name", "title": "title", "managerId": "manager"},
        "custom_fields": {"location": "Location"},
        "groups": {"hierarchy": ["country"]},
        "safety": {"max_deletions": 1000},
    }
    base.update(overrides)
    return hris_config(**base)


def _rows() -> list[list[str]]:
    """A clean export whose every row the LMS of ``_lms_of`` already matches."""
    return [
        [
            f"E{i:03d}",
            "Active",
            f"user{i}@acme.example",
            f"First{i}",
            f"Title {i % 3}",
            f"E{i - 1:03d}" if i else "",
            f"Loc {i % 2}",
            "France" if i % 2 else "Spain",
        ]
        for i in range(_ROWS)
    ]


def _lms_of(rows: Sequence[Sequence[str]]) -> Snapshot:
    """The LMS holding exactly what ``rows`` (``_HEADER``'s columns, trimmed) ask for."""
    groups = (ROOT, LmsGroup("g-fr", "France", ROOT_ID), LmsGroup("g-es", "Spain", ROOT_ID))
    users: list[LmsUser] = []
    links: list[ExternalId] = []
    learners: dict[str, set[str]] = {group.id: set() for group in groups}
    index = {row[0].strip(): i for i, row in enumerate(rows)}
    for i, row in enumerate(rows):
        uid, _, email, first, title, boss, location, country = (cell.strip() for cell in row)
        user_id = f"u{i}"
        users.append(
            LmsUser(
                user_id,
                email.lower(),
                first_name=first or None,
                job=title or None,
                custom_fields=(CustomValue("cf-loc", "string", location),) if location else (),
                managers=(f"u{index[boss]}",) if boss else (),
            )
        )
        links.append(ExternalId(user_id, uid))
        learners[ROOT_ID].add(user_id)
        learners["g-fr" if country == "France" else "g-es"].add(user_id)
    return Snapshot(
        users=tuple(users),
        external_ids=tuple(links),
        custom_fields=(_DEFINITIONS["Location"],),
        groups=groups,
        learners={group_id: frozenset(members) for group_id, members in learners.items()},
    )


def _text(lines: Sequence[Sequence[str]], delimiter: str = ",", eol: str = "\n") -> str:
    """Cells joined as they are (a test quotes what it wants quoted)."""
    return eol.join(delimiter.join(cells) for cells in lines) + eol


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_a_clean_export_is_settled_whole(delimiter: str) -> None:
    """The base of the shape tests: every row settled, nothing to do. The tests below change
    one thing and expect the same plan, and the rows that change does not touch settled."""
    rows = _rows()
    data = _text([_HEADER, *rows], delimiter).encode()
    desired = both(data, _config(file={"delimiter": delimiter}), _lms_of(rows))
    assert desired.settled == _ROWS
    assert not desired.users


def test_the_size_threshold_picks_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``columnar=None`` (what the pipeline passes) takes the columnar path from
    ``MIN_BYTES`` on when one is set, and the reference below it."""
    rows = _rows()
    data = _text([_HEADER, *rows]).encode()
    for threshold, settled in ((len(data), _ROWS), (len(data) + 1, 0)):
        monkeypatch.setattr(columnar, "MIN_BYTES", threshold)
        desired, _ = plan_input(
            data, file_name="hris-k.csv", config=_config(), snapshot_of=lambda _: _lms_of(rows)
        )
        assert desired.settled == settled


def test_small_files_take_the_reference_path_by_default() -> None:
    # Below MIN_BYTES (1 MiB, some ten thousand rows) polars' start-up outweighs the gain.
    rows = _rows()
    data = _text([_HEADER, *rows]).encode()
    assert columnar.MIN_BYTES is not None and len(data) < columnar.MIN_BYTES
    lms = _lms_of(rows)
    desired, _ = plan_input(data, file_name="hris-k.csv", config=_config(), snapshot_of=lambda _: lms)
    assert desired.settled == 0 and len(desired.users) == _ROWS


def test_a_first_load_takes_the_reference_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big file whose users are mostly not in the LMS yet: little to settle, so the size
    alone does not pick the columnar path; asked for, it still gives the same plan."""
    monkeypatch.setattr(columnar, "MIN_BYTES", 0)
    rows = _rows()
    data = _text([_HEADER, *rows]).encode()
    half = _lms_of(rows[: _ROWS // 2 - 1])
    desired, _ = plan_input(data, file_name="hris-k.csv", config=_config(), snapshot_of=lambda _: half)
    assert desired.settled == 0 and len(desired.users) == _ROWS
    assert both(data, _config(), half).settled == _ROWS // 2 - 1
    mostly = _lms_of(rows[: _ROWS // 2])
    desired, _ = plan_input(data, file_name="hris-k.csv", config=_config(), snapshot_of=lambda _: mostly)
    assert desired.settled == _ROWS // 2


def test_without_polars_the_columnar_path_plans_the_reference_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # polars is a dependency, but an install without it (a broken one, or an old extra's
    # habits) must still plan, the reference way, not fail on an import.
    monkeypatch.setitem(sys.modules, "polars", None)
    rows = _rows()
    desired = both(_text([_HEADER, *rows]).encode(), _config(), _lms_of(rows))
    assert desired.settled == 0 and len(desired.users) == _ROWS


def test_bom() -> None:
    rows = _rows()
    desired = both(b"\xef\xbb\xbf" + _text([_HEADER, *rows]).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


def test_crlf() -> None:
    rows = _rows()
    desired = both(_text([_HEADER, *rows], eol="\r\n").encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


def test_bom_and_crlf_without_a_final_line_break() -> None:
    rows = _rows()
    data = b"\xef\xbb\xbf" + _text([_HEADER, *rows], eol="\r\n").removesuffix("\r\n").encode()
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled == _ROWS


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "\r".join([",".join(_HEADER), *(",".join(r) for r in _rows())]) + "\r", id="cr-line-ends"
        ),
        pytest.param(
            _text([_HEADER, *_rows()]).replace("Title 1", _quoted("Title\r1"), 1), id="cr-in-quoted-field"
        ),
        pytest.param(_text([_HEADER, *_rows()]).replace("Title 1", "Title\r1", 1), id="cr-in-bare-field"),
    ],
)
def test_a_lone_carriage_return_falls_back(text: str) -> None:
    """csv ends a record on a lone CR; polars does not: the file goes to the reference."""
    desired = both(text.encode(), _config(), _lms_of(_rows()))
    assert desired.settled == 0


def test_mixed_line_ends() -> None:
    rows = _rows()
    data = _text([_HEADER, *rows], eol="\r\n").replace("\r\n", "\n", 3).encode()
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled == _ROWS


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_blank_lines_in_the_middle_and_at_the_end(eol: str) -> None:
    rows = _rows()
    lines: list[Sequence[str]] = [_HEADER, *rows[:10], [""], *rows[10:20], [""], [""], *rows[20:]]
    data = (_text(lines, eol=eol) + eol + eol).encode()
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled == _ROWS
    assert desired.line_of("E010") == 13 and desired.line_of("E039") == 44


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_blank_lines_right_after_the_header(eol: str) -> None:
    rows = _rows()
    desired = both(_text([_HEADER, [""], [""], *rows], eol=eol).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS
    assert desired.line_of("E000") == 4


@pytest.mark.parametrize(
    "lookalike",
    [
        pytest.param("\ufeff", id="bom-inside-the-file"),
        pytest.param("\u200b", id="zero-width-space"),
        pytest.param("\u200d", id="zero-width-joiner"),
    ],
)
def test_characters_that_are_no_space_are_kept(lookalike: str) -> None:
    """``str.strip`` keeps these: the cell is another value, its row is not settled."""
    rows = _rows()
    text = _text([_HEADER, *rows]).replace("E005,Active", lookalike + "E005,Active", 1)
    text = text.replace("user9@acme.example", "user9@acme.example" + lookalike, 1)
    desired = both(text.encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS - 2


def test_a_line_of_spaces_is_a_row_of_one_field() -> None:
    rows = _rows()
    data = _text([_HEADER, *rows[:5], ["   "], ["\u3000"], *rows[5:]]).encode()
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled > 0
    assert ProblemCode.WRONG_FIELD_COUNT in {p.code for p in desired.problems}


def test_a_header_with_quoted_names() -> None:
    rows = _rows()
    header = [_quoted(name) for name in _HEADER]
    header[2] = _quoted(" email ")  # names are trimmed
    desired = both(_text([header, *rows]).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_every_field_quoted(eol: str) -> None:
    rows = _rows()
    lines = [[_quoted(cell) for cell in row] for row in [_HEADER, *rows]]
    desired = both(_text(lines, eol=eol).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


def test_a_blank_line_before_the_header() -> None:
    """The header is then on line 2: the reference reads it (and numbers lines from it)."""
    rows = _rows()
    desired = both(("\n" + _text([_HEADER, *rows])).encode(), _config(), _lms_of(rows))
    assert desired.line_of("E000") == 3


@pytest.mark.parametrize(
    "title",
    [
        pytest.param('"Chief, Tea Officer"', id="delimiter-inside-quotes"),
        pytest.param('"Say ""hi"" twice"', id="doubled-quotes"),
        pytest.param('ab"c', id="quote-inside-a-bare-field"),
        pytest.param('""', id="quoted-empty"),
        pytest.param(' "Chief"', id="space-before-a-quote"),
        pytest.param('"""Chief"""', id="quotes-around-a-quoted-value"),
    ],
)
def test_quotes_inside_a_row(title: str) -> None:
    """The row reads the same; the LMS holds the title csv reads, so the file plans nothing
    either way, and the rows without quotes are settled in columns."""
    rows = _rows()
    lines = [_HEADER, *rows]
    lines[6] = [*rows[5][:4], title, *rows[5][5:]]
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    try:
        read = next(csv.reader(io.StringIO(",".join(lines[6])), strict=True))
    except csv.Error:
        read = None
    expected = [list(row) for row in rows]
    if read is not None and len(read) == len(_HEADER):
        expected[5] = read
    data = _text(lines).encode()
    desired = both(data, _config(), _lms_of(expected))
    assert desired.settled >= _ROWS - 1


def test_text_after_a_closing_quote_is_rejected_alike() -> None:
    rows = _rows()
    lines = [_HEADER, *rows]
    lines[6] = [*rows[5][:4], '"a"b', *rows[5][5:]]
    error = both_reject(_text(lines).encode(), _config(), _lms_of(rows))
    assert isinstance(error, FileLevelError) and error.line == 7


def test_a_quoted_field_over_two_lines() -> None:
    """The reference reads it as one field; the line numbers after it shift by one."""
    rows = _rows()
    lines = [_HEADER, *rows]
    lines[6] = [*rows[5][:4], _quoted("Two\nlines"), *rows[5][5:]]
    expected = [list(row) for row in rows]
    expected[5][4] = "Two\nlines"
    desired = both(_text(lines).encode(), _config(), _lms_of(expected))
    assert desired.line_of("E005") == 7 and desired.line_of("E006") == 9
    assert desired.settled == _ROWS - 1  # the record itself goes to csv, the others settle


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("inner", ["\n", "\r\n"], ids=["LF-inside", "CRLF-inside"])
def test_fields_over_several_lines_keep_their_breaks(eol: str, inner: str) -> None:
    """csv reads such a record from its bytes: a break inside the field is kept as it is, and
    a middle line that looks like a row (the header's width, no quote) is none."""
    rows = _rows()
    lines = [_HEADER, *rows]
    looks_like_a_row = ",".join(["x"] * len(_HEADER))
    notes = {3: f"one{inner}two", 12: f"one{inner}{looks_like_a_row}{inner}three", _ROWS - 1: f"a{inner}b"}
    expected = [list(row) for row in rows]
    for at, note in notes.items():
        lines[at + 1] = [*rows[at][:4], _quoted(note), *rows[at][5:]]
        expected[at][4] = note
    data = _text(lines, eol=eol).encode()
    desired = both(data, _config(), _lms_of(expected))
    assert desired.settled == _ROWS - 3
    cut = columnar._cut(data, "hris.csv", _config())
    assert cut is not None
    middle = 12 + 1 + 1  # row of the line that looks like one, after E003's second line
    assert cut.odd[middle] == [] and not cut.plain[middle]  # none of the file's rows
    assert desired.line_of("E012") == 15 and desired.line_of("E013") == 18  # after 1 + 2 more lines


def test_a_file_of_mostly_odd_lines_goes_to_csv_whole() -> None:
    """Lines csv must read one by one never settle: when they are most of the file, the
    reference reader reads it faster whole."""
    rows = _rows()
    lines = [_HEADER, *rows]
    expected = [list(row) for row in rows]
    for at in range(0, _ROWS, 3):  # a third of the records, two lines each: 2/3 of the lines
        lines[at + 1] = [*rows[at][:4], _quoted("one\ntwo"), *rows[at][5:]]
        expected[at][4] = "one\ntwo"
    data = _text(lines).encode()
    assert columnar._cut(data, "hris.csv", _config()) is None
    assert both(data, _config(), _lms_of(expected)).settled == 0


def test_a_field_over_too_many_lines_sends_the_file_to_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar._Spans, "MAX_LINES", 3)
    rows = _rows()
    lines = [_HEADER, *rows]
    lines[6] = [*rows[5][:4], _quoted("1\n2\n3\n4"), *rows[5][5:]]
    expected = [list(row) for row in rows]
    expected[5][4] = "1\n2\n3\n4"
    assert both(_text(lines).encode(), _config(), _lms_of(expected)).settled == 0


@pytest.mark.parametrize("at", [5, _ROWS - 1])
def test_an_unclosed_quote_is_rejected_alike(at: int) -> None:
    rows = _rows()
    lines = [_HEADER, *rows]
    lines[at + 1] = [*rows[at][:4], '"unclosed', *rows[at][5:]]
    error = both_reject(_text(lines).encode(), _config(), _lms_of(rows))
    assert isinstance(error, FileLevelError) and error.line is not None


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda row: row[:-1], id="too-few"),
        pytest.param(lambda row: [*row, "extra"], id="too-many"),
        pytest.param(lambda row: [*row, ""], id="trailing-delimiter"),
        pytest.param(lambda row: row[:1], id="only-the-unique-id"),
        pytest.param(lambda row: ["", *row[1:]], id="empty-unique-id"),
        pytest.param(lambda row: ["\u3000", *row[1:]], id="unique-id-of-spaces"),
        pytest.param(lambda row: [""] * len(row), id="only-delimiters"),
    ],
)
def test_rows_of_the_wrong_width(shape: Any) -> None:
    rows = _rows()
    lines: list[Sequence[str]] = [_HEADER, *rows]
    for at in (4, 17, 30):
        lines[at + 1] = shape(rows[at])
    desired = both(_text(lines).encode(), _config(), _lms_of(rows))
    assert desired.settled > _ROWS - 10
    assert len(desired.problems) == 3


def test_rows_left_are_the_table_the_reference_reader_builds() -> None:
    """The rows not settled reach ``build_desired`` as the same ``RowTable`` (columns, rows of
    a wrong width kept whole with blank cells, blank lines skipped) and lines as
    ``read_rows`` gives for them."""
    rows = _rows()
    lines: list[Sequence[str]] = [_HEADER, *rows]
    lines[3] = rows[2][:-2]
    lines[6] = [*rows[5], "extra"]
    lines[9] = []
    lines[12] = [*rows[11][:3], _quoted("Chief, Tea"), *rows[11][4:]]  # csv alone reads it
    data = _text(lines).encode()
    config = _config()
    cut = columnar._cut(data, "hris.csv", config)
    assert cut is not None and cut.odd
    facts = columnar._FileFacts.of(cut, config)
    assert facts is not None
    every = facts.frame["plain"] | True
    table, at = facts._left(every)
    reference = read_rows(data, file_name="hris.csv", naming=config.file)
    assert isinstance(reference.rows, RowTable)
    assert (table.columns, table.irregular, len(table)) == (
        reference.rows.columns,
        reference.rows.irregular,
        len(reference.rows),
    )
    assert at == list(reference.lines)
    assert sorted(table.irregular) == [2, 5]  # the short row and the long one
    assert table[10][3] == "Chief, Tea" and 10 not in at  # line 10 was blank: csv skips it


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(lambda row: [*row, "extra"], id="too-many"),
        pytest.param(lambda row: [*row, ""], id="trailing-delimiter"),
        # With a quote csv must read (an odd line), polars splits without quotes, so a
        # quoted delimiter in the first row makes it one field too long the same way.
        pytest.param(
            lambda row: [*row[:4], '"Chief, Tea"', *row[5:6], 'ab"c', *row[7:]], id="quoted-delimiter"
        ),
    ],
)
def test_a_long_first_row_still_settles_the_others(first: Any) -> None:
    """polars takes the width of the first line it reads for the file's and rejects a longer
    one: it must never see the first data row first (the file would go back whole)."""
    rows = _rows()
    lines: list[Sequence[str]] = [_HEADER, first(rows[0]), *rows[1:]]
    desired = both(_text(lines).encode(), _config(), _lms_of(rows))
    assert desired.settled >= _ROWS - 2


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"status,uniqueId,email\n\xef\xbb\xbfActive,E1,a@acme.example\n", id="status-first"),
        pytest.param(b"uniqueId,status,email\n\xef\xbb\xbfE1,Active,a@acme.example\n", id="unique-id-first"),
    ],
)
def test_a_bom_opening_the_first_row_is_kept(data: bytes) -> None:
    """U+FEFF is no space (``str.strip`` keeps it): the cell is not the value it looks like,
    and the reference deletes the user (status-first) or skips the row. polars drops a BOM
    opening the bytes it reads, so it must never be handed the first data row first.
    (A BOM opening the file is the file's, and both paths drop it: ``test_bom``.)"""
    snapshot = Snapshot(
        users=(LmsUser("u1", "a@acme.example"),),
        external_ids=(ExternalId("u1", "E1"),),
        groups=(ROOT,),
        learners={ROOT_ID: frozenset({"u1"})},
    )
    both(data, hris_config(), snapshot)


@pytest.mark.parametrize(
    "name",
    [_quoted("Chief, Tea"), 'Chief "Tea"', _quoted('Chief "Tea"')],
    ids=["delimiter", "quote", "doubled"],
)
def test_a_header_with_quotes_plans_alike(name: str) -> None:
    """polars reads the header line too (never a data row first): a header whose fields it
    might cut otherwise than csv (a quoted delimiter) sends the rows to csv; quotes it reads
    alike do not."""
    rows = _rows()
    data = _text([[*_HEADER, name], *([*row, ""] for row in rows)]).encode()
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled == (0 if "," in name else _ROWS)


@pytest.mark.parametrize("opening", ["x^", "x\x01", "\x1f", "PK\x03\x04", "BZh"])
def test_a_first_row_opening_like_compressed_data(opening: str) -> None:
    """polars takes some first bytes for a compressed stream's magic (zlib "x^" crashed it
    with OSError): the first data row is read as text like any other."""
    rows = _rows()
    rows[0][0] = opening + rows[0][0]
    rows[1][5] = rows[0][0]
    desired = both(_text([_HEADER, *rows]).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


def test_a_manager_with_an_empty_id_is_not_no_manager() -> None:
    """An LMS user whose manager list holds one empty id has a manager: an empty cell takes
    it away (RemoveManager), so the row is no settled row."""
    rows = _rows()
    rows[0][5] = ""
    snapshot = _lms_of(rows)
    users = list(snapshot.users)
    users[0] = dataclasses.replace(users[0], managers=("",))
    users[3] = dataclasses.replace(users[3], managers=("", "u2"))
    snapshot = dataclasses.replace(snapshot, users=tuple(users))
    desired = both(_text([_HEADER, *rows]).encode(), _config(), snapshot)
    assert desired.settled == _ROWS - 2


def test_cells_padded_with_unicode_spaces_are_settled() -> None:
    """The rules trim with ``str.strip`` ("\\x1c", "\\u3000", "\\xa0"...): so must polars."""
    rows = _rows()
    padded = [list(row) for row in rows]
    pads = ["\x1c", "\u3000", "\xa0", "\x1f", "\x85", "\u2028", " \t"]
    for i, row in enumerate(padded):
        pad = pads[i % len(pads)]
        row[0], row[2], row[4] = pad + row[0], row[2].upper() + pad, pad + row[4] + pad
        row[5] = row[5] + pad if row[5] else row[5]
    desired = both(_text([_HEADER, *padded]).encode(), _config(), _lms_of(rows))
    assert desired.settled == _ROWS


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\xff", id="never-utf8"),
        pytest.param(b"\xc3", id="truncated-sequence"),
        pytest.param(b"\xc0\x80", id="overlong-nul"),
        pytest.param(b"\xed\xa0\x80", id="surrogate"),
        pytest.param(b"\xf4\x90\x80\x80", id="beyond-unicode"),
    ],
)
def test_invalid_utf8_in_the_middle_is_rejected_alike(bad: bytes) -> None:
    rows = _rows()
    data = _text([_HEADER, *rows]).encode().replace(b"First20", b"First" + bad + b"20")
    error = both_reject(data, _config(), _lms_of(rows))
    assert isinstance(error, FileLevelError) and error.byte is not None and error.line == 22
    # With a BOM the byte offset still counts from the file's first byte.
    error = both_reject(b"\xef\xbb\xbf" + data, _config(), _lms_of(rows))
    assert isinstance(error, FileLevelError) and error.line == 22


def test_a_nul_byte_falls_back() -> None:
    rows = _rows()
    data = _text([_HEADER, *rows]).encode().replace(b"First20", b"First\x0020")
    desired = both(data, _config(), _lms_of(rows))
    assert desired.settled == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param((",".join(_HEADER) + "\n").encode(), id="header-only"),
        pytest.param(",".join(_HEADER).encode(), id="header-without-line-break"),
        pytest.param((",".join(_HEADER) + "\r\n\r\n\n").encode(), id="header-and-blank-lines"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\n\n", id="blank-lines"),
        pytest.param(b"  \t ", id="spaces"),
        pytest.param(b"\xef\xbb\xbf", id="bom-only"),
        pytest.param(b"\n" + (",".join(_HEADER) + "\n").encode(), id="blank-line-then-header"),
    ],
)
def test_a_file_without_rows_is_rejected_alike(data: bytes) -> None:
    error = both_reject(data, _config(), _lms_of(_rows()))
    assert isinstance(error, FileLevelError)


@pytest.mark.parametrize(
    ("header", "config"),
    [
        pytest.param(";".join(_HEADER), _config(), id="undetected-delimiter"),
        pytest.param(",".join(_HEADER).replace("email", "mail"), _config(), id="missing-required-column"),
        pytest.param(",".join(_HEADER).replace("title", "firstName"), _config(), id="duplicate-column"),
        pytest.param(",".join(_HEADER) + ",", _config(), id="unnamed-column"),
        pytest.param(",".join(_HEADER), _config(filter={"contract": ["CDI"]}), id="filter-column-absent"),
        pytest.param('"uniqueId,status,email', _config(), id="header-with-unclosed-quote"),
    ],
)
def test_a_bad_header_is_rejected_alike(header: str, config: Hris) -> None:
    rows = _rows()
    data = (header + "\n" + _text(rows)).encode()
    error = both_reject(data, config, _lms_of(rows))
    assert isinstance(error, FileLevelError)


def test_a_field_over_csv_s_size_limit_is_rejected_alike() -> None:
    import csv  # noqa: PLC0415

    rows = _rows()
    rows[7][4] = "x" * (csv.field_size_limit() + 1)
    error = both_reject(_text([_HEADER, *rows]).encode(), _config(), _lms_of(_rows()))
    assert isinstance(error, FileLevelError)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(
            _config(groups={"rules": [{"when": {"country": ["France"]}, "group": "g-none"}]}), id="rule"
        ),
        pytest.param(_config(group="g-elsewhere"), id="root"),
    ],
)
def test_a_group_missing_from_the_lms_is_rejected_alike(config: Hris) -> None:
    rows = _rows()
    error = both_reject(_text([_HEADER, *rows]).encode(), config, _lms_of(rows))
    assert isinstance(error, PlanError)


def test_the_deletion_guard_trips_alike() -> None:
    rows = _rows()
    leaving = [[*row[:1], "Inactive", *row[2:]] if i % 4 == 0 else row for i, row in enumerate(rows)]
    desired = both(_text([_HEADER, *leaving]).encode(), _config(safety={"max_deletions": 3}), _lms_of(rows))
    assert desired.settled > 0


# --- the golden inputs ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_inputs_plan_alike(name: str) -> None:
    scenario, config, data = SCENARIOS[name]()
    both(data, config, scenario.snapshot)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_inputs_made_columnar_plan_alike(name: str) -> None:
    """The goldens hold a renamed definition, which sends the whole file to the reference;
    without it the columnar path settles rows (their field over two lines goes to csv)."""
    scenario, config, data = SCENARIOS[name]()
    snapshot = dataclasses.replace(
        scenario.snapshot,
        previous_custom_fields=frozenset(),
        custom_fields=(*scenario.snapshot.custom_fields, CustomFieldDefinition("cf-badge", "Badge")),
    )
    desired = both(data, config, snapshot)
    assert desired.settled > 0


# --- lookups by hash ------------------------------------------------------------------


def _by_length(series: Any, *_: Any, **__: Any) -> Any:
    """A hash that collides on purpose: every text of one length gets one value."""
    return series.str.len_bytes().cast(polars.UInt64)


@pytest.mark.parametrize("collide", [False, True], ids=["real-hash", "colliding-hash"])
def test_positions_find_each_key_once_or_nowhere(collide: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    table = polars.Series(["a", "bb", "ccc", "", "dddd"])
    keys = polars.Series(["ccc", "zz", "a", None, "", "dddd", "bb", "eeeee", "ccc"])
    if collide:  # "zz" meets "bb"'s hash: its text is nowhere in the table
        monkeypatch.setattr(polars.Series, "hash", _by_length)
    assert columnar._positions(keys, table).to_list() == [2, None, 0, None, 3, 4, 1, None, 2]
    assert columnar._positions(keys, table.clear()).to_list() == [None] * keys.len()
    assert columnar._positions(keys.clear(), table).to_list() == []


def test_positions_of_a_table_whose_hashes_meet_are_joined_on_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polars.Series, "hash", _by_length)
    table = polars.Series(["ab", "cd", "e"])
    keys = polars.Series(["cd", "ef", "e", "ab"])
    assert columnar._positions(keys, table).to_list() == [1, None, 2, 0]


@pytest.mark.parametrize("collide", [False, True], ids=["real-hash", "colliding-hash"])
def test_all_distinct_counts_texts_when_hashes_meet(collide: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if collide:
        monkeypatch.setattr(polars.Series, "hash", _by_length)
    assert all_distinct(polars.Series(["ab", "cd", None, None, "e"]))
    assert not all_distinct(polars.Series(["ab", "cd", "ab"]))


@pytest.mark.parametrize("missing_users", ["keep", "delete"])
@pytest.mark.parametrize("twice", [False, True], ids=["uids-distinct", "a-uid-twice"])
@pytest.mark.parametrize("collide", [False, True], ids=["real-hash", "colliding-hash"])
def test_a_leaving_managers_team_is_planned(
    missing_users: str, twice: bool, collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager found in the file must be found, whatever the lookup's path: a miss would
    take it for a user outside the file, which stays (``missing_users: keep``), and settle
    its team while its row leaves."""
    if collide:
        monkeypatch.setattr(polars.Series, "hash", _by_length)
    rows = _rows()
    lines = [list(row) for row in rows]
    lines[10][1] = "Inactive"  # E010 leaves; E011 names it as manager
    if twice:
        lines.append(list(rows[30]))  # E030 on two rows: the manager lookup keeps first rows
    desired = both(_text([_HEADER, *lines]).encode(), _config(missing_users=missing_users), _lms_of(rows))
    assert "E011" in desired.users and "E012" not in desired.users
    assert desired.settled == _ROWS - (4 if twice else 2)


def test_a_header_polars_may_take_for_compressed_data_plans_alike() -> None:
    """polars reads the header line first: one opening like zlib data ("x^") makes it
    raise, and the file goes to the reference reader whole."""
    rows = _rows()
    header = ["x^note", *_HEADER]
    data = _text([header, *(["", *row] for row in rows)]).encode()
    assert columnar._cut(data, "hris.csv", _config()) is None
    assert both(data, _config(), _lms_of(rows)).settled == 0
