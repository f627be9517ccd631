"""The plan as a value: ordered actions plus the per-user changes and counts shown for review.

``actions`` is what the apply step executes; ``changes`` is the same plan told per user (one
entry per user, sorted by ``uniqueId``) for the dry-run diff, ``summary`` its counts,
``problems`` the rows ignored or partly synced, ``guard`` the deletion guard's verdict.
Field values in ``changes`` are raw: masking personal data is the renderer's job
(``render.py``), so no plan object's repr shows them.

This module must never compute anything about users: it only holds the planner's result.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.hris.actions import Action
from engine.hris.rows import Problem


@dataclass(frozen=True, slots=True)
class FieldChange:
    """``name`` is an LMS field (``mail``, ``firstName``...), ``custom:<title>`` or ``manager``;
    None means empty."""

    name: str
    before: str | None
    after: str | None

    def __repr__(self) -> str:
        return f"FieldChange({self.name!r})"


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one user: create | update | delete | restore | adopt."""

    action: str
    unique_id: str
    fields: tuple[FieldChange, ...] = ()
    groups_add: tuple[str, ...] = ()
    groups_remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    """Users by outcome (create..unchanged; adoptions count as updates) and rows set aside
    (duplicated, ignored, filtered_out); ``no_group_rule``: synced users no rule matched."""

    create: int = 0
    update: int = 0
    delete: int = 0
    restore: int = 0
    unchanged: int = 0
    duplicated: int = 0
    ignored: int = 0
    filtered_out: int = 0
    no_group_rule: int = 0


@dataclass(frozen=True, slots=True)
class Guard:
    """Deletions planned, the most allowed (configured limit or ``--allow-deletions``), and
    whether the plan exceeds it."""

    deletions: int
    allowed: int
    tripped: bool


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    summary: Summary
    problems: tuple[Problem, ...]
    changes: tuple[Change, ...]
    guard: Guard

    @property
    def is_empty(self) -> bool:
        """True when applying would write nothing (the second run of the same file)."""
        return not self.actions

    def __repr__(self) -> str:
        counts = f"{len(self.actions)} actions, {len(self.changes)} changes, {len(self.problems)} problems"
        return f"Plan({counts})"
