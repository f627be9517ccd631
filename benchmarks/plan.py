"""Benchmark: read + desired state + plan of an HRIS file of N users against a same-size
snapshot with 5% changes, beside a bare csv.reader pass over the same bytes.

Each measurement runs in its own subprocess so its peak memory (ru_maxrss) is its own.
Goal: read+desired+plan <= 3x the bare pass, and <= 2 GiB peak at 1M users.

    python benchmarks/plan.py --users 100000
    python benchmarks/plan.py --users 1000000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COUNTRIES = ["France", "Spain", "Germany", "Italy", "Portugal"]
SITES = [f"Site {n}" for n in range(20)]
HEADER = ",".join(
    [
        "uniqueId",
        "status",
        "email",
        "firstName",
        "lastName",
        "title",
        "organization",
        "managerId",
        "language",
        "location",
        "hireDate",
        "country",
        "site",
    ]
)


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


def write_file(path: Path, users: int) -> None:
    """The HRIS file: 1% of rows are Inactive, 1% are new users (absent from the snapshot)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        writer = csv.writer(out, lineterminator="\n")
        for i in range(users):
            row = _row(i)
            if i % 100 == 1:
                row[1] = "Inactive"
            writer.writerow(row)


def build_snapshot(users: int) -> Any:
    """The LMS as the previous sync left it, then 5% drift: 1% new in the file, 1% leavers,
    2% changed titles, 1% moved sites."""
    from engine.hris.snapshot import (  # noqa: PLC0415
        CustomFieldDefinition,
        CustomValue,
        ExternalId,
        LmsGroup,
        LmsUser,
        Snapshot,
    )

    groups = [LmsGroup("g-root", "Acme")]
    leaf: dict[tuple[str, str], str] = {}
    for c, country in enumerate(COUNTRIES):
        groups.append(LmsGroup(f"g-{c}", country, "g-root", public=True))
        for s, site in enumerate(SITES):
            leaf[(country, site)] = f"g-{c}-{s}"
            groups.append(LmsGroup(f"g-{c}-{s}", site, f"g-{c}", public=False))
    lms_users, links = [], []
    learners: dict[str, set[str]] = {g.id: set() for g in groups}
    for i in range(users):
        if i % 100 == 2:  # a new hire: only in the file
            continue
        row = _row(i)
        user_id = f"u{i}"
        title = f"Old title {i}" if i % 50 == 3 else row[5]
        site = SITES[(i + 1) % 20] if i % 100 == 4 else row[12]
        lms_users.append(LmsUser(
            user_id, row[2], "active", row[3], row[4], row[6], title, row[8],
            (CustomValue("cf-loc", "string", row[9]), CustomValue("cf-hire", "date", row[10])),
            (f"u{int(row[7][1:])}",) if row[7] else (),
        ))  # fmt: skip
        links.append(ExternalId(user_id, row[0]))
        learners["g-root"].add(user_id)
        learners[leaf[(row[11], site)]].add(user_id)
    return Snapshot(
        users=tuple(lms_users),
        external_ids=tuple(links),
        custom_fields=(
            CustomFieldDefinition("cf-loc", "Location"),
            CustomFieldDefinition("cf-hire", "Hire date", "date"),
        ),
        groups=tuple(groups),
        learners={gid: frozenset(ids) for gid, ids in learners.items()},
    )


def child(mode: str, path: str, users: int) -> None:
    data = Path(path).read_bytes()
    result: dict[str, Any] = {}
    if mode == "bare":
        start = time.perf_counter()
        count = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        result["seconds"] = time.perf_counter() - start
        result["rows"] = count
    else:
        from engine.hris import build_desired, plan_sync, read_rows  # noqa: PLC0415

        hris = config()
        snapshot = build_snapshot(users)
        result["snapshot_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        hris_file = read_rows(data, file_name=Path(path).name, naming=hris.file)
        read_done = time.perf_counter()
        desired = build_desired(hris_file, hris)
        desired_done = time.perf_counter()
        plan = plan_sync(desired, snapshot, hris, allow_deletions=users)
        result["seconds"] = time.perf_counter() - start
        result["read"], result["desired"] = read_done - start, desired_done - read_done
        result["plan"] = time.perf_counter() - desired_done
        result["actions"], result["summary"] = len(plan.actions), plan.summary.__repr__()
    result["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def measure(mode: str, path: Path, users: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), "--users", str(users)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.users)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hris-bench.csv"
        write_file(path, args.users)
        size = path.stat().st_size
        bare = measure("bare", path, args.users)
        core = measure("core", path, args.users)
    mib = 1024 * 1024
    ratio = core["seconds"] / bare["seconds"]
    print(f"command: python benchmarks/plan.py --users {args.users}")
    print(f"file: {args.users} users, {size / mib:.0f} MiB")
    print(f"bare csv.reader pass: {bare['seconds']:.2f} s, peak {bare['maxrss'] / mib:.0f} MiB")
    print(
        f"read+desired+plan:    {core['seconds']:.2f} s "
        f"(read {core['read']:.2f}, desired {core['desired']:.2f}, plan {core['plan']:.2f}), "
        f"peak {core['maxrss'] / mib:.0f} MiB "
        f"(after building the snapshot: {core['snapshot_maxrss'] / mib:.0f} MiB)"
    )
    print(f"ratio to the bare pass: {ratio:.2f}x (goal <= 3x); actions: {core['actions']}; {core['summary']}")


if __name__ == "__main__":
    main()
