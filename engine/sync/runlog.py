"""The run log of a sync: ``<run_id>.json`` and ``<run_id>.csv`` an SA can open or attach.

A sync run may hold several files, so its log lists the files (name, content hash, what
became of each) and its per-user rows carry the file they came from. The log sits next to
the state database (``.lmsync/runs/`` beside the SQLite file), or in ``.lmsync/runs`` of the
working directory when the state is on a server. Rows hold line numbers, ``uniqueId``s,
codes and reasons, never an e-mail or a name. Files are written whole, then renamed, so a
reader never sees half a log.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.state.export import report_to_csv
from engine.sync.outcome import SyncOutcome

#: The per-user columns, in the order the CSV shows them.
COLUMNS = ("file", "line", "unique_id", "action", "result", "code", "reason")


def write_sync_log(
    directory: Path, run_id: str, *, customer: str, environment: str, outcome: SyncOutcome, error: str | None
) -> tuple[Path, Path]:
    """Write the run's JSON (everything) and CSV (one row per user) logs; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        "customer": customer,
        "environment": environment,
        "source": outcome.source,
        "status": outcome.status,
        "error": error,
        "counts": dict(outcome.counts),
        "files": [
            {
                "name": file.name,
                "sha256": file.sha256,
                "size": file.size,
                "status": file.status,
                "counts": dict(file.counts),
                "detail": file.detail,
            }
            for file in outcome.files
        ],
        "left_alone": [
            {"name": s.file.name, "reason": s.reason.value, "detail": s.detail} for s in outcome.left_alone
        ],
        "waiting": list(outcome.waiting),
        "deleted": list(outcome.deleted),
        "problems": list(outcome.problems),
        "users": [dict(row) for row in outcome.report],
    }
    json_path, csv_path = directory / f"{run_id}.json", directory / f"{run_id}.csv"
    _write(json_path, json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    rows = [{column: row.get(column) for column in COLUMNS} for row in outcome.report]
    _write(csv_path, report_to_csv(rows) if rows else ",".join(COLUMNS) + "\n")
    return json_path, csv_path


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
