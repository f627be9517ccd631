"""An LMS that fails every write while a file is applied: the file is not done, so the next
run (the runner's retry) applies it again, and the newer files wait for it.

The apply stops early once the LMS failed several writes in a row even after the client's
retries, leaving the rest of its plan undone. Recording that file as processed would make
the retry skip it as "already processed", and the users the storm cut off would wait for
the customer's next export; applying the newer file before it would apply changes out of
order. The storm here is real: the sandbox answers every request 429 (``Retry-After: 0``,
so the client's retries are fast) from the moment the plan starts being applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine.console import Progress, SilentReporter
from tests.engine.sync.helpers import SyncWorld, people

pytestmark = pytest.mark.integration

STORM = {"rate_429": 1.0, "retry_after": 0, "storm_length": 0}
CALM = {"rate_429": 0.0, "retry_after": None}


class StormOnApply(SilentReporter):
    """Starts a 429 storm when the first file's apply starts (after its snapshot and plan)."""

    def __init__(self, world: SyncWorld) -> None:
        self.world = world
        self.started = False

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Progress]:
        if not self.started:
            self.started = True
            self.world.sandbox.admin.configure(faults=STORM)
        with super().progress(total, label) as bar:
            yield bar


def test_a_file_cut_off_by_an_lms_storm_is_applied_again_by_the_next_run(sync_world: SyncWorld) -> None:
    team = [(f"{i:02}", "Engineer") for i in range(6)]
    sync_world.drop("hris-1.csv", people(*team), minutes_ago=30)
    sync_world.drop("hris-2.csv", people(*team, ("99", "Late joiner")), minutes_ago=20)

    _, stormy = sync_world.sync(reporter=StormOnApply(sync_world))
    sync_world.sandbox.admin.configure(faults=CALM)

    assert stormy.status == "failed"
    assert stormy.error is not None and stormy.error.transient, "the runner retries it"
    assert "hris-1.csv" in (stormy.error_text() or "")
    assert stormy.waiting == ("hris-2.csv",), "the newer file waits for the older one"
    assert sync_world.store.ledger_entries("acme") == [], "a file cut off is not processed"

    _, retried = sync_world.sync()

    assert retried.status == "succeeded", retried.error
    assert [(f.name, f.status) for f in retried.files] == [
        ("hris-1.csv", "succeeded"),
        ("hris-2.csv", "succeeded"),
    ]
    assert sorted(sync_world.managed()) == sorted([uid for uid, _ in team] + ["99"])
    assert [e.file_name for e in sync_world.store.ledger_entries("acme")] == ["hris-1.csv", "hris-2.csv"]
