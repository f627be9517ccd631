"""Files in: every pending HRIS file of a customer, oldest first, through plan and apply.

One call is one run: open the source, list it, choose the files (``engine.files``), and for
each, oldest first: read it, hash it, skip it when the ledger says this content was already
processed, decrypt it when it is encrypted, and hand it to ``apply_hris_file`` under the
run's id with the content hash as journal prefix, so one run can hold several files and an
interrupted run resumes each where it stopped. A processed file is recorded in the ledger;
the first file-level error (unreadable, wrong key, deletion guard...) stops the run and the
later files wait for the next one, because files must be applied in order. Last, processed
files older than the retention are deleted from the source.

The run's journal also carries one entry per file (``<sha12>:file``): pending while the
file is applied, done with its counts once recorded, so a resumed run knows what it had
already finished. This module never prints (it reports through a Reporter), never reads the
clock except through ``now``, and never deletes a file the ledger does not know.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from connectors.lms.target import LmsTarget
from connectors.pgp import PgpDecryptor, open_decryptor
from connectors.sources import open_source
from engine.apply import FileOutcome, apply_hris_file
from engine.config.models import CustomerConfig, Hris
from engine.console import Reporter
from engine.errors import ConfigError, LmsyncError, TargetUnavailableError
from engine.files import FileInfo, Selection, Skipped, Source, check_content, select_files
from engine.state import JournalEntry, StateStore
from engine.sync.outcome import FileResult, FileStatus, SyncOutcome, SyncStatus, problem_lines, sum_counts
from engine.sync.retention import delete_expired

#: The journal action of a file-level entry; its key is ``<sha12>:file``.
FILE_ACTION = "sync_file"


def journal_prefix(sha256: str) -> str:
    """The prefix of every journal key of one file's actions within a run."""
    return f"{sha256[:12]}:"


def file_key(sha256: str) -> str:
    return f"{journal_prefix(sha256)}file"


def require_hris(config: CustomerConfig) -> Hris:
    if config.hris is None:
        raise ConfigError(
            f"customer {config.customer} has no hris section, so there is nothing to sync",
            hint="add hris: with a source, a group and an admin",
        )
    return config.hris


@dataclass
class _Run:
    """What the run has done so far; becomes the ``SyncOutcome``."""

    source: str = ""
    files: list[FileResult] = field(default_factory=list)
    left_alone: tuple[Skipped, ...] = ()
    waiting: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    report: list[dict[str, object]] = field(default_factory=list)
    #: Problems of the files' rows and writes (from the apply step), prefixed with the file.
    row_problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: LmsyncError | None = None
    stopped: bool = False

    def outcome(self) -> SyncOutcome:
        status: SyncStatus
        if self.error is not None:
            status = "failed"
        elif self.stopped or any(f.status == "interrupted" for f in self.files):
            status = "interrupted"
        elif any(f.status == "failed" for f in self.files):
            status = "failed"
        elif any(f.applied for f in self.files):
            status = "succeeded"
        else:
            status = "skipped"
        # A file cut off by a failing LMS ("error" with counts) did part of its work: count it.
        counted = [
            f.counts for f in self.files if f.status in ("succeeded", "failed", "interrupted", "error")
        ]
        outcome = SyncOutcome(
            status=status,
            files=tuple(self.files),
            left_alone=self.left_alone,
            deleted=self.deleted,
            waiting=self.waiting,
            notices=tuple(self.notices),
            error=self.error,
            counts=sum_counts(counted),
            report=list(self.report),
            source=self.source,
        )
        return replace(outcome, problems=[*problem_lines(outcome), *self.row_problems])


@dataclass(frozen=True)
class _Settings:
    """One run's fixed inputs, shared by the steps below."""

    config: CustomerConfig
    hris: Hris
    environment: str
    store: StateStore
    run_id: str
    base_dir: Path
    reporter: Reporter
    now: Callable[[], datetime]
    allow_deletions: int | None
    stop: threading.Event
    on_file: Callable[[str, str], None] | None


