"""Renders a review as the pull-request comment (Markdown), terminal text, or JSON.

The comment is read by a reviewer deciding whether to approve: the summary comes first, one
line per customer outside any fold, then each customer's details in a ``<details>`` block.
It carries a hidden marker so the workflow edits its one comment in place, and it never
exceeds GitHub's 65,536-character limit: details are cut down step by step, with a note
pointing at the full report uploaded as a workflow artifact.

This module must never show an employee's e-mail, first or last name, or uniqueId, unless the
customer file opts in with ``review.show_personal_data``: users appear as ``u:`` plus a short,
stable hash of their uniqueId, personal values as ``<masked:…>``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from engine.hris.privacy import PERSONAL_FIELDS, mask
from engine.review.effect import SUMMARY_KEYS, DataEffect
from engine.review.report import CustomerReview, Review

#: The hidden line the workflow finds its comment by.
MARKER = "<!-- lmsync-diff -->"
#: GitHub refuses comments longer than this (characters).
COMMENT_LIMIT = 65_536
#: Name of the workflow artifact holding the full report (see validate.yml).
ARTIFACT_NAME = "lmsync-diff-report"
#: Users listed per customer before the rest is summed up in one line.
DEFAULT_ROWS = 200
_EMAIL = re.compile(r"[^@\s`\"',;<>()]+@[^@\s`\"',;<>()]+\.[A-Za-z]{2,}")
_ALREADY_MASKED = re.compile(r"^<masked:[0-9a-f]{6}>$")
_SIGNS = (
    ("create", "+", "create"),
    ("restore", "+", "restore"),
    ("update", "~", "update"),
    ("delete", "-", "delete"),
)


def user_handle(unique_id: str | None) -> str:
    """``u:7c1e9a``: six hex digits of the uniqueId's SHA-256, the same in every report."""
    if not unique_id:
        return "u:-"
    return "u:" + hashlib.sha256(unique_id.encode("utf-8")).hexdigest()[:6]


def shown_value(field: str, value: str | None, show: bool) -> str:
    """A field value as a review may show it."""
    if value is None or value == "":
        return "∅"
    if field == "manager" and not show:  # a manager is another employee's uniqueId
        return value if value.startswith("u:") else user_handle(value)
    if (field in PERSONAL_FIELDS or field == "email") and not show and not _ALREADY_MASKED.match(value):
        return mask(value)
    return value if show else _EMAIL.sub(lambda m: mask(m.group(0)), value)


def scrub(text: str, show: bool = False) -> str:
    """Free text (problem messages, notes) with any e-mail address masked."""
    return text if show else _EMAIL.sub(lambda m: mask(m.group(0)), text)


def summary_line(customer: CustomerReview) -> str:
    """``acme: +12 create, ~340 update, -3 delete`` (plus what else the reviewer must see)."""
    parts: list[str] = []
    if customer.effect is not None:
        head = customer.effect.head
        parts.append(
            ", ".join(
                f"{sign}{head[key]} {word}"
                for key, sign, word in _SIGNS
                if head[key] or key in ("create", "update", "delete")
            )
        )
    elif customer.kind != "deleted":
        parts.append("data effect not computed" if customer.has_hris else "configuration only (no HRIS sync)")
    tags = {"added": "new file", "deleted": "file deleted", "renamed": "renamed"}
    if customer.kind in tags:
        parts.append(tags[customer.kind])
    if customer.invalid:
        parts.append("INVALID")
    if customer.effect is not None and customer.effect.guard.tripped:
        parts.append(
            "deletion guard BLOCKS the sync"
            if customer.effect.guard.blocked
            else "deletion guard allowed by the pull request"
        )
    return f"{customer.slug}: {'; '.join(parts) if parts else 'configuration only'}"


def _change_rows(changes: Sequence[Mapping[str, Any]], show: bool) -> list[dict[str, str]]:
    rows = []
    for change in changes:
        fields = change.get("fields") or {}
        said = [
            f"{name}: {shown_value(name, v.get('from'), show)} → {shown_value(name, v.get('to'), show)}"
            for name, v in sorted(fields.items())
        ]
        groups = change.get("groups") or {}
        said += [f"+group {g}" for g in groups.get("add") or []]
        said += [f"-group {g}" for g in groups.get("remove") or []]
        uid = change.get("unique_id")
        rows.append(
            {
                "user": str(uid) if show else user_handle(uid),
                "action": str(change.get("action", "")),
                "changes": "; ".join(said) or "-",
            }
        )
    return rows


def _problem_rows(problems: Sequence[Mapping[str, Any]], show: bool) -> list[dict[str, str]]:
    return [
        {
            "line": str(p.get("line", "")),
            "user": str(p.get("unique_id")) if show else user_handle(p.get("unique_id")),
            "code": str(p.get("code", "")),
            "message": scrub(str(p.get("message", "")), show),
        }
        for p in problems
    ]


