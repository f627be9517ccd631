"""The visitor that applies a plan through a target, one journaled step at a time.

Every step is journaled ``pending`` before the first write and ``done``/``failed`` right after
its own, so a run killed at any instant leaves a journal that says what was done. A resumed
run (same run id) reads that journal first: ``done`` keys are skipped and the ids they
recorded (created users, groups, custom fields) are handed back to the target, so later
steps of the re-plan still find what was created before the kill.

A failure stays local: steps depending on a failed one are skipped with
``dependency_failed``; independent steps go on. Only two things stop the loop: the caller's
``stop_requested()`` (checked between steps: the run ends ``interrupted``) and the LMS
failing transiently step after step even after the client's own retries (the run ends
``failed`` and the journal keeps the rest pending for the next run). An authentication
failure is raised at once: nothing after it could succeed.

This module must never decide what to write (the planner does) nor talk HTTP (the target
does); messages it keeps carry ids, codes and ``uniqueId``s, never an e-mail or a name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from engine.apply.steps import Step
from engine.apply.target import MemberFailure, Target, Written
from engine.console import Reporter
from engine.errors import LmsyncError, TargetAuthError, TargetError
from engine.hris.actions import (
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    LinkExternalId,
    RemoveLearners,
    RemoveManager,
    RestoreUser,
    SetCustomValues,
    SetManager,
    UpdateProfile,
)
from engine.state import JournalEntry, StateStore

#: Transient failures in a row (each already retried by the client) after which the LMS is
#: taken as down: going on would only burn the rest of the plan on the same error.
MAX_TRANSIENT_IN_A_ROW = 5

StepStatus = Literal["done", "failed", "skipped", "pending"]
UserResult = Literal["done", "failed", "skipped", "not_applied"]
_RANK: Mapping[str, int] = {"done": 0, "not_applied": 1, "skipped": 2, "failed": 3}


@dataclass(frozen=True, slots=True)
class UserOutcome:
    """The worst thing that happened to one user's steps, with the API's code."""

    result: UserResult
    code: str | None = None
    reason: str | None = None


@dataclass
class Execution:
    """What applying the steps did: by step key, by user, and how the loop ended."""

    status: Literal["succeeded", "failed", "interrupted"] = "succeeded"
    steps: dict[str, StepStatus] = field(default_factory=dict)
    users: dict[str, UserOutcome] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    written: int = 0
    #: Done entries of an earlier attempt of this run (under this file's prefix).
    earlier: list[JournalEntry] = field(default_factory=list)
    #: Custom field definitions created by this run (in any attempt): title → id.
    fields: dict[str, str] = field(default_factory=dict)

    def mark(self, unique_id: str, outcome: UserOutcome) -> None:
        held = self.users.get(unique_id)
        if held is None or _RANK[outcome.result] > _RANK[held.result]:
            self.users[unique_id] = outcome


def error_code(exc: LmsyncError) -> str:
    """The API's code when it gave one, else the HTTP status, else the error's kind."""
    if isinstance(exc, TargetError):
        if exc.code:
            return exc.code
        if exc.status is not None:
            return f"http_{exc.status}"
    return type(exc).__name__


class Executor:
    """Applies steps through ``target`` under ``run_id``; keys are prefixed with ``prefix``."""

    def __init__(
        self,
        target: Target,
        store: StateStore,
        run_id: str,
        *,
        reporter: Reporter,
        now: Callable[[], datetime],
        stop_requested: Callable[[], bool] = lambda: False,
        prefix: str = "",
        columns: tuple[str, ...] = (),
    ) -> None:
        self.target, self.store, self.run_id = target, store, run_id
        self.reporter, self.now, self.stop_requested = reporter, now, stop_requested
        self.prefix = prefix
        self.columns = columns

    def run(self, steps: Sequence[Step]) -> Execution:
        execution = Execution()
        done = self._resume(execution)
        todo = [step for step in steps if self.prefix + step.key not in done]
        self.store.journal_pending(
            self.run_id,
            [
                JournalEntry(
                    key=self.prefix + step.key,
                    seq=seq,
                    action=step.kind,
                    unique_id=step.unique_id,
                    payload=_payload(step),
                    updated_at=self.now(),
                )
                for seq, step in enumerate(steps)
                if self.prefix + step.key not in done
            ],
        )
        for step in steps:
            if self.prefix + step.key in done:
                execution.steps[step.key] = "done"
                for uid in step.users:
                    execution.mark(uid, UserOutcome("done"))
        transient = 0
        with self.reporter.progress(len(todo), "Applying") as bar:
            for index, step in enumerate(todo):
                if self.stop_requested():
                    execution.status = "interrupted"
                    self._not_applied(todo[index:], execution)
                    break
                if transient >= MAX_TRANSIENT_IN_A_ROW:
                    execution.status = "failed"
                    execution.error = (
                        f"the LMS failed {transient} writes in a row even after retries; "
                        f"{len(todo) - index} step(s) left pending for the next run"
                    )
                    self._not_applied(todo[index:], execution)
                    break
                failed_transiently = self._apply(step, execution)
                if failed_transiently is not None:  # a skipped step says nothing about the LMS
                    transient = transient + 1 if failed_transiently else 0
                bar.advance()
        if execution.status == "succeeded" and execution.failures:
            execution.status = "failed"
        return execution

    # --- resuming --------------------------------------------------------------------------

    def _resume(self, execution: Execution) -> set[str]:
        """Keys this run already did (under our prefix), after giving their ids back."""
        done: set[str] = set()
        for entry in self.store.journal(self.run_id):
            if entry.status != "done" or not entry.key.startswith(self.prefix):
                continue
            done.add(entry.key)
            execution.earlier.append(entry)
            result = entry.result or {}
            if (
                entry.unique_id
                and isinstance(result.get("user_id"), str)
                and entry.action in ("create_user", "restore_user", "link_external_id")
            ):
                self.target.remember_user(entry.unique_id, str(result["user_id"]))
            path = result.get("path")
            if entry.action == "create_group" and isinstance(path, list) and result.get("group_id"):
                self.target.remember_group(tuple(str(p) for p in path), str(result["group_id"]))
            if entry.action == "create_custom_field" and result.get("title") and result.get("field_id"):
                self.target.remember_field(str(result["title"]), str(result["field_id"]))
                execution.fields[str(result["title"])] = str(result["field_id"])
        return done

    # --- one step --------------------------------------------------------------------------

    def _apply(self, step: Step, execution: Execution) -> bool | None:
        """Apply ``step``; True when it failed transiently (the LMS itself is failing), None
        when it was skipped without a call."""
        key = self.prefix + step.key
        broken = [dep for dep in step.deps if execution.steps.get(dep) in ("failed", "skipped")]
        if broken:
            self._skip(step, broken[0], execution)
            return None
        action = step.action
        if isinstance(action, AddLearners | RemoveLearners):
            return self._apply_batch(step, action, execution)
        try:
            written = self._perform(action)
        except TargetAuthError:
            self.store.journal_failed(self.run_id, key, code="auth", message="authentication refused")
            raise
        except LmsyncError as exc:
            code = error_code(exc)
            self.store.journal_failed(self.run_id, key, code=code, message=exc.message[:500], now=self.now())
            execution.steps[step.key] = "failed"
            who = f" for uniqueId {step.unique_id}" if step.unique_id else ""
            execution.failures.append(f"{step.kind}{who} failed: {code}")
            for uid in step.users:
                execution.mark(uid, UserOutcome("failed", code, f"{step.kind}: {exc.message}"[:300]))
            return exc.transient
        self.store.journal_done(self.run_id, key, result=dict(written), now=self.now())
        if isinstance(action, CreateCustomField) and written.get("field_id"):
            execution.fields[action.title] = str(written["field_id"])
        execution.steps[step.key] = "done"
        execution.written += 1
        for uid in step.users:
            execution.mark(uid, UserOutcome("done"))
        return False

    def _apply_batch(self, step: Step, action: AddLearners | RemoveLearners, execution: Execution) -> bool:
        key = self.prefix + step.key
        dropped: dict[str, str] = {}
        for ref in action.users:
            broken = [
                d
                for d in step.user_deps.get(ref.unique_id, ())
                if execution.steps.get(d) in ("failed", "skipped")
            ]
            if broken:
                dropped[ref.unique_id] = broken[0]
        kept = tuple(ref for ref in action.users if ref.unique_id not in dropped)
        failures: dict[str, MemberFailure] = {}
        if kept:
            try:
                failures = self._perform_batch(type(action)(action.group, kept))
            except TargetAuthError:
                self.store.journal_failed(self.run_id, key, code="auth", message="authentication refused")
                raise
            except LmsyncError as exc:
                code = error_code(exc)
                failures = {ref.unique_id: MemberFailure(code, exc.message[:300]) for ref in kept}
                if exc.transient:
                    self.store.journal_failed(
                        self.run_id, key, code=code, message=exc.message[:500], now=self.now()
                    )
                    self._batch_outcomes(step, action, dropped, failures, execution)
                    execution.steps[step.key] = "failed"
                    execution.failures.append(f"{step.kind} ({len(kept)} user(s)) failed: {code}")
                    return True
        self._batch_outcomes(step, action, dropped, failures, execution)
        if failures or dropped:
            first = next(iter(failures.values()), None)
            code = first.code if first is not None else "dependency_failed"
            message = f"{len(failures)} failed, {len(dropped)} skipped of {len(action.users)} user(s)"
            self.store.journal_failed(self.run_id, key, code=code, message=message, now=self.now())
            execution.steps[step.key] = "failed"
            if failures:
                execution.failures.append(f"{step.kind}: {len(failures)} user(s) failed ({code})")
        else:
            self.store.journal_done(self.run_id, key, result={"users": len(kept)}, now=self.now())
            execution.steps[step.key] = "done"
        execution.written += bool(kept)
        return False

    def _batch_outcomes(
        self,
        step: Step,
        action: AddLearners | RemoveLearners,
        dropped: Mapping[str, str],
        failures: Mapping[str, MemberFailure],
        execution: Execution,
    ) -> None:
        for ref in action.users:
            uid = ref.unique_id
            if uid in dropped:
                execution.mark(uid, _skipped(step, dropped[uid]))
            elif uid in failures:
                failure = failures[uid]
                execution.mark(
                    uid, UserOutcome("failed", failure.code, f"{step.kind}: {failure.message}"[:300])
                )
            else:
                execution.mark(uid, UserOutcome("done"))

    def _skip(self, step: Step, dep: str, execution: Execution) -> None:
        outcome = _skipped(step, dep)
        self.store.journal_failed(
            self.run_id,
            self.prefix + step.key,
            code="dependency_failed",
            message=outcome.reason or "",
            now=self.now(),
        )
        execution.steps[step.key] = "skipped"
        for uid in step.users:
            execution.mark(uid, outcome)

    def _not_applied(self, steps: Sequence[Step], execution: Execution) -> None:
        for step in steps:
            execution.steps[step.key] = "pending"
            for uid in step.users:
                execution.mark(uid, UserOutcome("not_applied", None, "the run stopped before this change"))

    # --- the visitor -----------------------------------------------------------------------

    def _perform(self, action: object) -> Written:
        target = self.target
        match action:
            case CreateCustomField():
                return target.create_custom_field(action)
            case CreateGroup():
                return target.create_group(action)
            case CreateUser():
                return target.create_user(action, columns=self.columns)
            case RestoreUser():
                return target.restore_user(action, columns=self.columns)
            case LinkExternalId():
                return target.link_external_id(action)
            case UpdateProfile():
                return target.update_profile(action)
            case SetCustomValues():
                return target.set_custom_values(action)
            case SetManager():
                return target.set_manager(action)
            case RemoveManager():
                return target.remove_manager(action)
            case DeleteUser():
                return target.delete_user(action)
        raise TypeError(f"not a plan action: {type(action).__name__}")

    def _perform_batch(self, action: AddLearners | RemoveLearners) -> dict[str, MemberFailure]:
        if isinstance(action, AddLearners):
            return self.target.add_learners(action)
        return self.target.remove_learners(action)


def _skipped(step: Step, dep: str) -> UserOutcome:
    return UserOutcome(
        "skipped", "dependency_failed", f"{step.kind} not attempted: {dep.split(':', 1)[0]} failed"
    )


def _payload(step: Step) -> dict[str, object]:
    """What the journal keeps besides the key: counts and group names, no personal data."""
    action = step.action
    if isinstance(action, AddLearners | RemoveLearners):
        return {"users": len(action.users), "group": action.group.group_id or list(action.group.path)}
    if isinstance(action, CreateGroup):
        return {"path": list(action.path)}
    return {}