def sync_files(
    config: CustomerConfig,
    environment: str,
    *,
    store: StateStore,
    run_id: str,
    base_dir: Path,
    reporter: Reporter,
    now: Callable[[], datetime],
    allow_deletions: int | None = None,
    stop_event: threading.Event | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> SyncOutcome:
    """Process ``config``'s pending files into ``environment`` as run ``run_id``.

    ``base_dir`` is the customer file's folder (relative paths and ``file:`` secrets start
    there). Setting ``stop_event`` stops the run between actions (or during the settle
    wait); the outcome is then ``interrupted``. ``on_file(name, sha256)`` is called when a
    file starts being applied, so the run history shows it while it runs. Domain errors are
    not raised: they end the run and are in ``outcome.error``.
    """
    hris = require_hris(config)
    settings = _Settings(
        config=config,
        hris=hris,
        environment=environment,
        store=store,
        run_id=run_id,
        base_dir=base_dir,
        reporter=reporter,
        now=now,
        allow_deletions=allow_deletions,
        stop=stop_event if stop_event is not None else threading.Event(),
        on_file=on_file,
    )
    run = _Run()
    try:
        source = open_source(hris.source, base_dir=base_dir, reporter=reporter)
        run.source = source.describe()
        with source, ExitStack() as keyring:
            listing = _settled_selection(source, settings)
            if listing is None:
                run.stopped = True
                return run.outcome()
            files, selection = listing
            run.left_alone = selection.skipped
            processor = _FileProcessor(settings, source, keyring, run)
            duplicates = processor.process_all(selection.selected)
            processor.report_abandoned()
            # Retention is independent of this run's files: it runs after an error too, but
            # a stopped run leaves at once.
            if not run.stopped:
                run.deleted = tuple(
                    delete_expired(
                        source,
                        files,
                        store,
                        config.customer,
                        duplicates=duplicates,
                        now=now(),
                        retention_days=hris.file.retention_days,
                        reporter=reporter,
                    )
                )
    except LmsyncError as exc:
        run.error = exc
    return run.outcome()


def _settled_selection(source: Source, settings: _Settings) -> tuple[list[FileInfo], Selection] | None:
    """List the source twice, ``settle_seconds`` apart, so a file still growing waits.

    The second listing is only taken when the first found something to process. Comparing
    two listings a few seconds apart, rather than this run's with the previous run's, is
    what tells "still being written" from "replaced since the last run": a customer who
    overwrites ``hris.tsv`` every day must not have each new version held back one run.
    None when the run was asked to stop during the wait.
    """
    naming, encryption = settings.hris.file, settings.hris.encryption
    first = source.list()
    selection = select_files(first, naming, encryption, now=settings.now())
    settle = naming.settle_seconds
    if settle <= 0 or not selection.selected:
        return first, selection
    settings.reporter.info(
        f"{settings.config.customer}: checking for {settle:g} s that no file is still being uploaded"
    )
    if settings.stop.wait(settle):
        return None
    second = source.list()
    return second, select_files(second, naming, encryption, now=settings.now(), previous=first)


class _FileProcessor:
    """Takes the selected files one by one; stops at the first file-level error."""

    def __init__(self, settings: _Settings, source: Source, keyring: ExitStack, run: _Run) -> None:
        self.s, self.source, self.keyring, self.run = settings, source, keyring, run
        self._pgp: PgpDecryptor | None = None
        # What this run finished before it was interrupted (empty for a new run).
        self.finished = {
            str(entry.payload.get("sha256")): entry
            for entry in settings.store.journal(settings.run_id)
            if entry.action == FILE_ACTION
        }
        self._earlier_rows = settings.store.report(settings.run_id) if self.finished else []

    def process_all(self, selected: tuple[FileInfo, ...]) -> list[tuple[FileInfo, datetime]]:
        """Process in order; returns the files skipped as already-processed content, each with
        when that content was processed (retention counts from then)."""
        duplicates: list[tuple[FileInfo, datetime]] = []
        for index, info in enumerate(selected):
            if self.s.stop.is_set():
                self.run.stopped = True
                self.run.waiting = tuple(f.name for f in selected[index:])
                break
            result = self._process(info)
            self.run.files.append(result)
            if result.status == "duplicate" and result.processed_at is not None:
                duplicates.append((info, result.processed_at))
            if self.run.stopped or self.run.error is not None:
                self.run.waiting = tuple(f.name for f in selected[index + 1 :])
                break
        return duplicates

    def report_abandoned(self) -> None:
        """Say so when the file an interrupted run was applying is gone from the source (or
        was replaced by other content).

        Its remaining actions cannot be completed without the file; nothing is lost, because
        the next file is planned against the LMS as it is (reconciliation, not replay).
        """
        if self.run.stopped or self.run.error is not None:
            return  # the run did not look at every file: the one in question may be waiting
        seen = {file.sha256 for file in self.run.files}
        for sha, entry in self.finished.items():
            if entry.status == "pending" and sha not in seen:
                name = str(entry.payload.get("file"))
                message = (
                    f"{name}: this run was applying it when it stopped, and it is no longer on the "
                    "source; its remaining actions are abandoned (the next file reconciles the LMS)"
                )
                self.s.reporter.warn(f"{self.s.config.customer}: {message}")
                self.run.notices.append(message)

    def _process(self, info: FileInfo) -> FileResult:
        customer, name = self.s.config.customer, info.name
        try:
            data = self.source.read(name)
        except LmsyncError as exc:
            self.run.error = exc
            return FileResult(name, "error", size=info.size, detail=str(exc))
        sha = hashlib.sha256(data).hexdigest()
        entry = self.s.store.ledger_find(customer, sha)
        if entry is not None and entry.run_id == self.s.run_id:
            return self._done_earlier(name, sha, len(data))
        if entry is not None:
            detail = (
                f"its content was already processed as {entry.file_name} by run {entry.run_id} "
                f"on {entry.processed_at:%Y-%m-%d %H:%M} UTC"
            )
            return FileResult(
                name,
                "duplicate",
                sha256=sha,
                size=len(data),
                detail=detail,
                processed_at=entry.processed_at,
                processed_as=entry.file_name,
            )
        verdict = check_content(info, data, self.s.hris.encryption)
        if isinstance(verdict, Skipped):
            detail = f"{verdict.reason.value}: {verdict.detail}"
            return FileResult(name, "skipped", sha256=sha, size=len(data), detail=detail)
        if self.s.on_file is not None:
            self.s.on_file(name, sha)
        try:
            plain = self._decryptor().decrypt(data, file=name) if verdict == "decrypt" else data
            self.s.store.journal_pending(
                self.s.run_id,
                [
                    JournalEntry(
                        key=file_key(sha),
                        seq=0,
                        action=FILE_ACTION,
                        payload={"file": name, "sha256": sha, "size": len(data)},
                        updated_at=self.s.now(),
                    )
                ],
            )
            outcome = self._apply(plain, name, sha)
        except LmsyncError as exc:
            self.run.error = exc
            return FileResult(name, "error", sha256=sha, size=len(data), detail=str(exc))
        self.run.report += [{"file": name, **row} for row in outcome.report]
        self.run.row_problems += [f"{name}: {problem}" for problem in outcome.problems]
        if outcome.cut_off is not None:
            return self._cut_off(name, sha, len(data), outcome)
        if outcome.status == "interrupted":
            self.run.stopped = True
            return FileResult(name, "interrupted", sha256=sha, size=len(data), counts=outcome.counts)
        self.s.store.ledger_record(customer, name, sha, len(data), self.s.run_id, now=self.s.now())
        self.s.store.journal_done(
            self.s.run_id,
            file_key(sha),
            result={"status": outcome.status, "counts": dict(outcome.counts)},
            now=self.s.now(),
        )
        # Saved after each file, so a run killed later still shows this file's rows.
        self.s.store.save_report(self.s.run_id, self.run.report)
        return FileResult(name, outcome.status, sha256=sha, size=len(data), counts=outcome.counts)

    def _cut_off(self, name: str, sha: str, size: int, outcome: FileOutcome) -> FileResult:
        """The LMS kept failing: the file is not done. It stays out of the ledger so the next
        run (the runner's retry) applies it again, planned against the LMS as it then is, and
        the newer files wait for it, as after a file-level error."""
        error = TargetUnavailableError(
            f"{name}: {outcome.cut_off}",
            code="lms_failing",
            hint="the next run applies this file again, and the files after it wait until then",
        )
        self.run.error = error
        self.s.store.journal_failed(
            self.s.run_id, file_key(sha), code="lms_failing", message=error.message, now=self.s.now()
        )
        self.s.store.save_report(self.s.run_id, self.run.report)
        return FileResult(name, "error", sha256=sha, size=size, counts=outcome.counts, detail=str(error))

    def _apply(self, data: bytes, name: str, sha: str) -> FileOutcome:
        # A fresh target per file: its snapshot must see what the previous file changed. Built
        # here so ``file:`` credentials resolve from the customer file's folder.
        with LmsTarget.from_config(self.s.config, self.s.environment, base_dir=self.s.base_dir) as target:
            return apply_hris_file(
                self.s.config,
                self.s.environment,
                data,
                file_name=name,
                store=self.s.store,
                run_id=self.s.run_id,
                reporter=self.s.reporter,
                allow_deletions=self.s.allow_deletions,
                journal_prefix=journal_prefix(sha),
                stop_requested=self.s.stop.is_set,
                now=self.s.now,
                target=target,
            )

    def _decryptor(self) -> PgpDecryptor:
        # Imported once per run, and only when an encrypted file is met: gpg is not free.
        if self._pgp is None:
            decryptor = open_decryptor(self.s.hris.encryption, base_dir=self.s.base_dir)
            self._pgp = self.keyring.enter_context(decryptor)
        return self._pgp

    def _done_earlier(self, name: str, sha: str, size: int) -> FileResult:
        entry = self.finished.get(sha)
        result = entry.result if entry is not None and entry.result else {}
        raw_counts = result.get("counts")
        counts = {str(k): int(v) for k, v in raw_counts.items()} if isinstance(raw_counts, dict) else {}
        status: FileStatus = "failed" if result.get("status") == "failed" else "succeeded"
        self.run.report += [row for row in self._earlier_rows if row.get("file") == name]
        return FileResult(name, status, sha256=sha, size=size, counts=counts, earlier_in_run=True)
