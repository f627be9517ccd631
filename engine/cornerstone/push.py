"""Applying a completions plan to Cornerstone: employee lookup, transcript, learning assignment.

The plan (``engine.cornerstone.completions``) says what to send; this module sends it through
a ``CornerstoneTarget`` and records each accepted completion in the ledger at once, so a run
stopped half-way resumes where it stopped. An employee missing in Cornerstone is reported and
skipped; a Completed learning assignment is never set back to In Progress.

Transient failures (429, 5xx) are retried inside the client; what reaches this module is
terminal for that one learner and is reported, not raised, unless it is an authentication
failure, which would fail every learner the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.console import Reporter
from engine.cornerstone.completions import CompletionPlan, LedgerKey, UnmatchedLearner
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CornerstoneTarget
from engine.errors import TargetAuthError, TargetError

#: Cornerstone learning assignment statuses we read and write.
COMPLETED = "Completed"
IN_PROGRESS = "In Progress"


@dataclass
class PushReport:
    """What a run did: counts and ids, never names or e-mails."""

    pushed: list[LedgerKey] = field(default_factory=list)
    progressed: int = 0
    progress_skipped: int = 0
    unmatched: list[UnmatchedLearner] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # course, user, reason
    already_pushed: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.pushed)} completion(s) pushed, {self.already_pushed} already pushed, "
            f"{self.progressed} in-progress update(s), {len(self.unmatched)} learner(s) not matched, "
            f"{len(self.failed)} failed"
        )


def push_completions(
    plan: CompletionPlan,
    target: CornerstoneTarget,
    ledger: CompletionLedger,
    reporter: Reporter,
) -> PushReport:
    report = PushReport(unmatched=list(plan.unmatched), already_pushed=plan.already_pushed)
    guids: dict[str, str | None] = {}

    def guid_of(external_id: str) -> str | None:
        if external_id not in guids:
            guids[external_id] = target.employee_guid(external_id)
        return guids[external_id]

    for completion in plan.completions:
        key = completion.key
        try:
            guid = guid_of(completion.external_id)
            if guid is None:
                report.unmatched.append(UnmatchedLearner(key.course_id, key.user_id, "no_employee"))
            else:
                target.complete_transcript(guid, completion.learning_object_id)
                ledger.record([key])
                report.pushed.append(key)
        except TargetAuthError:
            raise
        except TargetError as exc:
            report.failed.append((key.course_id, key.user_id, exc.code or str(exc.status or "error")))
    for update in plan.progress:
        try:
            guid = guid_of(update.external_id)
            if guid is None:
                report.unmatched.append(UnmatchedLearner(update.course_id, update.user_id, "no_employee"))
            elif _mark_in_progress(target, guid, update.learning_object_id, update.last_activity_at):
                report.progressed += 1
            else:
                report.progress_skipped += 1
        except TargetAuthError:
            raise
        except TargetError as exc:
            reason = exc.code or str(exc.status or "error")
            report.failed.append((update.course_id, update.user_id, reason))
    for learner in report.unmatched:
        why = "no external id in the LMS" if learner.reason == "no_external_id" else "no Cornerstone employee"
        reporter.warn(f"course {learner.course_id}: learner {learner.user_id} not pushed ({why})")
    return report


def _mark_in_progress(target: CornerstoneTarget, guid: str, lo_id: str, last_access: datetime) -> bool:
    """True when an assignment was updated; a Completed one is left as it is."""
    changed = False
    for assignment in target.learning_assignments(guid, lo_id):
        if assignment.status == COMPLETED:
            continue
        if (
            assignment.status == IN_PROGRESS
            and assignment.last_access is not None
            and (assignment.last_access >= last_access.replace(microsecond=0))
        ):
            continue
        target.update_learning_assignment(assignment.id, IN_PROGRESS, last_access)
        changed = True
    return changed
