"""A failed completion says why and what to do; the sandbox's admin API says which body it takes.

A new user's first push against a fresh sandbox portal failed with a bare ``"404"``: the portal
held no learning object. These tests run that flow over real HTTP and check the reason keeps the
portal's error, the warning tells the SA what to do, and the seeding route the README documents
makes the next run push.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.errors import MAX_PORTAL_MESSAGE, error_for_status
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.models import Completions
from engine.console import SilentReporter
from engine.cornerstone.job import CompletionsRun, run_completions
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CourseStat
from engine.errors import TargetConflictError, TargetError, TargetNotFoundError, TargetUnavailableError
from tests.fixtures.cornerstone import InMemoryLms

SCOPES = "employee:read transcript:update learningassignment:read learningassignment:update"
NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
DONE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ITEM = {"ID": "c1", "Title": "Safety", "IsActive": True, "LastModifiedUTC": "2024-05-01T00:00:00Z"}


class RecordingReporter(SilentReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _client(sandbox: CornerstoneSandbox) -> CornerstoneClient:
    sandbox.store.add_client("lmsync", "secret", SCOPES)
    return CornerstoneClient(
        sandbox.url,
        SecretStr("lmsync"),
        SecretStr("secret"),
        scope=SCOPES,
        max_attempts=2,
        backoff_seconds=0.01,
        sleep=lambda _: None,
    )


def _push(
    lms: InMemoryLms, portal: CornerstoneClient, ledger: CompletionLedger
) -> tuple[CompletionsRun, RecordingReporter]:
    reporter = RecordingReporter()
    run = run_completions(
        customer="initech",
        settings=Completions.model_validate({"timezone": "UTC", "platform": "hris"}),
        source=lms,
        ids=lms,
        target=portal,
        ledger=ledger,
        reporter=reporter,
        now=NOW,
    )
    return run, reporter


def _admin(sandbox: CornerstoneSandbox, method: str, path: str, body: Any) -> requests.Response:
    return requests.request(method, sandbox.url + path, json=body, timeout=5)


@pytest.mark.integration
def test_a_missing_learning_object_is_explained_and_seeding_it_lets_the_next_run_push(
    cornerstone_sandbox: CornerstoneSandbox, cornerstone_lms: InMemoryLms, tmp_path: Any
) -> None:
    portal = _client(cornerstone_sandbox)
    guids = _admin(cornerstone_sandbox, "POST", "/admin/employees", [{"externalId": "E1"}]).json()
    cornerstone_lms.stats.append(CourseStat("c1", "u1", completed_at=DONE, progress=100))
    cornerstone_lms.ids["hris"] = {"u1": "E1"}
    ledger = CompletionLedger(tmp_path / "ledger.sqlite")
    try:
        first, reporter = _push(cornerstone_lms, portal, ledger)
        assert first.report is not None
        [(course, user, reason)] = first.report.failed
        assert (course, user) == ("c1", "u1")
        # The portal's own words, not a bare status.
        assert "HTTP 404" in reason and "learning object not found" in reason
        [warning] = reporter.warnings
        assert warning.startswith(
            "course c1: learner u1 not pushed: learning object c1 is not in Cornerstone"
        )
        assert "has the catalog been pulled since the course was added?" in warning
        assert "E1" not in warning and guids["E1"] not in warning
        assert cornerstone_sandbox.store.transcripts() == []

        seeded = _admin(cornerstone_sandbox, "POST", "/admin/learning-objects", [ITEM])
        assert (seeded.status_code, seeded.json()) == (201, {"ingested": ["created"]})

        second, reporter = _push(cornerstone_lms, portal, ledger)
        assert second.report is not None
        assert (len(second.report.pushed), second.report.failed, reporter.warnings) == (1, [], [])
        [transcript] = _admin(cornerstone_sandbox, "GET", "/admin/transcripts", None).json()
        assert (transcript["user_guid"], transcript["lo_id"], transcript["status"]) == (
            guids["E1"],
            "c1",
            "Completed",
        )
    finally:
        ledger.close()
        portal.close()


@pytest.mark.integration
def test_a_lookup_that_keeps_being_throttled_says_the_next_run_retries(
    cornerstone_lms: InMemoryLms, tmp_path: Any
) -> None:
    # One call per route per hour: the second learner's lookup is refused with 429 every time.
    with CornerstoneSandbox(":memory:", rate_limit=1) as sandbox:
        portal = _client(sandbox)
        sandbox.store.ingest(ITEM)
        sandbox.store.seed(["E1", "E2"])
        cornerstone_lms.stats += [
            CourseStat("c1", "u1", completed_at=DONE, progress=100),
            CourseStat("c1", "u2", completed_at=DONE, progress=100),
        ]
        cornerstone_lms.ids["hris"] = {"u1": "E1", "u2": "E2"}
        ledger = CompletionLedger(tmp_path / "ledger.sqlite")
        try:
            run, reporter = _push(cornerstone_lms, portal, ledger)
        finally:
            ledger.close()
            portal.close()
    assert run.report is not None
    assert [key.user_id for key in run.report.pushed] == ["u1"]
    [(_, user, reason)] = run.report.failed
    assert user == "u2" and "HTTP 429" in reason and "CSOD Too many requests." in reason
    [warning] = reporter.warnings
    assert "learner u2 not pushed: Cornerstone kept failing after the retries" in warning


@pytest.mark.parametrize(
    ("status", "body", "kind", "expected"),
    [
        (
            404,
            {"error": {"code": "404", "message": "learning object not found"}},
            TargetNotFoundError,
            'Cornerstone PATCH complete: HTTP 404 "learning object not found", not found',
        ),
        (
            400,
            {"error": {"code": "LO_INACTIVE", "message": "Learning object is inactive"}},
            TargetConflictError,
            'Cornerstone PATCH complete: HTTP 400 LO_INACTIVE "Learning object is inactive", request refused',
        ),
        (
            404,
            {"error": {"code": "404", "message": "No user ada.lovelace@initech.example"}},
            TargetNotFoundError,
            'Cornerstone PATCH complete: HTTP 404 "No user <e-mail>", not found',
        ),
        (503, None, TargetUnavailableError, "Cornerstone PATCH complete: HTTP 503, the portal failed"),
        (418, "not json", TargetError, "Cornerstone PATCH complete: HTTP 418"),
    ],
)
def test_the_portals_code_and_message_reach_the_error_with_e_mails_masked(
    status: int, body: Any, kind: type[TargetError], expected: str
) -> None:
    error = error_for_status(status, call="PATCH complete", body=body)
    assert type(error) is kind
    assert error.message == expected


def test_a_long_portal_message_is_capped() -> None:
    error = error_for_status(404, call="GET x", body={"error": {"code": "404", "message": "y" * 1000}})
    assert error.message.count("y") == MAX_PORTAL_MESSAGE


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        (
            "/admin/assignments",
            [{"userGuid": "g", "loId": "c1"}],
            'POST /admin/assignments got a list; it expects one object {"userGuid": ...',
        ),
        ("/admin/assignments", {"userGuid": "g"}, "POST /admin/assignments the body lacks loId; it expects"),
        (
            "/admin/employees",
            {"externalId": "E1"},
            'POST /admin/employees got an object; it expects a list [{"externalId"',
        ),
        ("/admin/employees", [{"id": "E1"}], "POST /admin/employees item 0 lacks externalId"),
        (
            "/admin/learning-objects",
            [ITEM, {"ID": "c2", "Title": "No date", "IsActive": True}],
            "POST /admin/learning-objects item 1 lacks LastModifiedUTC; it expects a list of catalog items",
        ),
        ("/admin/clients", "lmsync", "POST /admin/clients got a JSON str; it expects one object"),
    ],
)
def test_a_wrong_admin_body_says_which_body_the_route_takes_and_stores_nothing(
    cornerstone_sandbox: CornerstoneSandbox, path: str, body: Any, says: str
) -> None:
    answer = _admin(cornerstone_sandbox, "POST", path, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(says)
    store = cornerstone_sandbox.store
    assert (store.assignments(), store.employees(), store.learning_objects()) == ([], [], {})


@pytest.mark.integration
def test_the_documented_admin_bodies_are_accepted_and_an_unknown_route_is_named(
    cornerstone_sandbox: CornerstoneSandbox,
) -> None:
    guid = _admin(cornerstone_sandbox, "POST", "/admin/employees", [{"externalId": "E1"}]).json()["E1"]
    assert _admin(cornerstone_sandbox, "POST", "/admin/learning-objects", [ITEM]).status_code == 201
    made = _admin(cornerstone_sandbox, "POST", "/admin/assignments", {"userGuid": guid, "loId": "c1"})
    assert made.status_code == 201
    [assignment] = _admin(cornerstone_sandbox, "GET", "/admin/assignments", None).json()
    assert (assignment["Id"], assignment["UserId"], assignment["LoId"], assignment["Status"]) == (
        made.json()["Id"],
        guid,
        "c1",
        "Assigned",
    )
    unknown = _admin(cornerstone_sandbox, "POST", "/admin/courses", [ITEM])
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        404,
        "No such admin route: POST /admin/courses",
    )
