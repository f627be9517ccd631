"""End to end through the LMS sandbox: its courses feed Cornerstone, its stats reach transcripts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.feed_server import FeedServer, feed_route
from connectors.cornerstone.lms_adapter import LmsCourseSource
from connectors.cornerstone.poller import BasicCredentials, CatalogPoller
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.models import Catalog, Completions
from engine.console import SilentReporter
from engine.cornerstone.job import run_completions
from engine.cornerstone.ledger import CompletionLedger

pytestmark = pytest.mark.integration


def test_lms_courses_reach_the_cornerstone_catalog(
    sandbox: Any, cornerstone_sandbox: CornerstoneSandbox, cornerstone_catalog: Catalog
) -> None:
    sandbox.admin.seed(
        courses=[
            {
                "_id": "course-live",
                "name": "Negotiation",
                "tags": ["sales"],
                "lang": "fr",
                "duration": 30,
                "modifiedAt": "2024-05-01T08:00:00Z",
            },
            {
                "_id": "course-old",
                "name": "Old policy",
                "status": "archived",
                "modifiedAt": "2024-04-01T08:00:00Z",
            },
        ]
    )
    source = LmsCourseSource(sandbox.client)
    route = feed_route("acme", cornerstone_catalog, source, environ={"ACME_FEED_PASSWORD": "pw"})
    with FeedServer([route]) as feed:
        poller = CatalogPoller(
            cornerstone_sandbox.store, feed.feed_url("acme"), BasicCredentials("csod", SecretStr("pw"))
        )
        result = poller.poll()
        poller.close()
    assert (result.status, result.created, result.rejected) == (200, 2, [])
    catalog = cornerstone_sandbox.store.learning_objects()
    assert catalog["course-live"]["IsActive"] is True
    assert catalog["course-live"]["Subjects"] == ["Sales", "Negotiation"]
    assert catalog["course-live"]["Duration"] == 30
    assert catalog["course-old"]["IsActive"] is False


def test_lms_completions_reach_transcripts_once(
    sandbox: Any, cornerstone_sandbox: CornerstoneSandbox
) -> None:
    seeded = sandbox.admin.seed(
        users=[{"mail": "ada@example.com"}, {"mail": "bob@example.com"}],
        courses=[{"_id": "c1", "name": "Onboarding"}],
    )
    ada, bob = (u["_id"] for u in seeded["users"])
    sandbox.admin.seed(
        external_ids=[{"platform": "lmsync-hris", "targetId": ada, "value": "E-ADA"}],
        course_stats=[
            {"courseId": "c1", "userId": ada, "progress": 100, "completedAt": "2024-05-01T10:00:00Z"},
            {"courseId": "c1", "userId": bob, "progress": 100, "completedAt": "2024-05-01T11:00:00Z"},
        ],
    )
    store = cornerstone_sandbox.store
    guid = store.add_employee("E-ADA")
    store.ingest(
        {
            "ID": "c1",
            "Title": "Onboarding",
            "URL": "https://x/",
            "IsActive": True,
            "LastModifiedUTC": "2024-05-01T00:00:00Z",
        }
    )
    store.add_client("lmsync", "secret", "employee:read transcript:update")
    portal = CornerstoneClient(
        cornerstone_sandbox.url,
        SecretStr("lmsync"),
        SecretStr("secret"),
        scope="employee:read transcript:update",
    )
    source = LmsCourseSource(sandbox.client)
    ledger = CompletionLedger(":memory:")
    settings = Completions.model_validate({"timezone": "Europe/Paris"})
    runs = [
        run_completions(
            customer="acme",
            settings=settings,
            source=source,
            ids=source,
            target=portal,
            ledger=ledger,
            reporter=SilentReporter(),
            now=datetime(2024, 5, 2, 6, tzinfo=UTC),
            day=date(2024, 5, 1),
        )
        for _ in range(2)
    ]
    first, second = (r.report for r in runs)
    assert first is not None and second is not None
    assert [(k.course_id, k.user_id) for k in first.pushed] == [("c1", ada)]
    assert [(u.user_id, u.reason) for u in first.unmatched] == [(bob, "no_external_id")]
    assert second.pushed == [] and second.already_pushed == 1
    assert [(t["user_guid"], t["lo_id"], t["completions"]) for t in store.transcripts()] == [(guid, "c1", 1)]
    portal.close()
