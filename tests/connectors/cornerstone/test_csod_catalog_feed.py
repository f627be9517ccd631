"""End to end over HTTP: LMS courses → our feed server → the sandbox portal's catalog pull."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydantic import SecretStr

from connectors.cornerstone.feed_server import BasicFeedAuth, FeedRoute, FeedServer, OAuthFeedAuth, feed_route
from connectors.cornerstone.poller import BasicCredentials, CatalogPoller, OAuthCredentials
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.models import Catalog
from engine.errors import TargetUnavailableError
from tests.fixtures.cornerstone import InMemoryLms

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ENV = {"ACME_FEED_PASSWORD": "feed-pass", "ACME_FEED_ID": "csod-client", "ACME_FEED_SECRET": "feed-secret"}


@pytest.fixture
def feed(cornerstone_lms: InMemoryLms, cornerstone_catalog: Catalog) -> Iterator[FeedServer]:
    server = FeedServer([feed_route("acme", cornerstone_catalog, cornerstone_lms, environ=ENV)]).start()
    try:
        yield server
    finally:
        server.stop()


def poller(sandbox: CornerstoneSandbox, feed: FeedServer) -> CatalogPoller:
    p = CatalogPoller(sandbox.store, feed.feed_url("acme"), BasicCredentials("csod", SecretStr("feed-pass")))
    sandbox.add_feed(p)
    return p


def test_published_course_reaches_cornerstone_and_archiving_retires_it(
    cornerstone_lms: InMemoryLms, cornerstone_sandbox: CornerstoneSandbox, feed: FeedServer
) -> None:
    cornerstone_lms.publish("c1", "Onboarding", at=T0, tags=("sales",), language="fr")
    pull = poller(cornerstone_sandbox, feed)

    first = pull.poll()
    assert (first.status, first.created) == (200, 1)
    lo = cornerstone_sandbox.store.learning_objects()["c1"]
    assert lo["IsActive"] is True
    assert lo["Subjects"] == ["Sales", "Negotiation"]
    assert lo["URL"] == "https://acme.lms.example/course/c1"

    assert pull.poll().status == 304  # nothing moved: Cornerstone gets Not Modified

    cornerstone_lms.set_status("c1", "archived", at=T0 + timedelta(days=1))
    third = pull.poll()
    assert (third.status, third.retired) == (200, 1)
    assert cornerstone_sandbox.store.learning_objects()["c1"]["IsActive"] is False


def test_a_course_changes_only_when_last_modified_moves(
    cornerstone_lms: InMemoryLms, cornerstone_sandbox: CornerstoneSandbox, feed: FeedServer
) -> None:
    cornerstone_lms.publish("c1", "Onboarding", at=T0)
    pull = poller(cornerstone_sandbox, feed)
    pull.poll()
    store = cornerstone_sandbox.store
    # Cornerstone's rule: an item whose LastModifiedUTC did not move changes nothing.
    stale = {**store.learning_objects()["c1"], "Title": "Renamed behind Cornerstone's back"}
    assert store.ingest({k: v for k, v in stale.items() if not k.startswith("_")}).outcome == "unchanged"
    assert store.learning_objects()["c1"]["Title"] == "Onboarding"
    cornerstone_lms.publish("c1", "Renamed", at=T0 + timedelta(minutes=5))
    assert pull.poll().updated == 1
    assert store.learning_objects()["c1"]["Title"] == "Renamed"


def test_an_item_that_changes_without_a_new_lms_timestamp_moves_its_last_modified(
    cornerstone_lms: InMemoryLms, cornerstone_sandbox: CornerstoneSandbox, feed: FeedServer
) -> None:
    # E.g. the customer file's subject mapping changed: the LMS course did not move, our item did.
    cornerstone_lms.publish("c1", "Onboarding", at=T0)
    pull = poller(cornerstone_sandbox, feed)
    pull.poll()
    cornerstone_lms.publish("c1", "Renamed without a new timestamp", at=T0)
    result = pull.poll()
    assert (result.status, result.updated) == (200, 1)
    served = cornerstone_sandbox.store.learning_objects()["c1"]
    assert served["Title"] == "Renamed without a new timestamp"
    assert served["LastModifiedUTC"] > "2024-05-01T09:00:00Z"
    assert pull.poll().status == 304, "the moved stamp is kept: nothing moves twice"
    cornerstone_lms.publish("c1", "Renamed", at=datetime.now(UTC) + timedelta(minutes=5))
    assert pull.poll().updated == 1, "a later LMS timestamp is served as it is"


def test_a_course_published_with_an_old_timestamp_still_moves_the_feed(
    cornerstone_lms: InMemoryLms, cornerstone_sandbox: CornerstoneSandbox, feed: FeedServer
) -> None:
    cornerstone_lms.publish("new", "Recent", at=T0)
    pull = poller(cornerstone_sandbox, feed)
    pull.poll()
    cornerstone_lms.publish("old", "Written long ago", at=T0 - timedelta(days=300))
    result = pull.poll()
    assert (result.status, result.created) == (200, 1)


def test_admin_poll_route_pulls_every_registered_feed(
    cornerstone_lms: InMemoryLms, cornerstone_sandbox: CornerstoneSandbox, feed: FeedServer
) -> None:
    cornerstone_lms.publish("c1", "Onboarding", at=T0)
    poller(cornerstone_sandbox, feed)
    answer = requests.post(cornerstone_sandbox.url + "/admin/catalog/poll", timeout=10).json()
    assert [(r["status"], r["created"]) for r in answer] == [(200, 1)]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic Y3NvZDp3cm9uZw=="}, 401),  # csod:wrong
        ({"Authorization": "Bearer something"}, 401),
        ({"Authorization": "Basic Y3NvZDpmZWVkLXBhc3M="}, 200),  # csod:feed-pass
    ],
)
def test_feed_requires_basic_credentials(
    cornerstone_lms: InMemoryLms, feed: FeedServer, headers: dict[str, str], status: int
) -> None:
    cornerstone_lms.publish("c1", "Onboarding", at=T0)
    response = requests.get(feed.feed_url("acme"), headers=headers, timeout=10)
    assert response.status_code == status
    assert "feed-pass" not in response.text


def test_unknown_customer_is_not_found(feed: FeedServer) -> None:
    assert requests.get(feed.url + "/cornerstone/other/courses", timeout=10).status_code == 404


def test_oauth2_client_credentials(
    cornerstone_lms: InMemoryLms, cornerstone_catalog: Catalog, cornerstone_sandbox: CornerstoneSandbox
) -> None:
    catalog = cornerstone_catalog.model_copy(
        update={
            "auth": Catalog.model_validate(
                {
                    **cornerstone_catalog.model_dump(),
                    "auth": {
                        "type": "oauth2",
                        "client_id": "env:ACME_FEED_ID",
                        "client_secret": "env:ACME_FEED_SECRET",
                    },
                }
            ).auth
        }
    )
    cornerstone_lms.publish("c1", "Onboarding", at=T0)
    with FeedServer([feed_route("acme", catalog, cornerstone_lms, environ=ENV)]) as server:
        assert isinstance(server.routes["acme"].auth, OAuthFeedAuth)
        wrong = CatalogPoller(
            cornerstone_sandbox.store,
            server.feed_url("acme"),
            OAuthCredentials(server.token_url("acme"), "csod-client", SecretStr("nope")),
        )
        with pytest.raises(requests.HTTPError):
            wrong.poll()
        wrong.close()
        right = CatalogPoller(
            cornerstone_sandbox.store,
            server.feed_url("acme"),
            OAuthCredentials(server.token_url("acme"), "csod-client", SecretStr("feed-secret")),
        )
        assert right.poll().created == 1
        right.close()
        assert (
            requests.get(
                server.feed_url("acme"), headers={"Authorization": "Bearer forged"}, timeout=10
            ).status_code
            == 401
        )


def test_lms_failure_gives_503_never_a_partial_feed() -> None:
    def broken() -> list[dict[str, object]]:
        raise TargetUnavailableError("LMS GET /api/v2/courses: HTTP 503")

    route = FeedRoute("acme", broken, BasicFeedAuth("csod", SecretStr("p")))
    with FeedServer([route]) as server:
        response = requests.get(server.feed_url("acme"), auth=("csod", "p"), timeout=10)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "300"
