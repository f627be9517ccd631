"""Golden outputs of the whole core for rule-dense seeded inputs (``scenarios.py``).

Each scenario pins, byte for byte: the rows and lines the reader produced, every desired
user, every action of the plan, the plan JSON (masked and unmasked) and the text rendering.
They were recorded before the core was optimised for speed, so a faster core that still
matches them provably plans the same thing. After an intended behaviour change, regenerate
with ``LMSYNC_UPDATE_GOLDEN=1 pytest tests/engine/hris/test_hris_golden.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config.models import FileNaming, Hris
from engine.hris import (
    CustomFieldDefinition,
    DeletionGuardTrippedError,
    Plan,
    build_desired,
    plan_sync,
    plan_to_json,
    read_rows,
    render_text,
)
from engine.hris.actions import ACTION_ORDER

from .scenarios import DEFINITIONS, FULL_HEADER, Scenario, full_config, generate, lean_config

GOLDEN = Path(__file__).parent / "golden"
LEAN_HEADER = ["uniqueId", "status", "email", "title", "firstName", "location", "country"]

SCENARIOS: dict[str, Callable[[], tuple[Scenario, Hris, bytes]]] = {}


def scenario(name: str) -> Callable[[Callable[[], tuple[Scenario, Hris, bytes]]], None]:
    def register(build: Callable[[], tuple[Scenario, Hris, bytes]]) -> None:
        SCENARIOS[name] = build

    return register


@scenario("full-csv")
def _full() -> tuple[Scenario, Hris, bytes]:
    s = generate(1, 250)
    return s, full_config(), s.text.encode()


@scenario("full-tsv-bom-keep")
def _tsv() -> tuple[Scenario, Hris, bytes]:
    s = generate(2, 180, delimiter="\t")
    return s, full_config(missing_users="keep"), b"\xef\xbb\xbf" + s.text.encode()


@scenario("lean-semicolon")
def _lean() -> tuple[Scenario, Hris, bytes]:
    s = generate(3, 150, header=LEAN_HEADER, delimiter=";")
    return s, lean_config(file={"delimiter": ";"}), s.text.encode()


@scenario("no-groups-no-fields")
def _bare() -> tuple[Scenario, Hris, bytes]:
    s = generate(5, 120, header=["uniqueId", "email", "status", "managerId"])
    return s, lean_config(fields={"managerId": "manager"}, custom_fields={}), s.text.encode()


@scenario("mostly-unchanged")
def _steady() -> tuple[Scenario, Hris, bytes]:
    badge = CustomFieldDefinition("cf-badge", "Badge")
    s = generate(6, 250, same=600, definitions=(*DEFINITIONS, badge))
    return s, full_config(), s.text.encode()


@scenario("guard-tripped")
def _guard() -> tuple[Scenario, Hris, bytes]:
    s = generate(4, 120, header=FULL_HEADER)
    return s, full_config(safety={"max_deletions": "1%"}), s.text.encode()


def _action(action: Any) -> list[Any]:
    return [type(action).__name__, dataclasses.asdict(action)]


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "actions": [_action(a) for a in plan.actions],
        "json": json.dumps(plan_to_json(plan), sort_keys=True),
        "json_unmasked": plan_to_json(plan, show_personal_data=True),
        "text": render_text(plan).splitlines(),
        "is_empty": plan.is_empty,
    }


def record(name: str) -> dict[str, Any]:
    s, config, data = SCENARIOS[name]()
    hris_file = read_rows(data, file_name=f"{name}.csv", naming=config.file or FileNaming())
    desired = build_desired(hris_file, config)
    out: dict[str, Any] = {
        "file": {
            "header": list(hris_file.header),
            "delimiter": hris_file.delimiter,
            "rows": [list(row) for row in hris_file.rows],
            "lines": list(hris_file.lines),
        },
        "desired": {
            "users": [[getattr(u, f.name) for f in dataclasses.fields(u)] for u in desired.users.values()],
            "present": sorted(desired.present),
            "profile_fields": list(desired.profile_fields),
            "custom_fields": [[c.title, c.type] for c in desired.custom_fields],
            "has_manager": desired.has_manager,
            "problems": [(p.line, p.unique_id, p.code, p.message) for p in desired.problems],
            "counts": [desired.duplicated, desired.ignored, desired.filtered_out],
        },
    }
    try:
        out["plan"] = _plan(plan_sync(desired, s.snapshot, config))
    except DeletionGuardTrippedError as exc:
        out["guard"] = {"message": str(exc), "deletions": exc.deletions, "allowed": exc.allowed}
        out["plan"] = _plan(exc.plan)
    return out


def _dumps(value: Any, indent: str = "") -> str:
    """JSON with one short value per line: small enough to commit, readable in a diff."""
    flat = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(flat) <= 120 or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = indent + " "
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        lines, line = [], ""
        for item in (json.dumps(v, ensure_ascii=False) for v in value):
            if line and len(line) + len(item) > 100:
                lines.append(line)
                line = ""
            line += (", " if line else "") + item
        return "[\n" + ",\n".join(inner + piece for piece in [*lines, line]) + "\n" + indent + "]"
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + "\n" + indent + "]"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_core_output_matches_golden_file(name: str) -> None:
    text = _dumps(record(name)) + "\n"
    golden = GOLDEN / f"core-{name}.json"
    if os.environ.get("LMSYNC_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run with LMSYNC_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text(encoding="utf-8")


def test_scenarios_reach_every_outcome_the_core_has() -> None:
    """The goldens are only proof if the inputs are rich: every action type, every summary
    count and every problem code must occur in at least one scenario."""
    actions: set[str] = set()
    summary: dict[str, int] = {}
    codes: set[str] = set()
    for name in SCENARIOS:
        plan = record(name)["plan"]
        actions.update(a[0] for a in plan["actions"])
        for key, value in plan["json_unmasked"]["summary"].items():
            summary[key] = summary.get(key, 0) + value
        codes.update(p["code"] for p in plan["json_unmasked"]["problems"])
    assert actions == {action.__name__ for action in ACTION_ORDER}  # every kind of action
    assert all(summary.values()), summary
    assert codes == {
        "duplicated", "empty_unique_id", "wrong_field_count", "invalid_email", "unknown_language",
        "invalid_date", "invalid_group_name", "unknown_manager", "email_in_use", "duplicated_email",
    }  # fmt: skip
