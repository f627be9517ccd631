"""The runner runs Cornerstone: the daily push against both sandboxes, and the catalog feed
served over HTTP by the runner process, following the customer files it reloads.

Real parts: the LMS sandbox and the Cornerstone sandbox over HTTP, a SQLite state store, the
runner with a hand-moved clock; the last test starts ``lmsync runner --feed-port 0`` itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from connectors.cornerstone.feed_host import RunnerFeeds
from connectors.cornerstone.poller import BasicCredentials, CatalogPoller
from connectors.cornerstone.sandbox import CornerstoneSandbox
from engine.config.loader import load_config
from engine.config.models import CustomerConfig
from engine.console import SilentReporter
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.runner_job import KIND, daily_job
from engine.runner.context import RunContext, RunOutcome
from engine.runner.runner import ConfigListener, Runner, RunnerSettings
from engine.state import StateStore
from tests.engine.runner.helpers import ManualClock, utc
from tests.fixtures.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

SCOPES = "employee:read transcript:update"
FEED_PASSWORD = "feed-password"
TIMEOUT = 10

CUSTOMER = """\
version: 1
customer: acme
environments:
  test:
    lms: {{url: "{lms}", client_id: "env:ACME_TEST_ID", client_secret: "env:ACME_TEST_SECRET"}}
    cornerstone: {{url: "{csod}", client_id: "env:ACME_CSOD_ID", client_secret: "env:ACME_CSOD_SECRET",
                  scope: "{scopes}"}}
cornerstone:
  catalog:
    launch_url: "https://acme.lms.example/course/{{course_id}}"
    subjects: {{sales: [{subject}]}}
    auth: {{type: basic, username: csod, password: env:ACME_FEED_PASSWORD}}
  completions: {{time: "02:00", timezone: Europe/Paris}}
