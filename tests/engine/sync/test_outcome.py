"""What a sync run says about itself: summary lines, summed counts, the error with its file.
Pure values in, text out: no server."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.errors import FileLevelError
from engine.files import FileInfo, Skipped, SkipReason
from engine.sync.outcome import FileResult, SyncOutcome, counts_text, problem_lines, sum_counts, summary_lines

WHEN = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)


def test_counts_are_summed_and_said_in_the_order_an_sa_reads_them() -> None:
    total = sum_counts([{"created": 2, "unchanged": 5}, {"updated": 1, "created": 1, "failed": 0}])
    assert total == {"created": 3, "unchanged": 5, "updated": 1, "failed": 0}
    assert counts_text(total) == "3 created, 1 updated, 5 unchanged"
    assert counts_text({"no_group_rule": 2, "zeta": 1}) == "2 no group rule, 1 zeta"
    assert counts_text({"created": 0}) == "no change"


def test_summary_has_a_line_per_file_what_was_left_alone_what_waits_and_the_total() -> None:
    error = FileLevelError("the required column 'email' is missing", file="hris-3.csv", line=1)
    outcome = SyncOutcome(
        status="failed",
        files=(
            FileResult("hris-1.csv", "succeeded", sha256="a" * 64, counts={"created": 2}),
            FileResult("hris-2.csv", "failed", sha256="b" * 64, counts={"updated": 1, "failed": 1}),
            FileResult(
                "hris-0.csv", "duplicate", sha256="c" * 64, detail="its content was already processed"
            ),
            FileResult("hris-3.csv", "error", sha256="d" * 64, detail=str(error)),
        ),
        left_alone=(Skipped(FileInfo("notes.txt", 1, WHEN), SkipReason.NAME_MISMATCH, "only hris*.csv"),),
        deleted=("hris-old.csv",),
        waiting=("hris-4.csv",),
        error=error,
        counts={"created": 2, "updated": 1, "failed": 1},
    )
    assert summary_lines(outcome) == [
        "hris-1.csv (sha256 aaaaaaaaaaaa): succeeded: 2 created",
        "hris-2.csv (sha256 bbbbbbbbbbbb): failed: 1 updated, 1 failed",
        "hris-0.csv (sha256 cccccccccccc): skipped, its content was already processed",
        "hris-3.csv (sha256 dddddddddddd): stopped the run: "
        "hris-3.csv:1: the required column 'email' is missing",
        "notes.txt: left alone (name_mismatch): only hris*.csv",
        "retention: deleted hris-old.csv from the source",
        "left for the next run: hris-4.csv",
        "total over 2 files: 2 created, 1 updated, 1 failed",
    ]
    assert outcome.error_text() == "hris-3.csv:1: the required column 'email' is missing"
    assert outcome.file_names() == "hris-1.csv, hris-2.csv"
    assert problem_lines(outcome) == [
        "hris-0.csv (sha256 cccccccccccc): skipped, its content was already processed",
        "notes.txt: left alone (name_mismatch): only hris*.csv",
        "left for the next run: hris-4.csv",
    ]


def test_an_empty_run_says_there_was_nothing_to_do() -> None:
    assert summary_lines(SyncOutcome(status="skipped", source="folder /srv/in")) == [
        "no file to process in folder /srv/in"
    ]
