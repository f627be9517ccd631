"""Seeded, rule-dense HRIS scenarios: a file, a snapshot and a config exercising every branch.

The golden tests pin what the core produces for these inputs (rows, desired state, actions,
plan JSON, text) so that any rewrite of the core for speed can be proven to change nothing.
Each user draws its row and its LMS state from a seeded ``random.Random``: the mix covers
duplicates, invalid rows, filters, status spellings, adoption, restoration, e-mails in use,
custom-field drift (missing, stale, unmanaged, renamed), group moves, cascades, new groups,
rules, managers (set, changed, removed, unknown, self, deleted) and the missing-users policy.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from typing import Any

from engine.config.models import Hris
from engine.hris import CustomFieldDefinition, CustomValue, ExternalId, LmsGroup, LmsUser, Snapshot

from .factories import ROOT_ID, hris_config

FULL_HEADER = [
    "uniqueId", "status", "email", "firstName", "lastName", "title", "organization", "managerId",
    "language", "location", "hireDate", "badge", "country", "site", "department", "contract",
]  # fmt: skip

GROUPS = (
    LmsGroup(ROOT_ID, "Acme"),
    LmsGroup("g-fr", "France", ROOT_ID, public=True),
    LmsGroup("g-es", "Spain", ROOT_ID),
    LmsGroup("g-paris", "Paris", "g-fr", public=True),
    LmsGroup("g-paris-2", "Paris", "g-fr", public=True),  # same name: the first id wins
    LmsGroup("g-lyon", "Lyon", "g-fr"),
    LmsGroup("g-madrid", "Madrid", "g-es", public=True),
    LmsGroup("g-paris-east", "East", "g-paris", public=True),  # below the configured depth
    LmsGroup("g-sales", "Sales team", None),
    LmsGroup("g-biz", "Business", "g-club", public=True),
    LmsGroup("g-club", "Book club", None),
)
LEAF = {("France", "Paris"): "g-paris", ("France", "Lyon"): "g-lyon", ("Spain", "Madrid"): "g-madrid"}
DEFINITIONS = (
    CustomFieldDefinition("cf-loc", "Location"),
    CustomFieldDefinition("cf-loc-2", "Location"),  # duplicate title: the smallest id wins
    CustomFieldDefinition("cf-hire", "Hire date", "date"),
    CustomFieldDefinition("cf-hobby", "Hobby"),
    CustomFieldDefinition("cf-old", "Site (old)"),  # renamed in the LMS: stale
)


LANG = {"fr": "fr", "en": "en", "français": "fr", "english": "en"}


def full_config(**overrides: Any) -> Hris:
    base: dict[str, Any] = {
        "fields": {
            "firstName": "first_name", "lastName": "last_name", "title": "title",
            "organization": "organization", "managerId": "manager", "language": "language",
        },
        "languages": {"Français": "fr", "English": "en"},
        "custom_fields": {
            "location": "Location", "hireDate": {"title": "Hire date", "type": "date"},
            "badge": "Badge",
        },
        "filter": {"contract": ["CDI", "CDD"]},
        "groups": {
            "hierarchy": ["country", "site"],
            "rules": [
                {"when": {"department": ["Sales"]}, "group": "g-sales"},
                {"when": {"department": ["Sales", "Marketing"], "country": ["France"]}, "group": "g-biz"},
            ],
        },
        "missing_users": "delete",
        "safety": {"max_deletions": 100_000},
    }  # fmt: skip
    base.update(overrides)
    return hris_config(**base)


def lean_config(**overrides: Any) -> Hris:
    base: dict[str, Any] = {
        "fields": {"firstName": "first_name", "title": "title"},
        "custom_fields": {"location": "Location"},
        "silent": True,
        "safety": {"max_deletions": 100_000},
    }
    base.update(overrides)
    return hris_config(**base)


@dataclass
class Scenario:
    text: str
    snapshot: Snapshot


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def generate(
    seed: int,
    users: int,
    header: list[str] = FULL_HEADER,
    delimiter: str = ",",
    *,
    same: int = 30,
    definitions: tuple[CustomFieldDefinition, ...] = DEFINITIONS,
) -> Scenario:
    """``same``: weight of LMS users already matching their row (the common case of a
    daily sync); ``definitions``: the LMS's custom field definitions."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    lms: list[LmsUser] = []
    links: list[ExternalId] = []
    learners: dict[str, set[str]] = {g.id: set() for g in GROUPS}
    uids = [f"E{i:04d}" for i in range(users)]
    for i, uid in enumerate(uids):
        email = f"user{i}@acme.example"
        cell: dict[str, str] = {
            "uniqueId": _pick(rng, [(uid, 40), (f" {uid} ", 2), ("", 1), (rng.choice(uids[: i + 1]), 2)]),
            "status": _pick(rng, [("Active", 30), (" active ", 3), ("ACTIVE", 2), ("Inactive", 4), ("", 1)]),
            "email": _pick(rng, [
                (email, 30), (f"  User{i}@ACME.example ", 3), ("not-an-email", 1), ("", 1),
                ("a b@acme.example", 1), (f"user{rng.randrange(users)}@acme.example", 2),
                (f"lms-only{i % 7}@acme.example", 2),
            ]),
            "firstName": _pick(rng, [(f"First{i}", 10), ("", 1), (f" First{i} ", 1)]),
            "lastName": _pick(rng, [(f"Last{i}", 10), ("", 1)]),
            "title": _pick(rng, [(f"Title {i % 5}", 10), ("Chief, \"Tea\" Officer", 1),
                                 ("Two\nlines", 1), ("", 1)]),
            "organization": _pick(rng, [("Acme", 10), ("", 1)]),
            "managerId": _pick(rng, [
                ("", 4), (rng.choice(uids), 10), (uid, 1), ("NOBODY", 1), (f"M{i % 3}", 1),
            ]),
            "language": _pick(rng, [("fr", 6), ("EN", 2), ("Français", 2), ("english", 1), ("", 2),
                                    ("xx", 1)]),
            "location": _pick(rng, [(f"Loc {i % 4}", 10), ("", 2)]),
            "hireDate": _pick(rng, [(f"2020-0{1 + i % 9}-1{i % 9}", 10), ("", 2), ("2023-02-29", 1),
                                    ("2023/01/01", 1)]),
            "badge": _pick(rng, [(f"B{i % 3}", 5), ("", 3)]),
            "country": "", "site": "",
            "department": _pick(rng, [("Sales", 4), ("Marketing", 3), ("HR", 4), ("", 1)]),
            "contract": _pick(rng, [("CDI", 10), ("CDD", 3), ("Intern", 2)]),
        }  # fmt: skip
        country, site = _pick(rng, [
            (("France", "Paris"), 10), (("France", "Lyon"), 5), (("Spain", "Madrid"), 5),
            (("Italy", "Rome"), 2), (("France", "Nice"), 2), (("France", ""), 1), (("", "Paris"), 1),
            (("A › B", "X"), 1), ((" Spain ", " Madrid "), 1),
        ])  # fmt: skip
        cell["country"], cell["site"] = country, site
        row = [cell[name] for name in header]
        shape = _pick(rng, [("ok", 60), ("short", 1), ("long", 1), ("blank-before", 1)])
        if shape == "short":
            row = row[:-1]
        elif shape == "long":
            row = [*row, "extra"]
        elif shape == "blank-before":
            rows.append([])
        rows.append(row)

        state = _pick(rng, [
            ("absent", 5), ("same", same), ("drift", 15), ("deleted", 3), ("deleted-taken", 1),
            ("unlinked", 3), ("unlinked-deleted", 1), ("linked-other", 1),
        ])  # fmt: skip
        if state == "absent":
            continue
        user_id = f"u{i}"
        mail = cell["email"].strip().lower() if state != "linked-other" else f"other{i}@acme.example"
        if state == "drift":
            mail = _pick(rng, [(mail, 5), (mail.upper(), 1), (f"old{i}@acme.example", 1)])
        lang = LANG.get(cell["language"].strip().casefold())
        values = [
            CustomValue("cf-loc", "string", cell["location"].strip()),
            CustomValue("cf-hire", "date", cell["hireDate"]),
            CustomValue("cf-badge", "string", cell["badge"]),
        ]
        values = [v for v in values if any(d.id == v.field_id for d in definitions)]
        values = [v for v in values if v.value]
        if state == "drift":
            values = _pick(rng, [
                (values, 3), ([], 1), ([*values, CustomValue("cf-hobby", "string", "Chess")], 2),
                ([CustomValue("cf-old", "string", "Old"), *values], 2),
                ([CustomValue("cf-loc", "string", "Elsewhere")], 1),
                ([CustomValue("cf-loc-2", "string", "Dup")], 1),
            ])  # fmt: skip
        managers: tuple[str, ...] = ()
        boss = cell["managerId"].strip()
        if boss.startswith("E"):
            managers = (f"u{int(boss[1:])}",)
        if state != "same":
            managers = _pick(rng, [(managers, 8), ((), 2), (("u0",), 1), (("u1", "u2"), 1)])
        title = cell["title"].strip() or None
        if state == "drift":
            title = _pick(rng, [(cell["title"] or None, 6), ("Old title", 1)])
        lms.append(
            LmsUser(
                user_id,
                mail,
                "deleted" if state.endswith("deleted") or state == "deleted-taken" else "active",
                cell["firstName"].strip() or None,
                _pick(rng, [(cell["lastName"] or None, 8), ("Renamed", 1)]),
                cell["organization"] or None,  # the LMS API gives absent fields as null
                title,
                _pick(rng, [(lang, 6), ("fr", 1), ("en", 1), (None, 1)]) if state != "same" else lang,
                tuple(values),
                managers,
            )
        )
        if state == "deleted-taken":
            lms.append(LmsUser(f"t{i}", mail, "active"))
        if not state.startswith("unlinked"):
            links.append(ExternalId(user_id, uid if state != "linked-other" else f"X{i}"))
        where = LEAF.get((country.strip(), site.strip()))
        department = cell["department"].strip()
        rule_groups = ["g-sales"] if department == "Sales" else []
        if department in ("Sales", "Marketing") and country.strip() == "France":
            rule_groups.append("g-biz")
        if state == "same":
            for group_id in (ROOT_ID, where, *rule_groups):
                if group_id is not None:
                    learners[group_id].add(user_id)
            continue
        if _pick(rng, [(True, 12), (False, 1)]):
            learners[ROOT_ID].add(user_id)
        where = _pick(rng, [(where, 8), ("g-lyon", 1), ("g-paris-2", 1), ("g-fr", 1), (None, 1)])
        if where is not None:
            learners[where].add(user_id)
        extras = ["g-sales", "g-biz", "g-club", "g-paris-east", "g-es"]
        for extra in _pick(rng, [(rule_groups, 4), (rng.sample(extras, k=rng.randrange(3)), 1)]):
            learners[extra].add(user_id)
    # Users only in the LMS, managed users absent from the file, and a corrupt double link.
    for k in range(7):
        status = _pick(rng, [("active", 3), ("deleted", 1)])
        lms.append(LmsUser(f"lms-{k}", f"lms-only{k}@acme.example", status))
    for k in range(5):
        lms.append(LmsUser(f"gone-{k}", f"gone{k}@acme.example", "active" if k else "deleted"))
        links.append(ExternalId(f"gone-{k}", f"G{k}"))
        learners[ROOT_ID].add(f"gone-{k}")
    links.append(ExternalId("gone-1", "G9"))
    links.append(ExternalId("u-missing", "G8"))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if seed % 2 else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Scenario(
        out.getvalue(),
        Snapshot(
            users=tuple(lms),
            external_ids=tuple(links),
            custom_fields=definitions,
            groups=GROUPS,
            learners={gid: frozenset(ids) for gid, ids in learners.items()},
            previous_custom_fields=frozenset({"cf-old", "cf-loc"}),
        ),
    )