"""

# Tuesday 14 January 2025 in Paris (UTC+1); the push of the 14th fires at 02:00 on the 15th.
FIRST_SIGHT = utc(2025, 1, 14, 23, 0)
SLOT_15 = utc(2025, 1, 15, 1, 0)


class NoSync:
    """The HRIS job: this customer has no HRIS section, so the runner must never call it."""

    def __call__(self, config: CustomerConfig, environment: str, ctx: RunContext) -> RunOutcome:
        raise AssertionError("the HRIS sync ran for a Cornerstone-only customer")


@dataclass
class World:
    lms: SandboxHandle
    csod: CornerstoneSandbox
    configs: Path
    store: StateStore
    ledger: Path

    def write(self, subject: str = "Sales", *, extra: str = "") -> None:
        text = CUSTOMER.format(lms=self.lms.url, csod=self.csod.url, scopes=SCOPES, subject=subject)
        (self.configs / "acme.yaml").write_text(text + extra, encoding="utf-8")

    def runner(self, clock: ManualClock, *, config_listeners: Sequence[ConfigListener] = ()) -> Runner:
        return Runner(
            self.configs,
            self.store,
            NoSync(),
            clock,
            settings=RunnerSettings(environment="test"),
            daily_jobs=[daily_job(self.ledger)],
            config_listeners=config_listeners,
        )


@pytest.fixture
def world(
    sandbox: SandboxHandle,
    cornerstone_sandbox: CornerstoneSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    for name, value in {
        "ACME_TEST_ID": sandbox.client_id,
        "ACME_TEST_SECRET": sandbox.client_secret,
        "ACME_CSOD_ID": "lmsync",
        "ACME_CSOD_SECRET": "portal-secret",
        "ACME_FEED_PASSWORD": FEED_PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    cornerstone_sandbox.store.add_client("lmsync", "portal-secret", SCOPES)
    configs = tmp_path / "customers"
    configs.mkdir()
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    world = World(sandbox, cornerstone_sandbox, configs, store, tmp_path / "ledger.sqlite")
    world.write()
    yield world
    store.close()


def seed_completions(world: World) -> tuple[str, str]:
    """Two learners with external ids completing c1: one on the 13th, one on the 14th (Paris)."""
    seeded = world.lms.admin.seed(
        users=[{"mail": "ada@example.com"}, {"mail": "bob@example.com"}],
        courses=[{"_id": "c1", "name": "Onboarding", "modifiedAt": "2025-01-01T08:00:00Z"}],
    )
    ada, bob = (u["_id"] for u in seeded["users"])
    world.lms.admin.seed(
        external_ids=[
            {"platform": "lmsync-hris", "targetId": ada, "value": "E-ADA"},
            {"platform": "lmsync-hris", "targetId": bob, "value": "E-BOB"},
        ],
        course_stats=[
            {"courseId": "c1", "userId": ada, "progress": 100, "completedAt": "2025-01-14T10:00:00Z"},
            {"courseId": "c1", "userId": bob, "progress": 100, "completedAt": "2025-01-13T10:00:00Z"},
        ],
    )
    store = world.csod.store
    guids = store.add_employee("E-ADA"), store.add_employee("E-BOB")
    store.ingest(
        {
            "ID": "c1",
            "Title": "Onboarding",
            "URL": "https://x/",
            "IsActive": True,
            "LastModifiedUTC": "2025-01-01T08:00:00Z",
        }
    )
    return guids


def transcripts(world: World) -> list[tuple[str, str, int]]:
    return sorted((t["user_guid"], t["lo_id"], t["completions"]) for t in world.csod.store.transcripts())


def test_the_runner_pushes_yesterdays_completions_once_at_the_local_time(world: World) -> None:
    ada, _ = seed_completions(world)
    clock = ManualClock(FIRST_SIGHT)
    runner = world.runner(clock)
    assert runner.run_once() == []
    clock.set(SLOT_15 - timedelta(minutes=1))
    assert runner.run_once() == []
    clock.set(SLOT_15)
    assert runner.run_once() == [f"{KIND}:acme"]
    assert transcripts(world) == [(ada, "c1", 1)], "the 14th only: the runner first saw acme on the 14th"
    (run,) = world.store.list_runs("acme")
    assert (run.kind, run.status, run.counts["pushed"], run.counts["days"]) == (KIND, "succeeded", 1, 1)
    assert world.store.report(run.id) == [
        {"day": "2025-01-14", "course": "c1", "user": run_report_user(world), "outcome": "pushed"}
    ]

    # Run again the same day: the history says the 14th is done, so nothing is covered.
    config = load_config(world.configs / "acme.yaml")
    job = daily_job(world.ledger).job
    assert job(config, "test", context(world.store, clock)).status == "skipped"
    # With no history at all (another state store): the 14th is covered again, and the ledger
    # sends nothing twice.
    other = StateStore.open(f"sqlite:///{world.ledger.parent / 'other-state.sqlite'}")
    again = job(config, "test", context(other, clock))
    other.close()
    assert (again.status, again.counts["pushed"], again.counts["already_pushed"]) == ("succeeded", 0, 1)
    assert transcripts(world) == [(ada, "c1", 1)]
    assert CompletionLedger(world.ledger).count("acme") == 1
    runner.close()


def context(store: StateStore, clock: ManualClock) -> RunContext:
    return RunContext(
        run_id="by-hand",
        customer="acme",
        environment="test",
        kind=KIND,
        store=store,
        clock=clock,
        reporter=SilentReporter(),
    )


def run_report_user(world: World) -> str:
    user = world.lms.client.find_user_by_mail("ada@example.com")
    assert user is not None
    return str(user["_id"])


def test_a_runner_that_was_down_catches_up_the_missed_days(world: World) -> None:
    ada, bob = seed_completions(world)
    clock = ManualClock(utc(2025, 1, 12, 23, 0))
    runner = world.runner(clock)
    runner.run_once()
    clock.set(utc(2025, 1, 13, 1, 0))  # pushes the 12th: nothing completed that day
    assert runner.run_once() == [f"{KIND}:acme"]
    assert transcripts(world) == []
    clock.set(SLOT_15 + timedelta(hours=5))  # down through the slot of the 14th, back at 07:00
    assert runner.run_once() == [f"{KIND}:acme"]
    assert transcripts(world) == sorted([(ada, "c1", 1), (bob, "c1", 1)])
    latest = world.store.list_runs("acme")[0]
    assert (latest.counts["days"], latest.counts["pushed"]) == (2, 2)
    runner.close()


def test_a_refused_portal_login_fails_the_run_and_the_retry_pushes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, _ = seed_completions(world)
    clock = ManualClock(FIRST_SIGHT)
    runner = world.runner(clock)
    runner.run_once()
    world.csod.store.expire_tokens()
    monkeypatch.setenv("ACME_CSOD_SECRET", "a-wrong-secret")
    clock.set(SLOT_15)
    assert runner.run_once() == [f"{KIND}:acme"]
    failed = world.store.list_runs("acme")[0]
    assert failed.status == "failed" and failed.error
    assert "a-wrong-secret" not in failed.error
    monkeypatch.setenv("ACME_CSOD_SECRET", "portal-secret")
    clock.set(SLOT_15 + timedelta(minutes=5))  # the runner's first backoff
    assert runner.run_once() == [f"{KIND}:acme"]
    assert transcripts(world) == [(ada, "c1", 1)]
    runner.close()


# --- the catalog feed, served by the runner ----------------------------------------------------


def test_the_runner_serves_each_customers_feed_and_follows_its_file(world: World) -> None:
    world.lms.admin.seed(
        courses=[
            {"_id": "c1", "name": "Negotiation", "tags": ["sales"], "modifiedAt": "2025-01-02T08:00:00Z"},
            {"_id": "c2", "name": "Old policy", "status": "archived", "modifiedAt": "2024-12-01T08:00:00Z"},
        ]
    )
    clock = ManualClock(FIRST_SIGHT)
    with RunnerFeeds("test", SilentReporter()) as feeds:
        runner = world.runner(clock, config_listeners=[feeds.update])
        runner.run_once()
        url = feeds.feed_url("acme")
        auth = ("csod", FEED_PASSWORD)

        assert requests.get(url, timeout=TIMEOUT).status_code == 401
        assert requests.get(url, auth=("csod", "wrong"), timeout=TIMEOUT).status_code == 401
        first = requests.get(url, auth=auth, timeout=TIMEOUT)
        assert first.status_code == 200
        items = {item["ID"]: item for item in first.json()}
        assert (items["c1"]["IsActive"], items["c1"]["Subjects"]) == (True, ["Sales"])
        assert items["c2"]["IsActive"] is False
        since = {"If-Modified-Since": first.headers["Last-Modified"]}
        assert requests.get(url, auth=auth, headers=since, timeout=TIMEOUT).status_code == 304

        poller = CatalogPoller(world.csod.store, url, BasicCredentials("csod", SecretStr(FEED_PASSWORD)))
        assert poller.poll().created == 2

        # The SA's merged change reaches the runner's folder: the next tick serves it, and the
        # changed course moves its LastModifiedUTC so Cornerstone takes it.
        world.write(subject="Sales & Marketing")
        runner.run_once()
        result = poller.poll()
        assert (result.status, result.updated) == (200, 1)
        assert world.csod.store.learning_objects()["c1"]["Subjects"] == ["Sales & Marketing"]
        moved = parsedate_to_datetime(requests.get(url, auth=auth, timeout=TIMEOUT).headers["Last-Modified"])
        assert moved > parsedate_to_datetime(first.headers["Last-Modified"])
        poller.close()

        path = world.configs / "acme.yaml"  # the catalog section goes away
        path.write_text(re.sub(r"  catalog:\n(    .*\n)+", "", path.read_text()), encoding="utf-8")
        runner.run_once()
        assert requests.get(url, auth=auth, timeout=TIMEOUT).status_code == 404
        assert feeds.customers() == []
        runner.close()


def test_a_customer_whose_feed_secret_is_unset_is_not_served(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_FEED_PASSWORD")
    warnings: list[str] = []

    class Recording(SilentReporter):
        def warn(self, message: str) -> None:
            warnings.append(message)

    with RunnerFeeds("test", Recording()) as feeds:
        runner = world.runner(ManualClock(FIRST_SIGHT), config_listeners=[feeds.update])
        runner.run_once()
        runner.run_once()
        assert feeds.customers() == []
        assert requests.get(feeds.feed_url("acme"), timeout=TIMEOUT).status_code == 404
        runner.close()
    assert len(warnings) == 1, "said once per version of the file"
    assert warnings[0].startswith(
        "acme: catalog feed not served: cornerstone.catalog.auth.password: "
        "environment variable ACME_FEED_PASSWORD is not set"
    )


def test_lmsync_runner_serves_the_feeds_on_feed_port(world: World, tmp_path: Path) -> None:
    world.lms.admin.seed(courses=[{"_id": "c1", "name": "Negotiation", "tags": ["sales"]}])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli.main",
            "runner",
            "--configs",
            str(world.configs),
            "--state",
            f"sqlite:///{tmp_path / 'cli-state.sqlite'}",
            "--environment",
            "test",
            "--cornerstone-ledger",
            str(tmp_path / "cli-ledger.sqlite"),
            "--feed-port",
            "0",
            "--poll-interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        base = ""
        deadline = time.monotonic() + 30
        while not base and time.monotonic() < deadline:
            line = process.stderr.readline()
            found = re.search(r"Cornerstone catalog feeds on (http://\S+?)/cornerstone/", line)
            base = found.group(1) if found else ""
        assert base, "the runner did not say where the feeds are"
        url = f"{base}/cornerstone/acme/courses"
        answer = requests.get(url, auth=("csod", FEED_PASSWORD), timeout=TIMEOUT)
        while answer.status_code == 404 and time.monotonic() < deadline:  # until the first tick
            time.sleep(0.05)
            answer = requests.get(url, auth=("csod", FEED_PASSWORD), timeout=TIMEOUT)
        assert answer.status_code == 200
        assert [item["ID"] for item in answer.json()] == ["c1"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        log = process.stderr.read()
        assert FEED_PASSWORD not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_file_secret_references_resolve_from_the_customer_files_folder(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, _ = seed_completions(world)
    (world.configs / "secrets").mkdir()
    (world.configs / "secrets" / "csod").write_text("portal-secret\n", encoding="utf-8")
    monkeypatch.delenv("ACME_CSOD_SECRET")
    path = world.configs / "acme.yaml"
    path.write_text(
        path.read_text().replace('"env:ACME_CSOD_SECRET"', '"file:secrets/csod"'), encoding="utf-8"
    )
    clock = ManualClock(FIRST_SIGHT)
    runner = world.runner(clock)
    runner.run_once()
    clock.set(SLOT_15)
    assert runner.run_once() == [f"{KIND}:acme"]
    assert world.store.list_runs("acme")[0].status == "succeeded"
    assert transcripts(world) == [(ada, "c1", 1)]
    runner.close()
