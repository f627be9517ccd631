"""Cornerstone connector throughput: feed building, completions planning, feed → portal pull.

Three figures for a large customer: building the course-list feed of N courses (pure), planning
a day of M completions against a ledger holding half of them (pure), and one full HTTP pull of
that feed by the sandbox portal's poller (server builds it, poller ingests every course).
Prints the figures and the command that reproduces them.

    python benchmarks/cornerstone.py [--courses 20000] [--stats 100000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta

from pydantic import SecretStr

from connectors.cornerstone.feed_server import BasicFeedAuth, FeedRoute, FeedServer
from connectors.cornerstone.poller import BasicCredentials, CatalogPoller
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.models import Catalog
from engine.cornerstone.catalog import Course, build_feed
from engine.cornerstone.completions import LedgerKey, day_window, plan_completions
from engine.cornerstone.ports import CourseStat


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--courses", type=int, default=20000)
    parser.add_argument("--stats", type=int, default=100000)
    args = parser.parse_args()

    catalog = Catalog.model_validate(
        {
            "launch_url": "https://acme.example/course/{course_id}",
            "subjects": {f"tag{i}": [f"Subject {i}"] for i in range(50)},
            "default_subjects": ["General"],
            "auth": {"type": "basic", "username": "csod", "password": "env:UNUSED"},
        }
    )
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    courses = [
        Course(
            id=f"{i:024x}",
            title=f"Course {i}",
            status="archived" if i % 10 == 0 else "published",
            modified_at=t0 + timedelta(seconds=i),
            tags=(f"tag{i % 60}",),
            language="en",
            duration_minutes=20,
        )
        for i in range(args.courses)
    ]
    started = time.perf_counter()
    feed = build_feed(courses, catalog)
    feed_seconds = time.perf_counter() - started

    window = day_window(date(2024, 5, 1), "Europe/Paris")
    completed = [window.start + timedelta(seconds=i % 86000) for i in range(args.stats)]
    stats = [CourseStat(f"{i % 500:024x}", f"user{i}", at) for i, at in enumerate(completed)]
    ids = {f"user{i}": f"E{i}" for i in range(0, args.stats, 1)}
    pushed = {
        LedgerKey("acme", s.course_id, s.user_id, LedgerKey.stamp(at))
        for s, at in zip(stats[::2], completed[::2], strict=True)
    }
    started = time.perf_counter()
    plan = plan_completions(customer="acme", window=window, stats=stats, external_ids=ids, pushed=pushed)
    plan_seconds = time.perf_counter() - started

    route = FeedRoute("acme", lambda: feed, BasicFeedAuth("csod", SecretStr("pw")))
    with FeedServer([route]) as server, CornerstoneSandbox() as portal:
        poller = CatalogPoller(
            portal.store, server.feed_url("acme"), BasicCredentials("csod", SecretStr("pw"))
        )
        started = time.perf_counter()
        result = poller.poll()
        pull_seconds = time.perf_counter() - started
        poller.close()
    assert result.created == args.courses and len(plan.completions) == args.stats // 2

    print(
        f"build_feed: {args.courses} courses in {feed_seconds:.3f} s "
        f"({args.courses / feed_seconds:,.0f} courses/s)"
    )
    print(
        f"plan_completions: {args.stats} stats, {len(plan.completions)} to push, "
        f"{plan.already_pushed} in ledger, "
        f"in {plan_seconds:.3f} s ({args.stats / plan_seconds:,.0f} stats/s)"
    )
    print(f"feed pull over HTTP + ingest: {args.courses} courses in {pull_seconds:.2f} s")
    print(f"reproduce: python benchmarks/cornerstone.py --courses {args.courses} --stats {args.stats}")


if __name__ == "__main__":
    main()
