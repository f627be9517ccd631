"""Benchmark: plan an HRIS file of N users against a same-size snapshot with 5% drift, beside a
bare csv.reader pass over the same bytes; time and peak memory, in one run.

What "plan time" is: ``plan_input`` (read the file's bytes, already in memory, into the
desired state) + ``plan_sync``, on both paths: the reference one (``read_rows`` +
``build_desired``, the default) and the columnar one (``engine/hris/columnar.py``), each
with the same plan. It excludes reading the file from disk and building the ``Snapshot``,
which the target adapter does while paging through the LMS API; the snapshot is built here
from API items through the adapter's own ``connectors.lms.pages`` (its build time, indexes
included, is printed separately; so is the build of the snapshot's columns, which only the
columnar path needs, with the ratio a run pays with it). The bare pass is
``sum(1 for _ in csv.reader(io.StringIO(bytes.decode("utf-8-sig"), newline="")))``.

Each measurement runs in its own subprocess, so each peak (``ru_maxrss``, the whole
process) is its own; timings are the best of ``--repeat`` runs, without tracemalloc, and the
bare pass is timed before and after the cores (best kept). The
heap is collected once after building the snapshot, so no phase pays the garbage
collector's debt for the snapshot's millions of objects. Two files are planned: the
export as most HRIS write it (no quotes), and the same rows with every field quoted
(``--quoting all``).
Goal (issue 4): plan <= 3x the bare pass, and <= 2 GiB peak at 1M users.
``--profile`` adds a cProfile of one columnar run (in its own process, after the measurements).

    python benchmarks/plan.py --users 100000
    python benchmarks/plan.py --users 1000000
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COUNTRIES = ["France", "Spain", "Germany", "Italy", "Portugal"]
SITES = [f"Site {n}" for n in range(20)]
HEADER = [
    "uniqueId", "status", "email", "firstName", "lastName", "title", "organization", "managerId",
    "language", "location", "hireDate", "country", "site",
]  # fmt: skip
MIB = 1024 * 1024


# The engine is imported inside the measuring child only: the bare csv pass must not pay
# for importing pydantic and the engine in its peak memory.


def config() -> Any:
    from engine.config.models import Hris  # noqa: PLC0415

    return Hris.model_validate({
        "source": {"type": "folder", "path": "in"},
        "group": "g-root",
        "admin": "sa@acme.example",
        "fields": {"firstName": "first_name", "lastName": "last_name", "title": "title",
                   "organization": "organization", "managerId": "manager", "language": "language"},
        "custom_fields": {"location": "Location", "hireDate": {"title": "Hire date", "type": "date"}},
        "groups": {"hierarchy": ["country", "site"]},
        "safety": {"max_deletions": "5%"},
    })  # fmt: skip


def _row(i: int) -> list[str]:
    country = COUNTRIES[i % 5]
    return [
        f"E{i:07d}", "Active", f"user{i}@acme.example", f"First{i}", f"Last{i}", f"Title {i % 300}",
        "Acme", f"E{i // 10 * 10:07d}" if i % 10 else "", "fr" if i % 3 else "en", f"Loc {i % 40}",
        f"20{10 + i % 14}-0{1 + i % 9}-1{i % 9}", country, SITES[i % 20],
    ]  # fmt: skip


def write_file(path: Path, users: int, *, quote_all: bool) -> None:
    """The HRIS file: 1% of rows are Inactive, 1% are new users (absent from the snapshot)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(
            out, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writerow(HEADER)
        for i in range(users):
            row = _row(i)
            if i % 100 == 1:
                row[1] = "Inactive"
            writer.writerow(row)


def api_users(users: int) -> Iterator[dict[str, Any]]:
    """The LMS's ``/api/v2/users`` items as the previous sync left them, then 5% drift: 1%
    new in the file, 1% leavers, 2% changed titles, 1% moved sites (moves are in roles)."""
    for i in range(users):
        if i % 100 == 2:  # a new hire: only in the file
            continue
        row = _row(i)
        # Every string is a new object, as the JSON decoder makes them.
        yield {
            "_id": f"u{i}", "mail": row[2], "status": "active", "firstName": row[3], "lastName": row[4],
            "organization": "".join(row[6]), "job": f"Old title {i}" if i % 50 == 3 else row[5],
            "lang": "".join(row[8]),
            "customFields": [
                {"customFieldId": "".join("cf-loc"), "type": "".join("string"), "value": row[9]},
                {"customFieldId": "".join("cf-hire"), "type": "".join("date"), "value": row[10]},
            ],
            "managers": [f"u{int(row[7][1:])}"] if row[7] else [],
        }  # fmt: skip


def build_snapshot(users: int) -> Any:
    """The snapshot as the LMS adapter reads it: each listing's items through
    ``connectors.lms.pages``, one page at a time (no listing is held whole)."""
    from connectors.lms.pages import SnapshotValues  # noqa: PLC0415
    from engine.hris.snapshot import CustomFieldDefinition, ExternalId, LmsGroup, Snapshot  # noqa: PLC0415

    groups = [LmsGroup("g-root", "Acme")]
    leaf: dict[tuple[str, str], str] = {}
    for c, country in enumerate(COUNTRIES):
        groups.append(LmsGroup(f"g-{c}", country, "g-root", public=True))
        for s, site in enumerate(SITES):
            leaf[(country, site)] = f"g-{c}-{s}"
            groups.append(LmsGroup(f"g-{c}-{s}", site, f"g-{c}", public=False))
    values = SnapshotValues()
    lms_users = tuple(map(values.user, api_users(users)))
    # The external-id and role listings, in one pass over the rows (each row made once).
    links: list[ExternalId] = []
    roles: dict[str, list[str]] = {g.id: [] for g in groups}  # /groups/{id}/roles, userId of each
    for i in range(users):
        if i % 100 != 2:
            row = _row(i)
            links.append(ExternalId(values.user_id(f"u{i}"), row[0]))
            site = SITES[(i + 1) % 20] if i % 100 == 4 else row[12]
            roles["g-root"].append(f"u{i}")
            roles[leaf[(row[11], site)]].append(f"u{i}")
    learners = {gid: frozenset(map(values.user_id, ids)) for gid, ids in roles.items()}
    del roles, values
    return Snapshot(
        users=lms_users,
        external_ids=tuple(links),
        custom_fields=(
            CustomFieldDefinition("cf-loc", "Location"),
            CustomFieldDefinition("cf-hire", "Hire date", "date"),
        ),
        groups=tuple(groups),
        learners=learners,
    )


def _resident() -> int:
    """Bytes resident now (Linux): what the snapshot holds once built, its garbage collected."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def bare_pass(path: str, repeat: int) -> dict[str, Any]:
    data = Path(path).read_bytes()
    best, rows = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "rows": rows, "peak": _peak()}


def core_pass(path: str, users: int, repeat: int, *, columnar: bool) -> dict[str, Any]:
    from engine.hris import plan_sync  # noqa: PLC0415
    from engine.hris.columnar import plan_input, snapshot_columns  # noqa: PLC0415

    hris = config()
    gc.collect()
    held = _resident()
    started = time.perf_counter()
    snapshot = build_snapshot(users)
    result: dict[str, Any] = {"snapshot_seconds": time.perf_counter() - started}
    gc.collect()
    result["snapshot_bytes"] = _resident() - held
    if columnar:
        # The snapshot's columns: what this path needs, built once per snapshot (per run).
        started = time.perf_counter()
        snapshot_columns(snapshot)
        result["columns_seconds"] = time.perf_counter() - started
    gc.collect()
    data = Path(path).read_bytes()
    result["peak_before"] = _peak()
    best: dict[str, float] = {}
    for run in range(repeat):
        times = [time.perf_counter()]
        desired, _ = plan_input(
            data, file_name=Path(path).name, config=hris, snapshot_of=lambda _: snapshot, columnar=columnar
        )
        times.append(time.perf_counter())
        peaks = [_peak()]
        plan = plan_sync(desired, snapshot, hris, allow_deletions=users)
        times.append(time.perf_counter())
        peaks.append(_peak())
        phases = {
            "desired": times[1] - times[0],
            "plan": times[2] - times[1],
            "total": times[2] - times[0],
        }
        best = {k: min(v, best.get(k, v)) for k, v in phases.items()}
        if run == 0:
            # The first run sets the peak; later ones reuse its memory once it is freed.
            result["peaks"] = peaks
            result["actions"], result["summary"] = len(plan.actions), repr(plan.summary)
            result["settled"] = desired.settled
        del desired, plan
    result["seconds"] = best
    return result


def profile_pass(path: str, users: int) -> None:
    """One planning run under cProfile (slower): where the time goes, function by function."""
    import cProfile  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    from engine.hris import plan_sync  # noqa: PLC0415
    from engine.hris.columnar import plan_input, snapshot_columns  # noqa: PLC0415

    hris = config()
    snapshot = build_snapshot(users)
    snapshot_columns(snapshot)
    gc.collect()
    data = Path(path).read_bytes()
    profiler = cProfile.Profile()
    profiler.enable()
    desired, _ = plan_input(
        data, file_name=Path(path).name, config=hris, snapshot_of=lambda _: snapshot, columnar=True
    )
    plan_sync(desired, snapshot, hris, allow_deletions=users)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)


def measure(mode: str, path: Path, users: int, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, str(path)]
    command += ["--users", str(users), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def report(label: str, size: int, bare: dict[str, Any], cores: dict[str, dict[str, Any]]) -> None:
    print(f"\n{label} ({size / MIB:.0f} MiB)")
    print(f"  bare csv.reader pass:   {bare['seconds']:6.2f} s   peak {bare['peak'] / MIB:5.0f} MiB")
    for name, core in cores.items():
        s = core["seconds"]
        ratio = s["total"] / bare["seconds"]
        desired_peak, plan_peak = (p / MIB for p in core["peaks"])
        goal = " (goal <= 3x)" if name == "columnar" else ""
        label = f"{name} path:"
        print(f"  {label:<22} {s['total']:6.2f} s   peak {plan_peak:5.0f} MiB   ratio {ratio:.2f}x{goal}")
        print(
            f"    read+desired {s['desired']:.2f} s (peak {desired_peak:.0f} MiB), plan {s['plan']:.2f} s; "
            f"{core['settled']} rows settled in columns"
        )
        if "columns_seconds" in core:
            print(
                f"    + the snapshot's columns, built once per snapshot: {core['columns_seconds']:.2f} s "
                f"(ratio with them {(s['total'] + core['columns_seconds']) / bare['seconds']:.2f}x)"
            )
        print(f"    {core['actions']} actions; {core['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best kept)")
    parser.add_argument("--quoting", choices=["minimal", "all", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        if mode == "profile":
            profile_pass(path, args.users)
            return
        result = (
            bare_pass(path, args.repeat)
            if mode == "bare"
            else core_pass(path, args.users, args.repeat, columnar=mode == "columnar")
        )
        print(json.dumps(result))
        return
    options = f"--users {args.users} --repeat {args.repeat} --quoting {args.quoting}"
    print(f"command: python benchmarks/plan.py {options}")
    chosen = ["minimal", "all"] if args.quoting == "both" else [args.quoting]
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            path = Path(tmp) / f"hris-{name}.csv"
            write_file(path, args.users, quote_all=name == "all")
            # The bare pass is timed before and after the core (best kept): a neighbour's
            # burst during one of them must not move the ratio either way.
            bare = measure("bare", path, args.users, args.repeat)
            cores = {mode: measure(mode, path, args.users, args.repeat) for mode in ("columnar", "reference")}
            again = measure("bare", path, args.users, args.repeat)
            bare["seconds"] = min(bare["seconds"], again["seconds"])
            if name == chosen[0]:
                core = cores["reference"]
                print(
                    f"snapshot (built by the target adapter, not timed above): {args.users} users in "
                    f"{core['snapshot_seconds']:.1f} s, {core['snapshot_bytes'] / MIB:.0f} MiB resident "
                    f"(indexes included); process peak after it {core['peak_before'] / MIB:.0f} MiB "
                    "(file bytes included)"
                )
            quoted = "no quotes" if name == "minimal" else "every field quoted"
            report(f"{args.users} users, {quoted}", path.stat().st_size, bare, cores)
            if args.profile:
                subprocess.run(
                    [sys.executable, __file__, "--child", "profile", str(path), "--users", str(args.users)],
                    check=True,
                )


if __name__ == "__main__":
    main()