def _cut(items: Sequence[Mapping[str, Any]], max_rows: int | None) -> tuple[Sequence[Mapping[str, Any]], int]:
    """The first ``max_rows`` items (all of them when ``None``) and how many were left out."""
    if max_rows is None:
        return items, 0
    return items[:max_rows], max(len(items) - max_rows, 0)


def _customer_view(customer: CustomerReview, max_rows: int | None) -> dict[str, Any]:
    show = customer.show_personal_data
    effect: DataEffect | None = customer.effect
    view: dict[str, Any] = {
        "c": customer,
        "summary": summary_line(customer),
        "phrases": [scrub(p, show) for p in customer.config_phrases],
        "notes": [scrub(n, show) for n in customer.notes],
        "effect": effect,
        "rows": [],
        "more_rows": 0,
        "gone": [],
        "more_gone": 0,
        "problems": [],
        "more_problems": 0,
    }
    if effect is not None:
        # Each list gets its own limit: with ``max_rows=None`` (the complete report) a list must
        # never be cut to another's length, or a filter that drops users (no new change, many
        # gone) would show them only in the cut-down comment.
        rows, gone, problems = (
            _cut(items, max_rows) for items in (effect.new_changes, effect.gone_changes, effect.problems)
        )
        view["rows"] = _change_rows(rows[0], show)
        view["more_rows"] = rows[1]
        view["gone"] = _change_rows(gone[0], show)
        view["more_gone"] = gone[1]
        view["problems"] = _problem_rows(problems[0], show)
        view["more_problems"] = problems[1]
        view["counts"] = {k: effect.head[k] for k in SUMMARY_KEYS}
    return view


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("engine.review", "templates"),
        autoescape=False,  # Markdown and text, not HTML; table cells are escaped by `cell`
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
    return env


_ENV = _environment()


def _render(template: str, review: Review, max_rows: int | None, details: bool, truncated: bool) -> str:
    return _ENV.get_template(template).render(
        review=review,
        customers=[_customer_view(c, max_rows) for c in review.customers],
        details=details,
        truncated=truncated,
        marker=MARKER,
        artifact=ARTIFACT_NAME,
        short=lambda rev: rev[:12],
    )


def render_markdown(
    review: Review, *, limit: int = COMMENT_LIMIT, max_rows: int | None = DEFAULT_ROWS
) -> str:
    """The pull-request comment, at most ``limit`` characters.

    Cut down in steps (fewer users per customer, then no user table, then no details) so the
    comment keeps as much as fits; the summary lines are never cut.
    """
    text = _render("comment.md.j2", review, max_rows, details=True, truncated=False)
    if len(text) <= limit:
        return text
    for rows in (50, 10, 0):
        if max_rows is not None and rows >= max_rows:
            continue
        text = _render("comment.md.j2", review, rows, details=True, truncated=True)
        if len(text) <= limit:
            return text
    text = _render("comment.md.j2", review, 0, details=False, truncated=True)
    if len(text) <= limit:
        return text
    # Thousands of customers in one pull request: keep the marker and as many lines as fit.
    note = f"\n\n… cut to fit the comment limit; the full report is the `{ARTIFACT_NAME}` artifact.\n"
    return text[: limit - len(note)].rsplit("\n", 1)[0] + note


def render_text(review: Review) -> str:
    """The whole review for a terminal or the report artifact: nothing is cut."""
    return _render("report.txt.j2", review, None, details=True, truncated=False)


def review_to_json(review: Review) -> dict[str, Any]:
    """The review as data, with the same masking as the comment."""
    customers = []
    for customer in review.customers:
        view = _customer_view(customer, None)
        effect = customer.effect
        customers.append(
            {
                "customer": customer.slug,
                "kind": customer.kind,
                "path": customer.path,
                "old_path": customer.old_path,
                "invalid": customer.invalid,
                "summary": view["summary"],
                "config_changes": view["phrases"],
                "notes": view["notes"],
                "effect": None
                if effect is None
                else {
                    "compared": effect.compared,
                    "counts": dict(effect.head),
                    "delta": dict(effect.delta),
                    "phrases": list(effect.phrases),
                    "changes": view["rows"],
                    "no_longer": view["gone"],
                    "problems": view["problems"],
                    "guard": {
                        "deletions": effect.guard.deletions,
                        "allowed": effect.guard.allowed,
                        "tripped": effect.guard.tripped,
                        "blocked": effect.guard.blocked,
                        "allowance": None if effect.guard.allowance is None else effect.guard.allowance.count,
                    },
                },
            }
        )
    return {
        "version": 1,
        "base": review.base,
        "head": review.head,
        "env": review.env,
        "blocked": review.blocked,
        "customers": customers,
    }
