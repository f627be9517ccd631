"""Turns a plan into what people and tools read: the JSON contract and a plain-text diff.

The JSON (``plan_to_json``) is a contract used by CI and other tools: its keys are fixed
(``version``, ``summary``, ``changes``, ``problems``, ``guard``), counts are integers, changes
are one per user sorted by ``uniqueId``, and the same plan always gives byte-identical
``json.dumps(..., sort_keys=True)`` output. The text (``render_text``) is for terminals until
the Jinja2 templates take over.

This module must never show an e-mail or a name unless ``show_personal_data`` is True, and
never compute anything about the sync: it only renders the plan it is given.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from engine.hris.plan import Change, Plan
from engine.hris.privacy import shown

PLAN_FORMAT_VERSION = 1

_SIGN = {"create": "+", "restore": "+", "adopt": "~", "update": "~", "delete": "-"}


def plan_to_json(plan: Plan, *, show_personal_data: bool = False) -> dict[str, Any]:
    """The plan as the JSON contract (a dict of str, int, list, dict and None only)."""
    return {
        "version": PLAN_FORMAT_VERSION,
        "summary": asdict(plan.summary),
        "changes": [_change(change, show_personal_data) for change in plan.changes],
        "problems": [
            {"line": p.line, "unique_id": p.unique_id, "code": p.code, "message": p.message}
            for p in plan.problems
        ],
        "guard": {
            "deletions": plan.guard.deletions,
            "allowed": plan.guard.allowed,
            "tripped": plan.guard.tripped,
        },
    }


def _change(change: Change, show_personal_data: bool) -> dict[str, Any]:
    return {
        "action": change.action,
        "unique_id": change.unique_id,
        "fields": {
            f.name: {
                "from": shown(f.name, f.before, show_personal_data=show_personal_data),
                "to": shown(f.name, f.after, show_personal_data=show_personal_data),
            }
            for f in change.fields
        },
        "groups": {"add": list(change.groups_add), "remove": list(change.groups_remove)},
    }


def render_text(plan: Plan, *, show_personal_data: bool = False) -> str:
    """A plain-text diff: counts, one block per changed user, problems, the guard."""
    s = plan.summary
    out = [
        f"Plan: {s.create} to create, {s.update} to update, {s.restore} to restore, "
        f"{s.delete} to delete, {s.unchanged} unchanged.",
        f"Rows set aside: {s.duplicated} duplicated, {s.ignored} ignored, {s.filtered_out} filtered out."
        + (f" {s.no_group_rule} synced user(s) matched no group rule." if s.no_group_rule else ""),
    ]
    if plan.changes:
        out.append("")
    for change in plan.changes:
        out.append(f"{_SIGN[change.action]} {change.action} {change.unique_id}")
        for f in change.fields:
            before = _quoted(shown(f.name, f.before, show_personal_data=show_personal_data))
            after = _quoted(shown(f.name, f.after, show_personal_data=show_personal_data))
            out.append(f"    {f.name}: {after}" if f.before is None else f"    {f.name}: {before} → {after}")
        out.extend(f"    group + {name}" for name in change.groups_add)
        out.extend(f"    group - {name}" for name in change.groups_remove)
    if plan.problems:
        out += ["", "Problems:"]
        out.extend(
            f"  line {p.line}"
            + (f" (uniqueId {p.unique_id})" if p.unique_id else "")
            + f": {p.code}: {p.message}"
            for p in plan.problems
        )
    guard = plan.guard
    out += [
        "",
        f"Deletion guard: {guard.deletions} deletion(s), at most {guard.allowed} allowed"
        + (" — TRIPPED, nothing will be written." if guard.tripped else "."),
    ]
    if plan.is_empty:
        out.append("No changes: the LMS already matches the file.")
    return "\n".join(out) + "\n"


def _quoted(value: str | None) -> str:
    return "(empty)" if value is None else f'"{value}"'
