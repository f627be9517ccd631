"""Benchmark: plan an HRIS file of N users against a same-size snapshot with 5% drift, beside a
bare csv.reader pass over the same bytes; time and peak memory, in one run.

What "plan time" is: ``plan_input`` (read the file's bytes, already in memory, into the
desired state) + ``plan_sync``, on both paths: the columnar one (``engine/hris/columnar.py``,
the default from 1 MiB) and the reference one (``read_rows`` + ``build_desired``), each with
the same plan. It excludes reading the file from disk and reading the snapshot, which the
target adapter does while paging through the LMS API: here the ``/api/v2/users`` listing,
written as the API sends it (500 users a page), goes through the adapter's own
``connectors.lms.pages.read_users``, which decodes a big listing natively and brings the
snapshot's columns with it; that read is timed apart, beside the ``json`` way of reading it.
The bare pass is ``sum(1 for _ in csv.reader(io.StringIO(bytes.decode("utf-8-sig"),
newline="")))``.

Each measurement runs in its own subprocess, so each peak (``ru_maxrss``, the whole
process, snapshot read included) is its own; timings are the best of ``--repeat`` runs,
without tracemalloc, and the bare pass is timed before and after the cores (best kept). The
heap is collected once after building the snapshot, so no phase pays the garbage
collector's debt for the snapshot's millions of objects. Two files are planned: the
export as most HRIS write it (no quotes), and the same rows with every field quoted
(``--quoting all``). ``--multiline`` puts one quoted field over two lines in each (a
note or an address with a break: csv reads that record, the columnar path the rest).
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


def write_file(path: Path, users: int, *, quote_all: bool, multiline: bool = False) -> None:
    """The HRIS file: 1% of rows are Inactive, 1% are new users (absent from the snapshot);
    ``multiline``: the middle row's title goes on over a second line (a quoted field)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(
            out, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writerow(HEADER)
        for i in range(users):
            row = _row(i)
            if i % 100 == 1:
                row[1] = "Inactive"
            if multiline and i == users // 2:
                row[5] += "\nsecond line"
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


PAGE_SIZE = 500  # users per page of the LMS API


def write_pages(path: Path, users: int) -> None:
    """The ``/api/v2/users`` listing as the API sends it, one JSON page per line (read back
    lazily: pages stream from the network, no run holds the whole listing)."""
    with path.open("wb") as out:
        page: list[dict[str, Any]] = []
        for item in api_users(users):
            page.append(item)
            if len(page) == PAGE_SIZE:
                out.write(json.dumps(page).encode() + b"\n")
                page = []
        if page:
            out.write(json.dumps(page).encode() + b"\n")


def build_snapshot(users: int, pages_path: str, *, native: bool = True) -> tuple[Any, float]:
    """The snapshot as the LMS adapter reads it: the users pages through
    ``connectors.lms.pages.read_users`` (``native``: as the adapter does for a big listing,
    else the ``json`` way it takes for a small one), the other listings as items; and the
    seconds the users listing took (the rest is this script making up the other listings)."""
    from connectors.lms import pages  # noqa: PLC0415
    from engine.hris.snapshot import CustomFieldDefinition, ExternalId, LmsGroup, Snapshot  # noqa: PLC0415

    groups = [LmsGroup("g-root", "Acme")]
    leaf: dict[tuple[str, str], str] = {}
    for c, country in enumerate(COUNTRIES):
        groups.append(LmsGroup(f"g-{c}", country, "g-root", public=True))
        for s, site in enumerate(SITES):
            leaf[(country, site)] = f"g-{c}-{s}"
            groups.append(LmsGroup(f"g-{c}-{s}", site, f"g-{c}", public=False))
    linked = [(f"u{i}", f"E{i:07d}") for i in range(users) if i % 100 != 2]  # /external-ids
    values = pages.SnapshotValues()
    keep = pages.UserFilter({user_id for user_id, _ in linked}, frozenset(), "sa@acme.example")
    started = time.perf_counter()
    with open(pages_path, "rb") as listing:
        lines = (line.rstrip(b"\n") for line in listing)
        read = pages.read_users(lines, values, keep) if native else pages._decoded(lines, values, keep)
    users_seconds = time.perf_counter() - started
    links = [ExternalId(values.user_id(user_id), value) for user_id, value in linked]
    del linked
    roles: dict[str, list[str]] = {g.id: [] for g in groups}  # /groups/{id}/roles, userId of each
    for i in range(users):
        if i % 100 != 2:
            row = _row(i)
            site = SITES[(i + 1) % 20] if i % 100 == 4 else row[12]
            roles["g-root"].append(f"u{i}")
            roles[leaf[(row[11], site)]].append(f"u{i}")
    learners = {gid: frozenset(map(values.user_id, ids)) for gid, ids in roles.items()}
    del roles, values
    snapshot = Snapshot(
        users=read.users,
        external_ids=tuple(links),
        custom_fields=(
            CustomFieldDefinition("cf-loc", "Location"),
            CustomFieldDefinition("cf-hire", "Hire date", "date"),
        ),
        groups=tuple(groups),
        learners=learners,
    )
    del read
    started = time.perf_counter()
    pages.attach_columns(snapshot)
    return snapshot, users_seconds + time.perf_counter() - started


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


def read_pass(pages_path: str, users: int) -> dict[str, Any]:
    """The snapshot read the ``json`` way (the adapter's way for a small listing, and for any
    listing before it decoded big ones natively): time and memory, for comparison."""
    gc.collect()
    held = _resident()
    started = time.perf_counter()
    snapshot, users_seconds = build_snapshot(users, pages_path, native=False)
    result = {"snapshot_seconds": time.perf_counter() - started, "users_seconds": users_seconds}
    gc.collect()
    result["snapshot_bytes"] = _resident() - held
    result["peak"] = _peak()
    del snapshot
    return result


