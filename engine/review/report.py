"""Builds the review of a pull request: per changed customer file, the configuration change
in words and the data effect, ready for rendering.

This is the one place that ties the parts together: git says which files changed, the
config loader reads each side, ``wording`` says what changed, the injected planner plans both
sides on the same data and ``effect`` compares the plans. A problem with one customer (an
invalid file, a planner failure) is recorded on that customer and the others are still
reviewed, so one broken file never hides the rest of the pull request.

This module must never render, post or print: it returns a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.config.loader import check_text
from engine.config.models import CustomerConfig
from engine.errors import LmsyncError
from engine.review import git
from engine.review.effect import Allowance, DataEffect, Planner, compare_plans
from engine.review.wording import describe_change, describe_new


@dataclass(frozen=True)
class CustomerReview:
    """The review of one changed customer file."""

    slug: str
    kind: git.ChangeKind
    path: str
    old_path: str | None
    config_phrases: tuple[str, ...]
    effect: DataEffect | None
    notes: tuple[str, ...] = ()
    invalid: bool = False
    show_personal_data: bool = False
    #: False for a customer without an HRIS sync: there is no data effect to compute.
    has_hris: bool = True

    @property
    def blocked(self) -> bool:
        return self.invalid or (self.effect is not None and self.effect.guard.blocked)


@dataclass(frozen=True)
class Review:
    base: str
    head: str
    env: str
    customers: tuple[CustomerReview, ...]
    allowance: Allowance | None = None

    @property
    def blocked(self) -> bool:
        """True when a file is invalid or a deletion guard would stop a sync."""
        return any(c.blocked for c in self.customers)


def read_config(text: str, name: str) -> CustomerConfig | tuple[str, ...]:
    """The configuration, or why it is unusable (counts only: diagnostics can quote values)."""
    checked = check_text(text, name)
    if checked.config is not None:
        return checked.config
    errors = [d for d in checked.diagnostics if d.severity == "error"]
    return (
        f"`{name}` is invalid ({len(errors)} error(s), first on line {errors[0].line if errors else 1}); "
        f"run `lmsync validate {name}` or see the annotations on the pull request",
    )


@dataclass
class _Side:
    config: CustomerConfig | None = None
    problem: tuple[str, ...] = ()


def _load(text: str | None, path: str | None) -> _Side:
    if text is None or path is None:
        return _Side()
    loaded = read_config(text, path)
    return _Side(config=loaded) if isinstance(loaded, CustomerConfig) else _Side(problem=loaded)


def _effect(
    base: CustomerConfig | None,
    head: CustomerConfig,
    *,
    planner: Planner,
    env: str,
    input: Path | None,
    allowance: Allowance | None,
) -> tuple[DataEffect | None, tuple[str, ...]]:
    if head.hris is None:
        return None, ()
    if env not in head.environments:
        return None, (f"data effect not computed: the file has no `{env}` environment",)
    try:
        deployed = base if base is not None and base.hris is not None else None
        head_plan = planner(head, env, input, deployed=deployed)
        base_plan: Mapping[str, Any] | None = None
        if deployed is not None:
            base_plan = planner(deployed, env, input, deployed=deployed)
    except LmsyncError as exc:
        return None, (f"data effect not computed: {exc}",)
    return compare_plans(base_plan, head_plan, allowance), ()


def review_file(
    repo: Path,
    base: str,
    head: str,
    change: git.ChangedFile,
    *,
    planner: Planner | None,
    env: str,
    input: Path | None,
    allowance: Allowance | None,
) -> CustomerReview:
    """The review of one changed file between commits ``base`` and ``head``."""
    base_text = git.file_at(repo, base, change.base_path) if change.base_path else None
    head_text = git.file_at(repo, head, change.head_path) if change.head_path else None
    return review_texts(
        change, base_text, head_text, planner=planner, env=env, input=input, allowance=allowance
    )


def review_texts(
    change: git.ChangedFile,
    base_text: str | None,
    head_text: str | None,
    *,
    planner: Planner | None,
    env: str = "test",
    input: Path | None = None,
    allowance: Allowance | None = None,
) -> CustomerReview:
    """The review of one changed file given its text on each side (None where it is absent)."""
    before = _load(base_text, change.base_path)
    after = _load(head_text, change.head_path)
    slug = PurePosixPath(change.path).stem
    notes: list[str] = list(after.problem)
    phrases: list[str] = []
    if change.kind == "renamed":
        phrases.append(f"file renamed from `{change.old_path}`")
    if change.kind == "deleted":
        phrases.append(
            f"customer file deleted: scheduled syncs of `{slug}` stop after deploy "
            "(users already in the LMS are left as they are)"
        )
    elif after.config is not None:
        slug = after.config.customer
        if before.config is None:
            if before.problem:
                phrases.append("the base revision of this file was invalid; the head is described as new")
            phrases += describe_new(after.config)
        else:
            phrases += describe_change(before.config, after.config) or ["no change in meaning (layout only)"]
    effect: DataEffect | None = None
    if after.config is not None and planner is not None:
        effect, more = _effect(
            before.config, after.config, planner=planner, env=env, input=input, allowance=allowance
        )
        notes += more
    elif after.config is not None and after.config.hris is not None:
        notes.append("data effect not computed: no data to plan on (give an HRIS file with --input)")
    show = after.config.review.show_personal_data if after.config is not None else False
    return CustomerReview(
        slug=slug,
        kind=change.kind,
        path=change.path,
        old_path=change.old_path,
        config_phrases=tuple(phrases),
        effect=effect,
        notes=tuple(notes),
        invalid=bool(after.problem),
        show_personal_data=show,
        has_hris=after.config is None or after.config.hris is not None,
    )


def build_review(
    repo: Path,
    base: str,
    head: str,
    under: list[str],
    *,
    planner: Planner | None,
    env: str = "test",
    input: Path | None = None,
    allowance: Allowance | None = None,
) -> Review:
    """The review of every customer file under ``under`` changed from ``base`` to ``head``
    (compared from their merge base, as a pull request is)."""
    head_id = git.resolve(repo, head)
    base_id = git.merge_base(repo, base, head_id)
    changes = git.changed_customer_files(repo, base_id, head_id, under)
    customers = tuple(
        review_file(
            repo, base_id, head_id, change, planner=planner, env=env, input=input, allowance=allowance
        )
        for change in changes
    )
    return Review(base=base_id, head=head_id, env=env, customers=customers, allowance=allowance)
