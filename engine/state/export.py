"""Turns a run's per-user report into the JSON and CSV files an SA downloads.

Pure: rows in, text out. CSV columns are the union of the rows' keys in first-seen order,
so a report whose rows differ (an ignored row has a reason, a created one does not) still
exports every column. It must never reorder or drop rows: line numbers refer to them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence


def report_to_json(rows: Sequence[Mapping[str, object]]) -> str:
    return json.dumps([dict(row) for row in rows], indent=2, ensure_ascii=False, default=str) + "\n"


def report_to_csv(rows: Sequence[Mapping[str, object]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, None)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