def core_pass(path: str, pages_path: str, users: int, repeat: int, *, columnar: bool) -> dict[str, Any]:
    from engine.hris import plan_sync  # noqa: PLC0415
    from engine.hris.columnar import plan_input  # noqa: PLC0415

    hris = config()
    gc.collect()
    held = _resident()
    started = time.perf_counter()
    snapshot, users_seconds = build_snapshot(users, pages_path)
    result: dict[str, Any] = {
        "snapshot_seconds": time.perf_counter() - started,
        "users_seconds": users_seconds,
    }
    result["snapshot_columns"] = snapshot.columnar is not None
    gc.collect()
    result["snapshot_bytes"] = _resident() - held
    data = Path(path).read_bytes()
    result["peak_before"] = _peak()
    best: dict[str, float] = {}
    for run in range(repeat):
        times = [time.perf_counter()]
        # As the apply pipeline does: the plan is made against the snapshot plan_input hands
        # back (the columnar path narrows it to the users its rows can reach).
        desired, planned_against = plan_input(
            data, file_name=Path(path).name, config=hris, snapshot_of=lambda _: snapshot, columnar=columnar
        )
        times.append(time.perf_counter())
        peaks = [_peak()]
        plan = plan_sync(desired, planned_against, hris, allow_deletions=users)
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
        del desired, planned_against, plan
    result["seconds"] = best
    return result


def profile_pass(path: str, pages_path: str, users: int) -> None:
    """One planning run under cProfile (slower): where the time goes, function by function."""
    import cProfile  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    from engine.hris import plan_sync  # noqa: PLC0415
    from engine.hris.columnar import plan_input  # noqa: PLC0415

    hris = config()
    snapshot, _ = build_snapshot(users, pages_path)
    gc.collect()
    data = Path(path).read_bytes()
    profiler = cProfile.Profile()
    profiler.enable()
    desired, planned_against = plan_input(
        data, file_name=Path(path).name, config=hris, snapshot_of=lambda _: snapshot, columnar=True
    )
    plan_sync(desired, planned_against, hris, allow_deletions=users)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)


def measure(mode: str, path: Path, pages_path: Path, users: int, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, str(path), "--pages", str(pages_path)]
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
        goal = " (goal <= 3x; the default from columnar.MIN_BYTES on)" if name == "columnar" else ""
        label = f"{name} path:"
        print(f"  {label:<22} {s['total']:6.2f} s   peak {plan_peak:5.0f} MiB   ratio {ratio:.2f}x{goal}")
        print(
            f"    read+desired {s['desired']:.2f} s (peak {desired_peak:.0f} MiB), plan {s['plan']:.2f} s; "
            f"{core['settled']} rows settled in columns"
        )
        print(f"    {core['actions']} actions; {core['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best kept)")
    parser.add_argument("--quoting", choices=["minimal", "all", "both"], default="both")
    parser.add_argument(
        "--multiline", action="store_true", help="one field of the middle row over two lines, in each file"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--pages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        if mode == "profile":
            profile_pass(path, args.pages, args.users)
            return
        if mode == "bare":
            result = bare_pass(path, args.repeat)
        elif mode == "json-read":
            result = read_pass(args.pages, args.users)
        else:
            result = core_pass(path, args.pages, args.users, args.repeat, columnar=mode == "columnar")
        print(json.dumps(result))
        return
    options = f"--users {args.users} --repeat {args.repeat} --quoting {args.quoting}"
    options += " --multiline" if args.multiline else ""
    print(f"command: python benchmarks/plan.py {options}")
    chosen = ["minimal", "all"] if args.quoting == "both" else [args.quoting]
    with tempfile.TemporaryDirectory() as tmp:
        pages_path = Path(tmp) / "users.pages"
        write_pages(pages_path, args.users)
        for name in chosen:
            path = Path(tmp) / f"hris-{name}.csv"
            write_file(path, args.users, quote_all=name == "all", multiline=args.multiline)
            # The bare pass is timed before and after the core (best kept): a neighbour's
            # burst during one of them must not move the ratio either way.
            bare = measure("bare", path, pages_path, args.users, args.repeat)
            cores = {
                mode: measure(mode, path, pages_path, args.users, args.repeat)
                for mode in ("columnar", "reference")
            }
            again = measure("bare", path, pages_path, args.users, args.repeat)
            bare["seconds"] = min(bare["seconds"], again["seconds"])
            if name == chosen[0]:
                core = cores["columnar"]
                by_json = measure("json-read", path, pages_path, args.users, 1)
                columns = (
                    "its users held in columns"
                    if core["snapshot_columns"]
                    else "NO columns: a page went the json way"
                )
                print(
                    f"snapshot read by the target adapter (not timed above): the users listing, "
                    f"{args.users} users in {-(-args.users // PAGE_SIZE)} pages, decoded natively in "
                    f"{core['users_seconds']:.1f} s ({columns}), "
                    f"the json way in {by_json['users_seconds']:.1f} s; "
                    f"snapshot resident {core['snapshot_bytes'] / MIB:.0f} MiB against "
                    f"{by_json['snapshot_bytes'] / MIB:.0f} MiB as objects, read the json way"
                )
            quoted = "no quotes" if name == "minimal" else "every field quoted"
            quoted += ", one field over two lines" if args.multiline else ""
            report(f"{args.users} users, {quoted}", path.stat().st_size, bare, cores)
            if args.profile:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    "profile",
                    str(path),
                    "--pages",
                    str(pages_path),
                ]
                subprocess.run([*command, "--users", str(args.users)], check=True)


if __name__ == "__main__":
    main()
