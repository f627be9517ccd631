"""One HRIS file, end to end: read → desired state → snapshot → plan → journaled apply.

``plan_hris_file`` stops after the plan (``lmsync plan``, the dry run: it reads the target
and writes nothing); ``apply_hris_file`` goes on and applies it (``lmsync apply`` and the sync
pipeline). Both read the same snapshot the same way, so the dry run and the run agree.

File-level problems raise before any write (``FileLevelError`` from the reader,
``DeletionGuardTrippedError`` when the guard trips). Two things are remembered in the state
store at the end of each apply (a journal entry of the run each): which custom field
definitions the connector fed, so the next plan can tell a definition renamed in the LMS
from one it never fed; and in which groups it gave learner roles, so the next plan can take
them back when the customer file no longer names a group (a rule removed, a shorter
hierarchy): the current file alone cannot say where the connector used to give roles.

This module must never start or finish runs, save reports or take locks: its callers own
the run (the CLI, the runner job) and may apply several files under one run id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.apply.executor import Execution, Executor
from engine.apply.outcome import count_outcome, problem_lines, report_rows, write_log
from engine.apply.steps import plan_steps
from engine.apply.target import Target
from engine.config.models import CustomerConfig, Hris
from engine.console import Reporter
from engine.errors import ConfigError
from engine.hris.actions import CreateGroup
from engine.hris.columnar import plan_input
from engine.hris.desired import DesiredState
from engine.hris.groups import GroupTree
from engine.hris.plan import Plan
from engine.hris.planner import plan_sync
from engine.hris.snapshot import Snapshot, fed_definition_ids
from engine.state import JournalEntry, StateStore

if TYPE_CHECKING:
    from connectors.lms.target import LmsTarget

#: The journal entry holding the ids of the custom field definitions the connector feeds.
MANAGED_FIELDS_KEY = "managed_custom_fields"
#: The journal entry holding the ids of the groups where the connector gives learner roles.
MANAGED_GROUPS_KEY = "managed_groups"
#: How many recent runs are searched for those entries.
_LOOKBACK_RUNS = 200


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FileOutcome:
    status: Literal["succeeded", "failed", "interrupted"]  # failed = some action failed
    plan: Plan  # the plan that was applied
    counts: dict[str, int]  # created, updated, deleted, restored, unchanged, duplicated,
    # ignored, filtered_out, no_group_rule, failed
    report: list[dict[str, object]]  # one row per user: line, unique_id, action, result, code, reason
    problems: list[str]  # short lines, free of personal data
    #: Why the apply stopped before the end of its plan while the LMS kept failing (the rest
    #: is journaled pending), or None: such a file is not done, whatever its status says.
    cut_off: str | None = None


@dataclass(frozen=True)
class PlannedFile:
    """A file planned against the target: what the plan was computed from, and the plan."""

    desired: DesiredState
    snapshot: Snapshot
    plan: Plan
    #: A warning on the connector administrator's account (``Target.admin_problem``).
    admin_problem: str | None = None


def hris_of(config: CustomerConfig) -> Hris:
    if config.hris is None:
        raise ConfigError(
            f"{config.customer}: no `hris` section", hint="add the HRIS sync to the customer file"
        )
    return config.hris


def plan_hris_file(
    config: CustomerConfig,
    data: bytes,
    *,
    file_name: str,
    target: Target,
    previous_custom_fields: frozenset[str] = frozenset(),
    previous_groups: frozenset[str] = frozenset(),
    allow_deletions: int | None = None,
) -> PlannedFile:
    """Read ``data``, snapshot ``target`` and plan; raises ``DeletionGuardTrippedError``
    (which carries the plan) when the guard trips. ``previous_*``: what the last apply
    recorded (``previous_custom_fields``, ``previous_groups``); empty when unknown."""
    hris = hris_of(config)
    desired, snapshot = plan_input(
        data,
        file_name=file_name,
        config=hris,
        snapshot_of=lambda emails: target.snapshot(
            hris,
            emails=emails,
            previous_custom_fields=previous_custom_fields,
            previous_groups=previous_groups,
        ),
    )
    plan = plan_sync(desired, snapshot, hris, allow_deletions=allow_deletions)
    return PlannedFile(desired, snapshot, plan, target.admin_problem())


def previous_custom_fields(store: StateStore, customer: str, environment: str) -> frozenset[str]:
    """Ids of the definitions the last apply of ``customer`` in ``environment`` fed."""
    return _recall(store, customer, environment, MANAGED_FIELDS_KEY)


def previous_groups(store: StateStore, customer: str, environment: str) -> frozenset[str]:
    """Ids of the groups where the last apply of ``customer`` in ``environment`` gave (or
    could have given) learner roles."""
    return _recall(store, customer, environment, MANAGED_GROUPS_KEY)


def _recall(store: StateStore, customer: str, environment: str, key: str) -> frozenset[str]:
    for run in store.list_runs(customer, limit=_LOOKBACK_RUNS):
        if run.environment != environment:
            continue
        for entry in store.journal(run.id, key=key):
            ids = (entry.result or {}).get("ids")
            if entry.status == "done" and isinstance(ids, list):
                return frozenset(str(i) for i in ids)
    return frozenset()


def apply_hris_file(
    config: CustomerConfig,
    environment: str,
    data: bytes,
    *,
    file_name: str,
    store: StateStore,
    run_id: str,
    reporter: Reporter,
    allow_deletions: int | None = None,
    journal_prefix: str = "",
    stop_requested: Callable[[], bool] = lambda: False,
    now: Callable[[], datetime] = _utc_now,
    target: LmsTarget | None = None,
) -> FileOutcome:
    """Plan ``data`` against the LMS of ``environment`` and apply it, journaled under ``run_id``.

    Re-running with the same ``run_id`` resumes: journaled ``done`` steps are skipped and the
    file is planned again against the LMS as it is now. The caller owns the run record, the
    lock and the saved report (see ``write_run_log``).
    """
    hris = hris_of(config)
    owned = target is None
    if target is None:
        # Imported here: the connector implements this package's Target protocol, so a
        # top-level import would be circular.
        from connectors.lms.target import LmsTarget  # noqa: PLC0415

        target = LmsTarget.from_config(config, environment)
    try:
        previous = previous_custom_fields(store, config.customer, environment)
        groups_before = previous_groups(store, config.customer, environment)
        planned = plan_hris_file(
            config,
            data,
            file_name=file_name,
            target=target,
            previous_custom_fields=previous,
            previous_groups=groups_before,
            allow_deletions=allow_deletions,
        )
        plan = planned.plan
        if planned.admin_problem:
            reporter.warn(f"{file_name}: {planned.admin_problem}")
        reporter.info(
            f"{file_name}: {plan.summary.create} to create, {plan.summary.update} to update, "
            f"{plan.summary.restore} to restore, {plan.summary.delete} to delete, "
            f"{plan.summary.unchanged} unchanged"
        )
        executor = Executor(
            target,
            store,
            run_id,
            reporter=reporter,
            now=now,
            stop_requested=stop_requested,
            prefix=journal_prefix,
            columns=planned.desired.profile_fields,
        )
        steps = plan_steps(plan)
        execution = executor.run(steps)
        _remember_groups(
            store,
            run_id=run_id,
            hris=hris,
            snapshot=planned.snapshot,
            created=[journal_prefix + step.key for step in steps if isinstance(step.action, CreateGroup)],
            succeeded=execution.status == "succeeded",
            previous=groups_before,
            now=now(),
        )
        _remember_fields(
            store,
            run_id=run_id,
            hris=hris,
            snapshot=planned.snapshot,
            execution=execution,
            previous=previous,
            now=now(),
        )
    finally:
        if owned:
            target.close()
    rows = report_rows(plan, planned.desired, planned.snapshot, execution, execution.earlier)
    return FileOutcome(
        status=execution.status,
        plan=plan,
        counts=count_outcome(plan, rows),
        report=rows,
        problems=problem_lines(plan, execution),
        cut_off=execution.error,
    )


def _remember_fields(
    store: StateStore,
    *,
    run_id: str,
    hris: Hris,
    snapshot: Snapshot,
    execution: Execution,
    previous: frozenset[str],
    now: datetime,
) -> None:
    """Journal which definitions carry the configured titles now. A run that did not finish
    keeps the earlier ids too, so values of a renamed definition are still removed next time."""
    titles = hris.custom_field_titles
    # Definitions this run created carry a configured title too; no earlier one did.
    ids = fed_definition_ids(snapshot.custom_fields, titles - execution.fields.keys())
    ids.update(field_id for title, field_id in execution.fields.items() if title in titles)
    if execution.status != "succeeded":
        ids |= previous
    _record(store, run_id, MANAGED_FIELDS_KEY, ids, now)


def _remember_groups(
    store: StateStore,
    *,
    run_id: str,
    hris: Hris,
    snapshot: Snapshot,
    created: list[str],
    succeeded: bool,
    previous: frozenset[str],
    now: datetime,
) -> None:
    """Journal the groups where the connector gives learner roles now: the scope of this
    configuration (synchronized group, hierarchy down to its depth, rule groups) and the
    hierarchy groups this run created (``created``: their journal keys). A run that did not
    finish keeps the earlier ones too: roles it did not take back yet are taken next time."""
    ids = set(GroupTree(snapshot, hris).scope)
    for key in created:
        for entry in store.journal(run_id, key=key):
            group_id = (entry.result or {}).get("group_id")
            if entry.status == "done" and isinstance(group_id, str):
                ids.add(group_id)
    if not succeeded:
        ids |= previous
    _record(store, run_id, MANAGED_GROUPS_KEY, ids, now)


def _record(store: StateStore, run_id: str, key: str, ids: set[str], now: datetime) -> None:
    store.journal_pending(run_id, [JournalEntry(key=key, seq=-1, action=key, updated_at=now)])
    store.journal_done(run_id, key, result={"ids": sorted(ids)}, now=now)


def write_run_log(
    directory: Path,
    run_id: str,
    outcome: FileOutcome,
    *,
    customer: str | None = None,
    environment: str | None = None,
    file_name: str | None = None,
) -> tuple[Path, Path]:
    """Write ``<run_id>.json`` and ``<run_id>.csv`` under ``directory``; returns their paths.

    The CSV has one row per user the run changed or set aside: line, unique_id, action,
    result, code, reason. The JSON holds the same rows plus status, counts and problems.
    """
    header: dict[str, object] = {"customer": customer, "environment": environment, "file": file_name}
    return write_log(
        directory,
        run_id,
        status=outcome.status,
        counts=outcome.counts,
        plan=outcome.plan,
        rows=outcome.report,
        problems=outcome.problems,
        header=header,
    )
