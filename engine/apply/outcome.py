"""What an applied file comes to: counts, one log row per user, short problem lines, the run log.

The per-user rows are what an SA downloads to answer "what happened to employee 0042?": the
user's line in the file, its ``uniqueId``, what the plan did (create, update, adopt,
restore, delete, or why the row was set aside) and how it ended (done, failed with the API's
code, skipped because something it needed failed, not applied because the run stopped).
Users needing nothing are counted, not listed: at a million rows the log stays the size of
the change. A resumed run also lists the users its earlier attempt already handled.

This module must never put an e-mail or a name in a row or a line: rows carry line numbers,
``uniqueId``s (HRIS keys), codes and messages that are free of cell values by construction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from engine.apply.executor import Execution, UserOutcome
from engine.hris.desired import DesiredState
from engine.hris.plan import Plan
from engine.hris.rows import ProblemCode
from engine.hris.snapshot import Snapshot
from engine.state import JournalEntry
from engine.state.export import report_to_csv

#: Columns of the run log, in order.
COLUMNS = ("line", "unique_id", "action", "result", "code", "reason")
#: Counts every outcome carries, in the order they are shown.
COUNT_KEYS = (
    "created",
    "updated",
    "deleted",
    "restored",
    "unchanged",
    "duplicated",
    "ignored",
    "filtered_out",
    "no_group_rule",
    "failed",
)
_EARLIER = {"create_user": "create", "restore_user": "restore", "delete_user": "delete"}


def report_rows(
    plan: Plan,
    desired: DesiredState,
    snapshot: Snapshot,
    execution: Execution,
    earlier: Iterable[JournalEntry] = (),
) -> list[dict[str, object]]:
    """One row per user the plan changed or set aside, sorted by line then ``uniqueId``."""
    rows: dict[str, dict[str, object]] = {}

    def line_of(uid: str) -> int | None:
        return desired.line_of(uid)  # None: deleted as missing, not in the file

    earlier_changes = _earlier_changes(earlier)
    for change in plan.changes:
        uid = change.unique_id
        outcome = execution.users.get(uid) or UserOutcome("done")
        action = change.action
        if action == "adopt" and earlier_changes.get(uid) in ("create", "restore"):
            action = earlier_changes[uid]  # created by the attempt that was cut before its link
        rows[uid] = _row(line_of(uid), uid, action, outcome.result, code=outcome.code, reason=outcome.reason)
    for uid, action in earlier_changes.items():
        if uid not in rows:
            reason = "applied by an earlier attempt of this run"
            rows[uid] = _row(line_of(uid), uid, action, "done", code=None, reason=reason)
    set_aside: list[dict[str, object]] = []
    for problem in plan.problems:
        who = problem.unique_id
        held = rows.get(who) if who is not None else None
        if held is not None:
            if held["code"] is None:
                held["code"], held["reason"] = problem.code, problem.message
            continue
        if problem.synced:
            rows[str(who)] = _row(
                problem.line, who, "unchanged", "unchanged", code=problem.code, reason=problem.message
            )
            continue
        action = "duplicated" if problem.code == ProblemCode.DUPLICATED else "ignored"
        set_aside.append(_row(problem.line, who, action, action, code=problem.code, reason=problem.message))
    ordered = [*rows.values(), *set_aside]
    ordered.sort(key=lambda r: (r["line"] is None, r["line"] or 0, str(r["unique_id"] or "")))
    return ordered


def _row(
    line: int | None, uid: str | None, action: str, result: str, *, code: str | None, reason: str | None
) -> dict[str, object]:
    return {
        "line": line,
        "unique_id": uid,
        "action": action,
        "result": result,
        "code": code,
        "reason": reason,
    }


def _earlier_changes(entries: Iterable[JournalEntry]) -> dict[str, str]:
    """Users an earlier attempt of the run changed, with what it did to each."""
    kinds: dict[str, set[str]] = {}
    for entry in entries:
        if entry.unique_id and entry.status == "done":
            kinds.setdefault(entry.unique_id, set()).add(entry.action)
    changes: dict[str, str] = {}
    for uid, done in kinds.items():
        named = [_EARLIER[kind] for kind in ("create_user", "restore_user", "delete_user") if kind in done]
        changes[uid] = named[0] if named else ("adopt" if done == {"link_external_id"} else "update")
    return changes


def count_outcome(plan: Plan, rows: Sequence[Mapping[str, object]]) -> dict[str, int]:
    """Users by what was done to them; ``failed`` also holds those skipped for a failure."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    done_as = {
        "create": "created",
        "update": "updated",
        "adopt": "updated",
        "delete": "deleted",
        "restore": "restored",
    }
    for row in rows:
        if row["result"] == "done" and row["action"] in done_as:
            counts[done_as[str(row["action"])]] += 1
        elif row["result"] in ("failed", "skipped"):
            counts["failed"] += 1
    summary = plan.summary
    counts["unchanged"] = summary.unchanged
    counts["duplicated"] = summary.duplicated
    counts["ignored"] = summary.ignored
    counts["filtered_out"] = summary.filtered_out
    counts["no_group_rule"] = summary.no_group_rule
    return counts


def problem_lines(plan: Plan, execution: Execution) -> list[str]:
    """Rows set aside and writes that failed, one short line each."""
    lines = [
        f"line {p.line}" + (f" (uniqueId {p.unique_id})" if p.unique_id else "") + f": {p.code}: {p.message}"
        for p in plan.problems
    ]
    lines.extend(execution.failures)
    if execution.error:
        lines.append(execution.error)
    return lines


def write_log(
    directory: Path,
    run_id: str,
    *,
    status: str,
    counts: Mapping[str, int],
    plan: Plan,
    rows: Sequence[Mapping[str, object]],
    problems: Sequence[str],
    header: Mapping[str, object],
) -> tuple[Path, Path]:
    """``<run_id>.json`` (everything) and ``<run_id>.csv`` (the per-user rows) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        **header,
        "status": status,
        "counts": dict(counts),
        "summary": asdict(plan.summary),
        "guard": asdict(plan.guard),
        "problems": list(problems),
        "users": [dict(row) for row in rows],
    }
    json_path, csv_path = directory / f"{run_id}.json", directory / f"{run_id}.csv"
    _write(json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    _write(
        csv_path,
        report_to_csv([{column: row.get(column) for column in COLUMNS} for row in rows])
        if rows
        else ",".join(COLUMNS) + "\n",
    )
    return json_path, csv_path


def _write(path: Path, text: str) -> None:
    """Write then rename: a reader never sees half a log, a crash never leaves one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