CLEAN_HEADER = [
    "uniqueId", "status", "email", "firstName", "lastName", "title", "organization", "managerId",
    "language", "location", "hireDate", "country", "site",
]  # fmt: skip


def clean_config() -> Hris:
    return hris_config(
        fields={
            "firstName": "first_name", "lastName": "last_name", "title": "title",
            "organization": "organization", "managerId": "manager", "language": "language",
        },
        custom_fields={"location": "Location", "hireDate": {"title": "Hire date", "type": "date"}},
        groups={"hierarchy": ["country", "site"]},
        safety={"max_deletions": 100_000},
    )  # fmt: skip


def clean(users: int) -> Scenario:
    """A well-formed export and the LMS a previous sync left, then 5% drift (like the
    benchmark): 1% new, 1% leavers, 2% new titles, 1% moved; every value already valid
    and normalized, so the bulk paths' shortcuts apply."""
    sites = {("France", "Paris"): "g-paris", ("France", "Lyon"): "g-lyon", ("Spain", "Madrid"): "g-madrid"}
    places = list(sites)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CLEAN_HEADER)
    lms: list[LmsUser] = []
    links: list[ExternalId] = []
    learners: dict[str, set[str]] = {g.id: set() for g in GROUPS}
    for i in range(users):
        country, site = places[i % 3]
        boss = f"E{i // 10 * 10:05d}" if i % 10 else ""
        row = [
            f"E{i:05d}", "Inactive" if i % 100 == 1 else "Active", f"user{i}@acme.example", f"First{i}",
            f"Last{i}", f"Title {i % 7}", "Acme", boss, "fr" if i % 3 else "en",
            f"Loc {i % 4}", f"2020-0{1 + i % 9}-1{i % 9}", country, site,
        ]  # fmt: skip
        writer.writerow(row)
        if i % 100 == 2:
            continue
        user_id = f"u{i}"
        title = "Old title" if i % 50 == 3 else row[5]
        values = (CustomValue("cf-loc", "string", row[9]), CustomValue("cf-hire", "date", row[10]))
        managers = (f"u{i // 10 * 10}",) if boss else ()
        lms.append(
            LmsUser(user_id, row[2], "active", row[3], row[4], row[6], title, row[8], values, managers)
        )
        links.append(ExternalId(user_id, row[0]))
        learners[ROOT_ID].add(user_id)
        learners[sites[places[(i + 1) % 3] if i % 100 == 4 else (country, site)]].add(user_id)
    return Scenario(
        out.getvalue(),
        Snapshot(
            users=tuple(lms),
            external_ids=tuple(links),
            custom_fields=DEFINITIONS,
            groups=GROUPS,
            learners={gid: frozenset(ids) for gid, ids in learners.items()},
        ),
    )
