"""What a sync of a customer's pending files did: per file, and for the run as a whole.

A run may process several files, so the run's counts are the sum of its files' counts and
every per-user report row carries the name of the file it came from. The summary lines
rendered here are what ``lmsync sync`` prints and the runner logs, one per file; they name
files and counts only, never an employee. This module is pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from engine.errors import DeletionGuardError, LmsyncError
from engine.files import Skipped
from engine.state.records import COUNT_NAMES

FileStatus = Literal["succeeded", "failed", "interrupted", "duplicate", "skipped", "error"]
SyncStatus = Literal["succeeded", "failed", "skipped", "interrupted"]

#: Counts worth a word in a summary line, in the order an SA reads them.
SUMMARY_COUNTS: tuple[str, ...] = (*COUNT_NAMES[:4], "unchanged", *COUNT_NAMES[4:])


@dataclass(frozen=True)
class FileResult:
    """One selected file and what became of it.

    ``status``: ``succeeded``/``failed`` (applied; ``failed`` means some actions failed),
    ``interrupted`` (stopped between actions; the journal keeps the rest), ``duplicate``
    (its content was already processed), ``skipped`` (its content is not for this customer's
    encryption setting), ``error`` (a file-level error stopped the run here).
    """

    name: str
    status: FileStatus
    sha256: str | None = None
    size: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    detail: str | None = None
    #: True when this run had already processed the file before it was interrupted.
    earlier_in_run: bool = False
    #: For a duplicate: when its content was processed.
    processed_at: datetime | None = None
    #: For a duplicate: the name its content was processed under.
    processed_as: str | None = None

    @property
    def awaiting_retention(self) -> bool:
        """The very file an earlier run processed, still on the source until its retention:
        not news, unlike the same content uploaded again under another name."""
        return self.status == "duplicate" and self.processed_as == self.name

    @property
    def applied(self) -> bool:
        return self.status in ("succeeded", "failed")


@dataclass(frozen=True)
class SyncOutcome:
    """The whole run: its files in processing order, what selection left alone, retention."""

    status: SyncStatus
    files: tuple[FileResult, ...] = ()
    left_alone: tuple[Skipped, ...] = ()
    deleted: tuple[str, ...] = ()
    #: Selected files the run did not reach (after an error or a stop): the next run's work.
    waiting: tuple[str, ...] = ()
    #: Things the run wants an SA to know that are about no file on the source now.
    notices: tuple[str, ...] = ()
    error: LmsyncError | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    report: Sequence[Mapping[str, object]] = ()
    problems: Sequence[str] = ()
    source: str = ""

    @property
    def guard_tripped(self) -> bool:
        return isinstance(self.error, DeletionGuardError)

    @property
    def applied_files(self) -> list[FileResult]:
        return [file for file in self.files if file.applied]

    @property
    def last_applied(self) -> FileResult | None:
        worked = ("succeeded", "failed", "interrupted")
        applied = [file for file in self.files if file.sha256 and file.status in worked]
        return applied[-1] if applied else None

    @property
    def failed_file(self) -> str | None:
        """The file whose file-level error stopped the run, if one did."""
        return next((file.name for file in self.files if file.status == "error"), None)

    def error_text(self) -> str | None:
        """The error, saying which file it is about (a guard or LMS error does not)."""
        if self.error is None:
            return None
        text, name = str(self.error), self.failed_file
        return text if name is None or text.startswith(name) else f"{name}: {text}"

    def file_names(self) -> str | None:
        """The files this run worked on, as the run history shows them."""
        names = [file.name for file in self.files if file.status in ("succeeded", "failed", "interrupted")]
        return ", ".join(names) if names else None


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counters added key by key; the run's counts are its files' counts summed."""
    total: dict[str, int] = {}
    for one in counts:
        for name, value in one.items():
            total[name] = total.get(name, 0) + int(value)
    return total


def counts_text(counts: Mapping[str, int]) -> str:
    """``3 created, 1 updated, 2 ignored`` (zeros left out), or ``no change``."""
    ordered = [name for name in SUMMARY_COUNTS if name in counts]
    ordered += sorted(name for name in counts if name not in SUMMARY_COUNTS)
    words = [f"{counts[name]} {name.replace('_', ' ')}" for name in ordered if counts[name]]
    return ", ".join(words) if words else "no change"


def file_line(result: FileResult) -> str:
    """One file's summary line."""
    sha = f" (sha256 {result.sha256[:12]})" if result.sha256 else ""
    head = f"{result.name}{sha}"
    if result.status in ("succeeded", "failed"):
        earlier = " (done earlier in this run)" if result.earlier_in_run else ""
        return f"{head}: {result.status}{earlier}: {counts_text(result.counts)}"
    if result.status == "interrupted":
        return f"{head}: interrupted after {counts_text(result.counts)}; the next run completes it"
    if result.status == "duplicate":
        return f"{head}: skipped, {result.detail}"
    if result.status == "skipped":
        return f"{head}: not synchronized: {result.detail}"
    detail = result.detail or ""
    if detail.startswith(f"{result.name}: "):
        detail = detail[len(result.name) + 2 :]
    return f"{head}: stopped the run: {detail}"


def skipped_line(skipped: Skipped) -> str:
    return f"{skipped.file.name}: left alone ({skipped.reason.value}): {skipped.detail}"


def summary_lines(outcome: SyncOutcome) -> list[str]:
    """Every line of a run's summary: one per file, what was left alone, retention, total."""
    lines = [file_line(file) for file in outcome.files]
    lines += [skipped_line(skipped) for skipped in outcome.left_alone]
    if not outcome.files and not outcome.left_alone and outcome.error is None:
        lines.append(f"no file to process in {outcome.source}" if outcome.source else "no file to process")
    if outcome.deleted:
        lines.append(f"retention: deleted {', '.join(outcome.deleted)} from the source")
    if outcome.waiting:
        lines.append(f"left for the next run: {', '.join(outcome.waiting)}")
    applied = outcome.applied_files
    if len(applied) > 1:
        lines.append(f"total over {len(applied)} files: {counts_text(outcome.counts)}")
    return lines


def problem_lines(outcome: SyncOutcome) -> list[str]:
    """Short lines about the files: not synchronized, left alone, waiting. No personal data.

    A processed file waiting on the source for its retention is not one: a daily export kept
    30 days would list up to 60 of them in every recap, above the users that need an SA."""
    problems = [
        file_line(file)
        for file in outcome.files
        if file.status in ("duplicate", "skipped") and not file.awaiting_retention
    ]
    problems += [skipped_line(skipped) for skipped in outcome.left_alone]
    if outcome.waiting:
        problems.append(f"left for the next run: {', '.join(outcome.waiting)}")
    return [*problems, *outcome.notices]
