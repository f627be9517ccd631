"""The plan as Markdown, for a pull request or an issue: counts, a table of users, problems.

It speaks like the review comment (``engine.review.render``): users appear as ``u:`` plus a
short hash of their ``uniqueId`` and e-mails and names as ``<masked:…>``, unless the customer
file opts in with ``review.show_personal_data``. It must never compute anything about the
sync: it renders the plan JSON it is given (``plan_to_json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.review.render import scrub, shown_value, user_handle

_SIGN = {"create": "+", "restore": "+", "adopt": "~", "update": "~", "delete": "-"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_plan_markdown(plan: Mapping[str, Any], *, title: str, show_personal_data: bool = False) -> str:
    """``plan`` is ``plan_to_json``'s output; ``title`` names the customer and environment."""
    show = show_personal_data
    s = plan["summary"]
    out = [
        f"## {title}",
        "",
        f"**+{s['create']} create · ~{s['update']} update · +{s['restore']} restore · "
        f"-{s['delete']} delete** · {s['unchanged']} unchanged",
        "",
        f"Rows set aside: {s['duplicated']} duplicated, {s['ignored']} ignored, "
        f"{s['filtered_out']} filtered out"
        + (f"; {s['no_group_rule']} matched no group rule." if s["no_group_rule"] else "."),
    ]
    guard = plan["guard"]
    verdict = "⛔ **tripped**: nothing would be written" if guard["tripped"] else "✅ within the limit"
    out += [
        "",
        f"Deletion guard: {guard['deletions']} deletion(s), at most {guard['allowed']} allowed — {verdict}.",
    ]
    if plan["changes"]:
        out += ["", "| user | action | what changes |", "|---|---|---|"]
        for change in plan["changes"]:
            said = [
                f"{name}: {shown_value(name, v.get('from'), show)} → {shown_value(name, v.get('to'), show)}"
                for name, v in change["fields"].items()
            ]
            said += [f"+group {g}" for g in change["groups"]["add"]]
            said += [f"-group {g}" for g in change["groups"]["remove"]]
            uid = change["unique_id"]
            user = uid if show else user_handle(uid)
            action = f"{_SIGN.get(change['action'], '')}{change['action']}"
            out.append(f"| `{_cell(user)}` | {action} | {_cell('; '.join(said) or '-')} |")
    else:
        out += ["", "No changes: the LMS already matches the file."]
    if plan["problems"]:
        out += ["", "**Problems**", "", "| line | user | code | message |", "|---|---|---|---|"]
        for p in plan["problems"]:
            user = p["unique_id"] if show else user_handle(p["unique_id"])
            out.append(
                f"| {p['line']} | `{_cell(user)}` | {p['code']} | {_cell(scrub(p['message'], show))} |"
            )
    return "\n".join(out) + "\n"
