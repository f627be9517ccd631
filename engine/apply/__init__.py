"""Applying an HRIS file to the LMS: plan it against a snapshot, then execute the plan, journaled.

Public entry points: ``apply_hris_file`` (read, snapshot, plan, apply one file under a run
id; resumable), ``plan_hris_file`` (the same up to the plan, writing nothing),
``write_run_log`` (the run's JSON and CSV log) and ``FileOutcome``. The package is split by
responsibility: ``steps`` (journal keys and dependencies, pure), ``executor`` (the visitor
applying steps through a ``target.Target``), ``outcome`` (counts, per-user rows, the log
files), ``session`` (taking the customer's lock and resuming an unfinished run),
``markdown`` (the plan for a pull request). It must never talk HTTP itself: the LMS is
reached through ``connectors.lms.target.LmsTarget``.
"""

from engine.apply.pipeline import (
    FileOutcome,
    PlannedFile,
    apply_hris_file,
    plan_hris_file,
    previous_custom_fields,
    previous_groups,
    write_run_log,
)

__all__ = [
    "FileOutcome",
    "PlannedFile",
    "apply_hris_file",
    "plan_hris_file",
    "previous_custom_fields",
    "previous_groups",
    "write_run_log",
]
