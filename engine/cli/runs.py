"""``lmsync runs [CUSTOMER]`` and ``lmsync runs show RUN_ID``: what every run did.

The history shows each run's status, file, counts and duration, and above it the customers
the runner has paused (quarantined) with how to resume them. ``show`` prints one run and its
per-user log, downloadable as JSON or CSV. A thin shell over the state store; it must never
change the state, nor create it: with no store yet it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.runner import state_url_argument
from engine.console import Reporter
from engine.errors import StateError, UsageError
from engine.state import CustomerStatus, RunRecord, StateStore
from engine.state.export import report_to_csv, report_to_json
from engine.state.store import redacted_url

#: The counts the history shows, in the order an SA reads them.
SHOWN_COUNTS = ("created", "updated", "deleted", "duplicated", "ignored", "no_group_rule", "failed")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "runs",
        help="run history (runs [CUSTOMER]) and one run's log (runs show RUN_ID)",
        description="`lmsync runs [CUSTOMER]` lists recent runs, newest first; "
        "`lmsync runs show RUN_ID --format csv` prints a run's per-user log.",
    )
    parser.add_argument("target", nargs="*", metavar="CUSTOMER | show RUN_ID")
    state_url_argument(parser)
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    parser.add_argument("--limit", type=int, default=50, help="most runs listed (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    target: list[str] = args.target
    if target[:1] == ["show"]:
        if len(target) != 2:
            raise UsageError("usage: lmsync runs show RUN_ID [--format text|json|csv]")
        return _show(args, target[1])
    if len(target) > 1:
        raise UsageError("usage: lmsync runs [CUSTOMER] (one customer at most)")
    if args.format == "csv":
        raise UsageError("--format csv is for a run's log", hint="lmsync runs show RUN_ID --format csv")
    customer = target[0] if target else None
    store = StateStore.open_existing(args.state)
    if store is None:
        reporter.info(f"no runs yet (state store {redacted_url(args.state)} does not exist)")
        if args.format == "json":
            sys.stdout.write(json.dumps({"runs": [], "customers": []}, indent=2) + "\n")
        return 0
    try:
        runs = store.list_runs(customer, limit=args.limit)
        statuses = [s for s in store.customer_statuses() if customer in (None, s.customer)]
    finally:
        store.close()
    if args.format == "json":
        payload = {
            "runs": [_run_json(r) for r in runs],
            "customers": [_status_json(s) for s in statuses if s.quarantined or s.consecutive_failures],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(_history_text(runs, statuses))
    return 0


def _show(args: argparse.Namespace, run_id: str) -> int:
    store = StateStore.open_existing(args.state)
    if store is None:
        raise StateError(
            f"run {run_id} does not exist: state store {redacted_url(args.state)} does not exist",
            hint="give the runner's store with --state or $LMSYNC_STATE_URL",
        )
    try:
        record = store.get_run(run_id)
        rows = store.report(run_id)
    finally:
        store.close()
    if args.format == "csv":
        sys.stdout.write(report_to_csv(rows))
    elif args.format == "json":
        sys.stdout.write(
            json.dumps({"run": _run_json(record), "report": json.loads(report_to_json(rows))}, indent=2)
        )
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_run_text(record, len(rows)))
    return 0


def _run_text(record: RunRecord, rows: int) -> str:
    """One run as label/value lines; the label column fits the longest label, whatever
    counts the run recorded (``filtered_out``, ``no_group_rule``...)."""
    fields: list[tuple[str, object]] = [
        ("run", record.id),
        ("customer", f"{record.customer} ({record.environment}, {record.kind})"),
        ("status", record.status),
        ("started", f"{record.started_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("duration", _duration(record)),
        ("file", record.file_name or "-"),
    ]
    if record.error:
        fields.append(("error", record.error))
    fields += list(record.counts.items())
    fields.append(("log", f"{rows} rows: lmsync runs show {record.id} --format csv (or json)"))
    width = max(len(label) for label, _ in fields) + 2
    return "".join(f"{label:<{width}}{value}\n" for label, value in fields)


def _duration(run: RunRecord) -> str:
    if run.duration is None:
        return "running" if run.status == "running" else "-"
    seconds = run.duration.total_seconds()
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _history_text(runs: list[RunRecord], statuses: list[CustomerStatus]) -> str:
    lines: list[str] = []
    for status in statuses:
        if status.quarantined:
            assert status.quarantined_at is not None
            lines.append(
                f"QUARANTINED {status.customer} since {status.quarantined_at:%Y-%m-%d %H:%M} UTC: "
                f"{status.quarantine_reason} -- resume with `lmsync runner resume {status.customer}`"
            )
        elif status.consecutive_failures and status.next_retry_at is not None:
            lines.append(
                f"retrying   {status.customer}: {status.consecutive_failures} failed run(s) in a row, "
                f"next try {status.next_retry_at:%Y-%m-%d %H:%M} UTC"
            )
    if lines:
        lines.append("")
    header = ["RUN", "CUSTOMER", "ENV", "STATUS", "STARTED (UTC)", "DURATION", "FILE", *SHOWN_COUNTS]
    table = [header] + [
        [
            r.id,
            r.customer,
            r.environment,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            _duration(r),
            r.file_name or "-",
            *[str(r.counts.get(name, 0)) for name in SHOWN_COUNTS],
        ]
        for r in runs
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    if not runs:
        lines.append("(no runs yet)")
    return "\n".join(lines) + "\n"


def _run_json(run: RunRecord) -> dict[str, object]:
    return {
        "id": run.id,
        "customer": run.customer,
        "environment": run.environment,
        "kind": run.kind,
        "status": run.status,
        "file_name": run.file_name,
        "file_sha256": run.file_sha256,
        "counts": run.counts,
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": run.duration.total_seconds() if run.duration is not None else None,
    }


def _status_json(status: CustomerStatus) -> dict[str, object]:
    return {
        "customer": status.customer,
        "consecutive_failures": status.consecutive_failures,
        "quarantined": status.quarantined,
        "quarantine_reason": status.quarantine_reason,
        "next_retry_at": status.next_retry_at.isoformat() if status.next_retry_at else None,
        "last_error": status.last_error,
    }
