"""The HRIS sync as the runner's job: ``run(config, environment, context) -> RunOutcome``.

The runner imports this function by name (``engine.runner.jobs.DEFAULT_JOB``) and calls it
under the customer's lock with a run id to journal under. When the runner completes an
interrupted run, ``context.resumed`` is set and the run id is the old one: the files the
run had finished are found in the ledger under that id and not applied again, and the file
it was applying is applied again under the same journal keys, so the actions already done
are skipped. This module translates between the runner's vocabulary and the pipeline's; it
holds no sync logic of its own and never prints.
"""

from __future__ import annotations

from pathlib import Path

from engine.config.models import CustomerConfig
from engine.errors import DeletionGuardError
from engine.runner.context import RunContext, RunOutcome
from engine.runner.notify import mask_emails, mask_unique_id
from engine.runner.runner import HRIS_KIND
from engine.sync.outcome import SyncOutcome, problem_lines, summary_lines
from engine.sync.pipeline import sync_files


def error_text(
    outcome: SyncOutcome, *, customer: str, environment: str, run_id: str, scheduled: bool
) -> str | None:
    """The run's error as the history and the recap show it, with the way out.

    A scheduled run cannot be told to allow deletions, so its guard error says which
    command can: ``lmsync run-now`` with the count.
    """
    if outcome.error is not None:
        text = outcome.error_text() or ""
        if scheduled and isinstance(outcome.error, DeletionGuardError):
            text += (
                f"; to apply it after checking the file: `lmsync run-now {customer} --env {environment} "
                f"--allow-deletions {outcome.error.deletions}`"
            )
        if outcome.waiting:
            text += f"; waiting for the next run: {', '.join(outcome.waiting)}"
        return text
    failed = outcome.counts.get("failed", 0)
    if outcome.status == "failed" and failed:
        return f"{failed} user(s) failed; see `lmsync runs show {run_id}`"
    return None


def recap_problems(outcome: SyncOutcome, customer: str) -> list[str]:
    """The problems the recap e-mail lists: the files', then each user set aside or failed.

    Users appear as the recap shows them everywhere, a hash of their ``uniqueId``, and any
    e-mail address in a reason is masked: the recap leaves the company by e-mail.
    """
    lines = problem_lines(outcome)
    for row in outcome.report:
        result, action, code = str(row.get("result") or ""), str(row.get("action") or ""), row.get("code")
        if result in ("done", "unchanged") and not code:
            continue
        parts = [str(row.get("file") or "")]
        if row.get("line") is not None:
            parts.append(f"line {row['line']}")
        parts.append(action if result in (action, "") else f"{action} {result}")
        if code:
            parts.append(str(code))
        if row.get("unique_id"):
            parts.append(f"user {mask_unique_id(customer, str(row['unique_id']))}")
        if row.get("reason"):
            parts.append(mask_emails(str(row["reason"])))
        lines.append("  ".join(parts))
    return lines


def to_run_outcome(
    outcome: SyncOutcome, *, customer: str, environment: str, run_id: str, scheduled: bool
) -> RunOutcome:
    last = outcome.last_applied
    return RunOutcome(
        status=outcome.status,
        counts=dict(outcome.counts),
        error=error_text(
            outcome, customer=customer, environment=environment, run_id=run_id, scheduled=scheduled
        ),
        report=list(outcome.report),
        problems=recap_problems(outcome, customer),
        file_name=outcome.file_names(),
        file_sha256=last.sha256 if last is not None else None,
    )


def run(config: CustomerConfig, environment: str, context: RunContext) -> RunOutcome:
    """Sync ``config``'s pending files into ``environment`` as ``context.run_id``."""
    resumed = context.resumed
    if resumed is not None and (resumed.environment != environment or resumed.kind != HRIS_KIND):
        # Its journal keys belong to another target: replaying them here would skip actions
        # this environment never received. The other environment's next sync reconciles it.
        return RunOutcome(
            status="skipped",
            error=f"run {resumed.id} ({resumed.kind}, environment {resumed.environment}) is not a "
            f"scheduled HRIS sync of {environment}: it is closed without being completed",
        )
    base_dir = context.config_path.parent if context.config_path is not None else Path.cwd()

    def on_file(name: str, sha256: str) -> None:
        context.store.set_run_file(context.run_id, file_name=name, file_sha256=sha256)

    if resumed is not None:
        context.reporter.info(f"{config.customer}: completing run {context.run_id} from its journal")
    outcome = sync_files(
        config,
        environment,
        store=context.store,
        run_id=context.run_id,
        base_dir=base_dir,
        reporter=context.reporter,
        now=context.now,
        stop_event=context.stop_event,
        on_file=on_file,
    )
    for line in summary_lines(outcome):
        context.reporter.info(f"{config.customer}: {line}")
    return to_run_outcome(
        outcome, customer=config.customer, environment=environment, run_id=context.run_id, scheduled=True
    )
