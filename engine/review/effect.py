"""What a configuration change does to the data: the head plan beside the base plan.

Both configurations are planned on the same data (the same HRIS file, the same test
instance), so the difference between the two plans is the effect of the change alone:
"+212 users now pass the filter", "340 more updates", "0 deletions". Plans arrive as the
plan JSON contract (``engine.hris.plan_to_json``), produced by an injected ``Planner`` so the
review does not care whether they come from the test instance, a local file or a fixture.

This module also reads a pull request's explicit deletion allowance (a label
``allow-deletions:N`` or a body line ``lmsync: allow-deletions=N``) from the GitHub event.

This module must never do I/O other than reading the event file it is given, and never
compute a plan itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.config.models import CustomerConfig
from engine.errors import ConfigError

SUMMARY_KEYS = (
    "create",
    "update",
    "delete",
    "restore",
    "unchanged",
    "duplicated",
    "ignored",
    "filtered_out",
    "no_group_rule",
)
_LABEL = re.compile(r"^allow-deletions:(\d+)$")
_BODY_LINE = re.compile(r"^\s*lmsync:\s*allow-deletions\s*=\s*(\d+)\s*$", re.MULTILINE)

PlanJson = Mapping[str, Any]


class Planner(Protocol):
    """Plans ``config`` against environment ``env`` on ``input`` (None: the latest source file)
    and returns the plan JSON contract. Raises an LmsyncError when it cannot.

    ``deployed``: the configuration the runner syncs today (the base revision), whose custom
    fields and groups the plan takes as what earlier runs fed and managed (see
    ``engine.hris.groups.deployed_memory``); None for a new customer file."""

    def __call__(
        self, config: CustomerConfig, env: str, input: Path | None, *, deployed: CustomerConfig | None = None
    ) -> PlanJson: ...


@dataclass(frozen=True)
class Allowance:
    """An explicit permission, given on the pull request, to delete up to ``count`` users."""

    count: int
    source: str  # "label allow-deletions:5" / "pull request body"


def allowance_from_event(event: Mapping[str, Any]) -> Allowance | None:
    """The largest allowance the pull request carries, or None.

    A label ``allow-deletions:N`` wins over a body line because a label can be restricted to
    maintainers while anyone who can edit the description can write the line.
    """
    pr = event.get("pull_request") or {}
    labels = [str(label.get("name", "")) for label in pr.get("labels") or [] if isinstance(label, Mapping)]
    counts = [int(m.group(1)) for name in labels if (m := _LABEL.match(name.strip()))]
    if counts:
        best = max(counts)
        return Allowance(best, f"label allow-deletions:{best}")
    found = [int(n) for n in _BODY_LINE.findall(str(pr.get("body") or ""))]
    if found:
        return Allowance(max(found), "pull request body (lmsync: allow-deletions=N)")
    return None


def read_event(path: Path) -> Mapping[str, Any]:
    """The GitHub event JSON at ``path`` (``GITHUB_EVENT_PATH``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the GitHub event file {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class GuardVerdict:
    """The deletion guard on the head plan, with the pull request's allowance applied."""

    deletions: int
    allowed: int
    tripped: bool
    allowance: Allowance | None

    @property
    def blocked(self) -> bool:
        """True when the sync would stop before writing, even with the allowance."""
        return self.tripped and (self.allowance is None or self.allowance.count < self.deletions)


@dataclass(frozen=True)
class DataEffect:
    """The head plan's counts, what changed compared with the base plan, and the guard."""

    head: Mapping[str, int]
    delta: Mapping[str, int]
    phrases: tuple[str, ...]
    guard: GuardVerdict
    new_changes: tuple[Mapping[str, Any], ...] = ()
    gone_changes: tuple[Mapping[str, Any], ...] = ()
    problems: tuple[Mapping[str, Any], ...] = ()
    compared: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)


def _counts(plan: PlanJson | None) -> dict[str, int]:
    summary = (plan or {}).get("summary") or {}
    return {key: int(summary.get(key, 0)) for key in SUMMARY_KEYS}


def _key(change: Mapping[str, Any]) -> str:
    return json.dumps(change, sort_keys=True, ensure_ascii=False)


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _effect_phrases(delta: Mapping[str, int], head: Mapping[str, int]) -> list[str]:
    """The difference in words; users first, then rows set aside, then deletions always."""
    phrases: list[str] = []
    passing = -delta["filtered_out"]
    if passing > 0:
        phrases.append(f"+{_n(passing, 'user now passes', 'users now pass')} the filter")
    elif passing < 0:
        phrases.append(f"{_n(-passing, 'user no longer passes', 'users no longer pass')} the filter")
    for key, what in (
        ("create", ("creation", "creations")),
        ("update", ("update", "updates")),
        ("restore", ("restoration", "restorations")),
        ("ignored", ("row ignored", "rows ignored")),
        ("duplicated", ("duplicated row", "duplicated rows")),
        ("no_group_rule", ("user matching no group rule", "users matching no group rule")),
    ):
        if delta[key]:
            word = "more" if delta[key] > 0 else "fewer"
            count = abs(delta[key])
            phrases.append(f"{count} {word} {what[0] if count == 1 else what[1]}")
    if delta["delete"]:
        sign = "+" if delta["delete"] > 0 else ""
        phrases.append(f"{sign}{delta['delete']} deletions ({head['delete']} in all)")
    else:
        phrases.append(f"{_n(head['delete'], 'deletion', 'deletions')}")
    return phrases


def _head_phrases(head: Mapping[str, int]) -> list[str]:
    """A new customer's plan in words: there is no base to compare with."""
    phrases = [
        _n(head["create"], "user created", "users created"),
        _n(head["update"], "user updated (or adopted)", "users updated (or adopted)"),
    ]
    if head["restore"]:
        phrases.append(_n(head["restore"], "user restored", "users restored"))
    for key, what in (
        ("filtered_out", ("row filtered out", "rows filtered out")),
        ("ignored", ("row ignored", "rows ignored")),
        ("duplicated", ("duplicated row skipped", "duplicated rows skipped")),
        ("no_group_rule", ("user matching no group rule", "users matching no group rule")),
    ):
        if head[key]:
            phrases.append(_n(head[key], *what))
    phrases.append(_n(head["delete"], "deletion", "deletions"))
    return phrases


def compare_plans(base: PlanJson | None, head: PlanJson, allowance: Allowance | None) -> DataEffect:
    """The effect of going from the ``base`` plan to the ``head`` plan on the same data.

    ``base`` is None for a new customer: everything in the head plan is the change's effect.
    """
    head_counts, base_counts = _counts(head), _counts(base)
    delta = {key: head_counts[key] - base_counts[key] for key in SUMMARY_KEYS}
    # Per user: what the head plans differently from the base (new or changed), and the users
    # the base planned something for and the head no longer does.
    base_by_user = {c.get("unique_id"): _key(c) for c in (base or {}).get("changes") or []}
    head_changes = list(head.get("changes") or [])
    head_users = {c.get("unique_id") for c in head_changes}
    guard = head.get("guard") or {}
    verdict = GuardVerdict(
        deletions=int(guard.get("deletions", head_counts["delete"])),
        allowed=int(guard.get("allowed", 0)),
        tripped=bool(guard.get("tripped", False)),
        allowance=allowance,
    )
    return DataEffect(
        head=head_counts,
        delta=delta,
        phrases=tuple(
            _effect_phrases(delta, head_counts) if base is not None else _head_phrases(head_counts)
        ),
        guard=verdict,
        new_changes=tuple(c for c in head_changes if base_by_user.get(c.get("unique_id")) != _key(c)),
        gone_changes=tuple(
            c for c in (base or {}).get("changes") or [] if c.get("unique_id") not in head_users
        ),
        problems=tuple(head.get("problems") or []),
        compared=base is not None,
    )
