"""Applying a completions plan to Cornerstone: employee lookup, transcript, learning assignment.

The plan (``engine.cornerstone.completions``) says what to send; this module sends it through
a ``CornerstoneTarget`` and records each accepted completion in the ledger at once, so a run
stopped half-way resumes where it stopped. An employee missing in Cornerstone is reported and
skipped; a Completed learning assignment is never set back to In Progress.

Transient failures (429, 5xx) are retried inside the client; what reaches this module is
terminal for that one learner and is reported, not raised, unless it is an authentication
failure, which would fail every learner the same way. A failed learner's reason keeps the
portal's own error (code and message), and a warning says what to do in the connector's words,
chosen by the error's type and the call that failed, never by its text. Learners are named by
LMS id only, never by name or e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.console import Reporter
from engine.cornerstone.completions import CompletionPlan, LedgerKey, UnmatchedLearner
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CornerstoneTarget
from engine.errors import (
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)

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
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # course, user, portal's error
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

    def failed(course_id: str, user_id: str, exc: TargetError, advice: str) -> None:
        report.failed.append((course_id, user_id, exc.message))
        reporter.warn(f"course {course_id}: learner {user_id} not pushed: {advice} ({exc.message})")

    def employee(course_id: str, user_id: str, external_id: str) -> str | None:
        """The learner's Cornerstone guid, or None when the lookup failed or found no
        employee (both recorded in the report)."""
        try:
            guid = guid_of(external_id)
        except TargetAuthError:
            raise
        except TargetError as exc:
            failed(course_id, user_id, exc, _lookup_advice(exc))
            return None
        if guid is None:
            report.unmatched.append(UnmatchedLearner(course_id, user_id, "no_employee"))
        return guid

    for completion in plan.completions:
        key = completion.key
        lo_id = completion.learning_object_id
        guid = employee(key.course_id, key.user_id, completion.external_id)
        if guid is None:
            continue
        try:
            target.complete_transcript(guid, lo_id)
        except TargetAuthError:
            raise
        except TargetError as exc:
            failed(key.course_id, key.user_id, exc, _completion_advice(exc, lo_id))
            continue
        ledger.record([key])
        report.pushed.append(key)
    for update in plan.progress:
        guid = employee(update.course_id, update.user_id, update.external_id)
        if guid is None:
            continue
        try:
            changed = _mark_in_progress(target, guid, update.learning_object_id, update.last_activity_at)
        except TargetAuthError:
            raise
        except TargetError as exc:
            failed(update.course_id, update.user_id, exc, _progress_advice(exc, update.learning_object_id))
            continue
        if changed:
            report.progressed += 1
        else:
            report.progress_skipped += 1
    for learner in report.unmatched:
        why = "no external id in the LMS" if learner.reason == "no_external_id" else "no Cornerstone employee"
        reporter.warn(f"course {learner.course_id}: learner {learner.user_id} not pushed ({why})")
    return report


_RETRIED = "Cornerstone kept failing after the retries: the next run pushes it again"


def _lookup_advice(exc: TargetError) -> str:
    if isinstance(exc, TargetUnavailableError):
        return _RETRIED
    return "the employee lookup by external id was refused: check the portal URL and its API version"


def _completion_advice(exc: TargetError, lo_id: str) -> str:
    """What an SA does about a refused transcript completion (the employee was just found)."""
    if isinstance(exc, TargetNotFoundError):
        return (
            f"learning object {lo_id} is not in Cornerstone: has the catalog been pulled since the "
            "course was added?"
        )
    if isinstance(exc, TargetConflictError):
        return f"Cornerstone refused to complete learning object {lo_id}: see the portal's error"
    if isinstance(exc, TargetUnavailableError):
        return _RETRIED
    return f"Cornerstone did not complete learning object {lo_id}: see the portal's error"


def _progress_advice(exc: TargetError, lo_id: str) -> str:
    if isinstance(exc, TargetNotFoundError):
        return f"a learning assignment of {lo_id} was removed in Cornerstone while it was updated"
    if isinstance(exc, TargetUnavailableError):
        return _RETRIED
    return f"Cornerstone refused to set the assignment of {lo_id} In Progress: see the portal's error"


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
