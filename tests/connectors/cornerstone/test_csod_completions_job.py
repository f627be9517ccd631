"""End to end: a day's LMS completions pushed to the sandbox portal once, even when run twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.models import Completions
from engine.console import SilentReporter
from engine.cornerstone.job import CompletionsRun, run_completions
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CourseStat
from tests.fixtures.cornerstone import InMemoryLms

pytestmark = pytest.mark.integration

SCOPES = "employee:read transcript:update learningassignment:read learningassignment:update"
NOW = datetime(2024, 10, 28, 1, 30, tzinfo=UTC)  # 02:30 in Paris, the day after the 25-hour day
DAY = date(2024, 10, 27)


class RecordingReporter(SilentReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture
def portal(cornerstone_sandbox: CornerstoneSandbox) -> CornerstoneClient:
    cornerstone_sandbox.store.add_client("lmsync", "secret", SCOPES)
    for lo in ("c1", "c2"):
        cornerstone_sandbox.store.ingest(
            {
                "ID": lo,
                "Title": lo,
                "URL": "https://x/",
                "IsActive": True,
                "LastModifiedUTC": "2024-05-01T00:00:00Z",
            }
        )
    return CornerstoneClient(
        cornerstone_sandbox.url, SecretStr("lmsync"), SecretStr("secret"), scope=SCOPES, backoff_seconds=0.01
    )


def run(
    lms: InMemoryLms,
    portal: CornerstoneClient,
    ledger: CompletionLedger,
    reporter: RecordingReporter,
    **kw: object,
) -> CompletionsRun:
    settings = Completions.model_validate({"timezone": "Europe/Paris", "platform": "hris", **kw})
    return run_completions(
        customer="acme",
        settings=settings,
        source=lms,
        ids=lms,
        target=portal,
        ledger=ledger,
        reporter=reporter,
        now=NOW,
    )


def test_a_days_completions_are_pushed_once_even_when_the_job_runs_twice(
    cornerstone_lms: InMemoryLms,
    cornerstone_sandbox: CornerstoneSandbox,
    portal: CornerstoneClient,
    tmp_path: Path,
) -> None:
    store = cornerstone_sandbox.store
    guid1 = store.add_employee("E1")
    store.add_employee("E2")
    cornerstone_lms.ids = {"hris": {"u1": "E1", "u2": "E2", "u3": "E3-not-in-cornerstone"}}
    late_night = datetime(2024, 10, 27, 22, 59, tzinfo=UTC)  # 23:59 Paris (UTC+1 after fall back)
    cornerstone_lms.stats = [
        CourseStat("c1", "u1", completed_at=late_night),
        CourseStat("c2", "u2", completed_at=datetime(2024, 10, 26, 22, 30, tzinfo=UTC)),  # 00:30 Paris, CEST
        CourseStat("c1", "u3", completed_at=late_night),  # no such employee
        CourseStat("c1", "u4", completed_at=late_night),  # no external id
        CourseStat("c2", "u1", completed_at=datetime(2024, 10, 27, 23, 0, tzinfo=UTC)),  # next day in Paris
    ]
    ledger = CompletionLedger(tmp_path / "ledger.sqlite")
    reporter = RecordingReporter()

    first = run(cornerstone_lms, portal, ledger, reporter)
    assert first.report is not None
    assert [(k.course_id, k.user_id) for k in first.report.pushed] == [("c1", "u1"), ("c2", "u2")]
    assert sorted((u.user_id, u.reason) for u in first.report.unmatched) == [
        ("u3", "no_employee"),
        ("u4", "no_external_id"),
    ]
    assert len(reporter.warnings) == 2
    assert all("@" not in w for w in reporter.warnings)
    assert cornerstone_lms.stat_queries[0] == (
        datetime(2024, 10, 26, 22, tzinfo=UTC),
        datetime(2024, 10, 27, 23, tzinfo=UTC),
    )

    second = run(cornerstone_lms, portal, ledger, RecordingReporter())
    assert second.report is not None
    assert second.report.pushed == []
    assert second.plan.already_pushed == 2

    patches = store.calls("/services/api/v1/transcripts/complete", "PATCH")
    assert len(patches) == 2  # one per completion across both runs
    assert {(t["user_guid"], t["lo_id"]) for t in store.transcripts()} >= {(guid1, "c1")}
    portal.close()


def test_dry_run_plans_without_pushing(
    cornerstone_lms: InMemoryLms,
    cornerstone_sandbox: CornerstoneSandbox,
    portal: CornerstoneClient,
) -> None:
    cornerstone_sandbox.store.add_employee("E1")
    cornerstone_lms.ids = {"hris": {"u1": "E1"}}
    cornerstone_lms.stats = [CourseStat("c1", "u1", completed_at=datetime(2024, 10, 27, 12, tzinfo=UTC))]
    settings = Completions.model_validate({"timezone": "Europe/Paris", "platform": "hris"})
    result = run_completions(
        customer="acme",
        settings=settings,
        source=cornerstone_lms,
        ids=cornerstone_lms,
        target=portal,
        ledger=CompletionLedger(":memory:"),
        reporter=SilentReporter(),
        now=NOW,
        dry_run=True,
    )
    assert result.report is None
    assert len(result.plan.completions) == 1
    assert cornerstone_sandbox.store.transcripts() == []
    portal.close()


def test_in_progress_updates_assignments_but_never_downgrades_completed(
    cornerstone_lms: InMemoryLms,
    cornerstone_sandbox: CornerstoneSandbox,
    portal: CornerstoneClient,
) -> None:
    store = cornerstone_sandbox.store
    g1, g2 = store.add_employee("E1"), store.add_employee("E2")
    open_one = store.add_assignment(g1, "c1", "Assigned")
    done = store.add_assignment(g2, "c1", "Completed")
    cornerstone_lms.ids = {"hris": {"u1": "E1", "u2": "E2"}}
    active = datetime(2024, 10, 27, 10, tzinfo=UTC)
    cornerstone_lms.stats = [
        CourseStat("c1", "u1", completed_at=None, last_activity_at=active, progress=30),
        CourseStat("c1", "u2", completed_at=None, last_activity_at=active, progress=80),
    ]
    ledger = CompletionLedger(":memory:")
    result = run(cornerstone_lms, portal, ledger, RecordingReporter(), in_progress=True)
    assert result.report is not None
    assert (result.report.progressed, result.report.progress_skipped) == (1, 1)
    by_id = {a["Id"]: a for a in store.assignments()}
    assert by_id[open_one]["Status"] == "In Progress"
    assert by_id[open_one]["LastAccessDate"] == "2024-10-27T10:00:00Z"
    assert by_id[done]["Status"] == "Completed"
    again = run(cornerstone_lms, portal, ledger, RecordingReporter(), in_progress=True)
    assert again.report is not None and again.report.progressed == 0  # nothing moved: nothing written
    assert len(store.calls("/services/api/v1/LearningAssignments/{id}", "PATCH")) == 1
    portal.close()


def test_window_is_yesterday_in_the_customer_zone(
    cornerstone_lms: InMemoryLms, portal: CornerstoneClient
) -> None:
    settings = Completions.model_validate({"timezone": "America/New_York", "platform": "hris"})
    run_completions(
        customer="acme",
        settings=settings,
        source=cornerstone_lms,
        ids=cornerstone_lms,
        target=portal,
        ledger=CompletionLedger(":memory:"),
        reporter=SilentReporter(),
        now=NOW + timedelta(days=1),
    )
    # 2024-10-29 01:30 UTC is still the 28th in New York (21:30 EDT): yesterday there is the 27th.
    gte, lt = cornerstone_lms.stat_queries[-1]
    assert (gte, lt) == (datetime(2024, 10, 27, 4, tzinfo=UTC), datetime(2024, 10, 28, 4, tzinfo=UTC))
    portal.close()
