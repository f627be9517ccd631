"""The run's problems (the recap e-mail's list) hold what needs an SA, not the files that only
wait on the source for their retention.

A customer drops a new export every day and the source keeps each for 30 days, so every run
meets up to 60 files it already processed. They are still shown in the run's summary, but
listed as problems they would fill the recap (50 lines at most) and push the users that
were set aside or failed out of it.
"""

from __future__ import annotations

import hashlib

import pytest

from engine.runner.notify import MAX_PROBLEM_LINES, mask_emails
from engine.sync.outcome import summary_lines
from engine.sync.runner_job import to_run_outcome
from tests.engine.sync.helpers import SyncWorld, people, utcnow

pytestmark = pytest.mark.integration

OLD = MAX_PROBLEM_LINES + 5


def test_files_waiting_for_retention_are_not_problems_but_a_copy_is(sync_world: SyncWorld) -> None:
    # The exports of the last days, processed by earlier runs and still on the source.
    earlier = sync_world.store.start_run("acme", "test", "hris", now=utcnow())
    for day in range(OLD):
        data = people(("1", f"Title {day}"))
        sync_world.drop(f"hris-{day:03}.csv", data, minutes_ago=1000 - day)
        sha = hashlib.sha256(data).hexdigest()
        sync_world.store.ledger_record("acme", f"hris-{day:03}.csv", sha, len(data), earlier, now=utcnow())
    sync_world.store.finish_run(earlier, "succeeded", counts={}, now=utcnow())
    sync_world.drop("hris-copy.csv", people(("1", "Title 3")), minutes_ago=30)  # a re-upload
    bad_row = b"3,Active,not-an-email,A,B,C\n"
    sync_world.drop("hris-new.csv", people(("1", "CTO"), ("2", "Analyst")) + bad_row, minutes_ago=20)

    run_id, outcome = sync_world.sync()

    assert [f.status for f in outcome.files].count("duplicate") == OLD + 1
    assert not any(line.startswith(f"hris-{day:03}.csv") for day in range(OLD) for line in outcome.problems)
    assert any(line.startswith("hris-copy.csv") for line in outcome.problems), "a re-upload is reported"
    recap = to_run_outcome(outcome, customer="acme", environment="test", run_id=run_id, scheduled=True)
    assert any("invalid_email" in line for line in recap.problems[:MAX_PROBLEM_LINES])
    # The run's summary still says what became of every file it looked at.
    lines = summary_lines(outcome)
    assert sum("skipped, its content was already processed" in line for line in lines) == OLD + 1


def test_the_recap_masks_addresses_but_keeps_the_format_a_message_asks_for() -> None:
    reason = "'email' is empty or not an e-mail address (expected name@domain.tld)"
    assert mask_emails(reason) == reason
    assert (
        mask_emails("mail zqx.ada@markers.example is already used") == "mail [e-mail hidden] is already used"
    )
