"""The bulk paths decide exactly like the rules they speed up.

``build_desired`` checks whole columns and hands only flagged rows to the per-row rules;
``plan_sync`` settles users the LMS already matches in bulk and plans the rest one by one.
Here both are compared with the plain versions on rule-dense inputs: every row through the
per-row rules, every user through the per-user planner (a ``DesiredState`` whose users are
a plain dict takes that path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from engine.config.models import Hris
from engine.hris import (
    CustomFieldDefinition,
    DeletionGuardTrippedError,
    DesiredState,
    DesiredUser,
    Plan,
    Problem,
    Snapshot,
    build_desired,
    plan_sync,
    read_rows,
)
from engine.hris import planner as planner_module
from engine.hris.desired import Rules
from engine.hris.unchanged import Settled, settle

from .scenarios import DEFINITIONS, clean, clean_config, full_config, generate, lean_config
from .test_hris_golden import SCENARIOS

BADGE = CustomFieldDefinition("cf-badge", "Badge")


def _steady(seed: int, **config: Any) -> Callable[[], tuple[str, Snapshot, Hris]]:
    def build() -> tuple[str, Snapshot, Hris]:
        s = generate(seed, 1500, same=2000, definitions=(*DEFINITIONS, BADGE))
        return s.text, s.snapshot, full_config(**config)

    return build


def _golden(name: str) -> Callable[[], tuple[str, Snapshot, Hris]]:
    def build() -> tuple[str, Snapshot, Hris]:
        s, config, data = SCENARIOS[name]()
        return data.decode("utf-8-sig"), s.snapshot, config

    return build


CASES: dict[str, Callable[[], tuple[str, Snapshot, Hris]]] = {
    **{f"golden-{name}": _golden(name) for name in SCENARIOS},
    "steady": _steady(11),
    "steady-no-rules": _steady(12, groups={"hierarchy": ["country", "site"]}),
    "steady-no-filter-keep": _steady(13, filter={}, missing_users="keep"),
    "clean": lambda: (clean(3000).text, clean(3000).snapshot, clean_config()),
    "steady-lean": lambda: (
        generate(14, 1500, same=2000).text,
        generate(14, 1500, same=2000).snapshot,
        lean_config(fields={"firstName": "first_name", "title": "title", "managerId": "manager"}),
    ),
}


def _desired(name: str) -> tuple[DesiredState, Snapshot, Hris, Any]:
    text, snapshot, config = CASES[name]()
    hris_file = read_rows(text.encode(), file_name="f.csv", naming=config.file)
    return build_desired(hris_file, config), snapshot, config, hris_file


def _row_by_row(hris_file: Any, config: Hris) -> tuple[dict[str, DesiredUser], list[Problem], frozenset[str]]:
    """Every row through the per-row rules, duplicates and present keys the obvious way."""
    rules = Rules(hris_file.header, config)
    rows, lines = list(hris_file.rows), list(hris_file.lines)
    keys = [row[rules.uid_i].strip() if len(row) > rules.uid_i else "" for row in rows]
    regular = [len(row) == rules.width for row in rows]
    lines_of: dict[str, list[int]] = {}
    for key, ok, line in zip(keys, regular, lines, strict=True):
        if key and ok:
            lines_of.setdefault(key, []).append(line)
    duplicates = {key: found for key, found in lines_of.items() if len(found) > 1}
    users: dict[str, DesiredUser] = {}
    problems: list[Problem] = []
    for row, line in zip(rows, lines, strict=True):
        outcome = rules.outcome(row, line, duplicates)
        if isinstance(outcome, DesiredUser):
            users[outcome.unique_id] = outcome
        elif outcome is not None:
            problems.append(outcome)
    return users, problems, frozenset(key for key in keys if key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bulk_desired_state_equals_the_per_row_rules(name: str) -> None:
    desired, _, config, hris_file = _desired(name)
    users, problems, present = _row_by_row(hris_file, config)
    assert list(desired.users) == list(users)
    assert list(desired.users.values()) == list(users.values())
    assert dict(desired.users.items()) == users and desired.users == users
    assert list(desired.problems) == sorted(problems, key=lambda p: p.line)
    assert desired.present == present
    for key in list(users)[:50]:
        assert desired.users[key] == users[key] and key in desired.users
    assert "no such key" not in desired.users and desired.users.get("no such key") is None


def _plan(desired: DesiredState, snapshot: Snapshot, config: Hris) -> Plan:
    try:
        return plan_sync(desired, snapshot, config)
    except DeletionGuardTrippedError as exc:
        return exc.plan


@pytest.mark.parametrize("name", sorted(CASES))
def test_bulk_planner_equals_the_per_user_planner(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    desired, snapshot, config, _ = _desired(name)
    settled: list[Settled] = []
    real = settle  # the function the planner imported; patched there by name below

    def spy(*args: Any, **kwargs: Any) -> Settled:
        settled.append(real(*args, **kwargs))
        return settled[-1]

    monkeypatch.setattr(planner_module, "settle", spy)
    bulk = _plan(desired, snapshot, config)
    one_by_one = _plan(dataclasses.replace(desired, users=dict(desired.users)), snapshot, config)
    assert bulk.actions == one_by_one.actions
    assert bulk.changes == one_by_one.changes
    assert bulk.summary == one_by_one.summary
    assert bulk.problems == one_by_one.problems
    assert bulk.guard == one_by_one.guard
    if name.startswith(("steady", "clean")):
        # Not vacuous: most unchanged users were settled in bulk, not one by one.
        assert len(settled[0].rows) > 0.8 * bulk.summary.unchanged > 300
