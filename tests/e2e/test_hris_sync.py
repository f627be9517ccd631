"""The HRIS sync end to end over HTTP: a file is planned against the sandbox LMS and applied.

Each test states one rule of the reference (``hris-connector.txt``) or of DESIGN.md's "Sync
semantics", arranges the sandbox through its admin surface, applies files with
``apply_hris_file`` exactly as ``lmsync apply`` does, and reads the LMS back. Idempotence is
checked the strict way: re-plan after apply and assert the plan is empty and, where it
matters, that the sandbox received no write at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.lms.target import LmsTarget
from engine.apply import plan_hris_file
from engine.errors import DeletionGuardError
from engine.hris import DeletionGuardTrippedError
from tests.engine.apply.world import PLATFORM, ROOT, ApplyWorld, csv, now, row

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, params=["reference", "columnar"])
def planning_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both paths of ``plan_input``: the reference one (these small files'
    default) and the columnar one (big files' default), taken here from any size, so its
    production wiring (snapshot read with the file's e-mails, run log lines) meets the
    sandbox over HTTP too."""
    if request.param == "columnar":
        monkeypatch.setattr("engine.hris.columnar.MIN_BYTES", 0)
    return str(request.param)


REPO = Path(__file__).resolve().parents[2]
TEAM = csv(row("1", title="CEO"), row("2", manager="1"), row("3", manager="1", site="Lyon"))


def loaded(world: ApplyWorld, text: str = TEAM) -> dict[str, dict[str, Any]]:
    """Apply ``text`` and return the managed users; the apply must have succeeded."""
    outcome = world.apply(text)
    assert outcome.status == "succeeded", outcome.problems
    return world.managed()


def assert_converged(world: ApplyWorld, text: str) -> None:
    """Re-planning the same file finds nothing to do, and applying it writes nothing."""
    assert world.plan(text).is_empty
    world.sandbox.admin.reset_requests()
    outcome = world.apply(text)
    assert outcome.plan.is_empty
    assert world.writes() == []


def test_initial_load_creates_links_groups_managers_and_values(world: ApplyWorld) -> None:
    outcome = world.apply(TEAM)

    assert outcome.status == "succeeded"
    assert outcome.counts["created"] == 3 and outcome.counts["failed"] == 0
    users = world.managed()
    assert sorted(users) == ["1", "2", "3"]
    assert users["1"]["job"] == "CEO" and users["2"]["firstName"] == "First2"
    assert users["2"]["managers"] == [users["1"]["_id"]] == users["3"]["managers"]
    assert world.learner_groups(users["2"]["_id"]) == {"Acme", "Acme/France/Paris"}
    assert world.learner_groups(users["3"]["_id"]) == {"Acme", "Acme/France/Lyon"}
    location = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    assert users["1"]["customFields"] == [{"customFieldId": location["_id"], "type": "string", "value": "HQ"}]
    assert world.state()["invitations"] == []  # silent: true
    assert [r["result"] for r in outcome.report] == ["done"] * 3
    assert_converged(world, TEAM)


def test_not_silent_creation_sends_the_invitation(world: ApplyWorld) -> None:
    world.apply(csv(row("1")), world.config(silent=False))

    user = world.managed()["1"]
    assert user["status"] == "invited"
    assert [i["userId"] for i in world.state()["invitations"]] == [user["_id"]]


def test_change_of_title_is_one_patch_of_that_field(world: ApplyWorld) -> None:
    before = loaded(world)
    world.sandbox.admin.reset_requests()

    outcome = world.apply(
        csv(row("1", title="Founder"), row("2", manager="1"), row("3", manager="1", site="Lyon"))
    )

    assert outcome.counts["updated"] == 1 and outcome.counts["unchanged"] == 2
    assert [(w["method"], w["path"]) for w in world.writes()] == [
        ("PATCH", f"/api/v2/users/{before['1']['_id']}")
    ]
    assert world.managed()["1"]["job"] == "Founder"


def test_change_of_email_keeps_the_same_user(world: ApplyWorld) -> None:
    before = loaded(world)
    changed = csv(
        row("1", title="CEO", email="ceo@acme.example"),
        row("2", manager="1"),
        row("3", manager="1", site="Lyon"),
    )

    world.apply(changed)

    after = world.managed()
    assert after["1"]["_id"] == before["1"]["_id"]
    assert after["1"]["mail"] == "ceo@acme.example"
    assert len(world.state()["users"]) == 3
    assert_converged(world, changed)


def test_manager_change_replaces_the_manager(world: ApplyWorld) -> None:
    before = loaded(world)
    changed = csv(row("1", title="CEO"), row("2", manager="1"), row("3", manager="2", site="Lyon"))

    world.apply(changed)

    assert world.managed()["3"]["managers"] == [before["2"]["_id"]]
    assert_converged(world, changed)


def test_move_between_hierarchy_groups_creates_the_group_and_moves_the_learner_role(
    world: ApplyWorld,
) -> None:
    before = loaded(world)
    moved = csv(
        row("1", title="CEO"),
        row("2", manager="1", country="Spain", site="Madrid"),
        row("3", manager="1", site="Lyon"),
    )

    outcome = world.apply(moved)

    assert outcome.status == "succeeded"
    assert world.learner_groups(before["2"]["_id"]) == {"Acme", "Acme/Spain/Madrid"}
    assert world.learner_groups(before["1"]["_id"]) == {"Acme", "Acme/France/Paris"}  # others untouched
    spain = next(g for g in world.state()["groups"] if g["name"] == "Spain")
    assert spain["parentId"] == ROOT and spain["public"] is False
    assert_converged(world, moved)


def test_inactive_user_is_deleted(world: ApplyWorld) -> None:
    before = loaded(world)
    leaver = csv(row("1", title="CEO"), row("2", manager="1"), row("3", status="Inactive"))

    outcome = world.apply(leaver)

    assert outcome.counts["deleted"] == 1
    assert world.managed()["3"]["status"] == "deleted"
    assert world.managed()["3"]["_id"] == before["3"]["_id"]
    assert {r["unique_id"]: r["action"] for r in outcome.report} == {"3": "delete"}
    assert_converged(world, leaver)


def test_user_deleted_in_the_lms_is_restored_with_its_groups_and_manager(world: ApplyWorld) -> None:
    before = loaded(world)
    world.sandbox.client.delete_user(before["2"]["_id"])

    outcome = world.apply(TEAM)

    assert outcome.counts["restored"] == 1
    restored = world.managed()["2"]
    assert restored["_id"] == before["2"]["_id"] and restored["status"] == "active"
    assert world.learner_groups(restored["_id"]) == {"Acme", "Acme/France/Paris"}
    assert restored["managers"] == [before["1"]["_id"]]
    assert restored["customFields"] == before["2"]["customFields"]
    assert_converged(world, TEAM)


def test_user_restored_with_a_new_email_and_a_cleared_field_matches_the_file(world: ApplyWorld) -> None:
    before = loaded(world)
    world.sandbox.client.delete_user(before["2"]["_id"])
    changed = csv(
        row("1", title="CEO"),
        row("2", manager="1", email="new2@acme.example", title=""),
        row("3", manager="1", site="Lyon"),
    )

    world.apply(changed)

    restored = world.managed()["2"]
    assert restored["_id"] == before["2"]["_id"]
    assert restored["mail"] == "new2@acme.example" and restored["job"] is None
    assert_converged(world, changed)


def test_user_only_in_the_lms_is_left_alone(world: ApplyWorld) -> None:
    seeded = world.sandbox.admin.seed(
        users=[
            {
                "mail": "outsider@acme.example",
                "job": "Auditor",
                "roles": [{"groupId": ROOT, "role": "learner"}],
            }
        ]
    )["users"][0]
    loaded(world)

    outsider = next(u for u in world.state()["users"] if u["_id"] == seeded["_id"])
    assert outsider["job"] == "Auditor" and outsider["status"] == "active"
    assert all(seeded["_id"] not in w["path"] for w in world.sandbox.admin.write_requests())
    # Even asked to delete users missing from the file, the connector only deletes its own.
    world.apply(csv(row("1", title="CEO")), world.config(missing_users="delete"))
    assert next(u for u in world.state()["users"] if u["_id"] == seeded["_id"])["status"] == "active"


def test_existing_user_with_the_same_email_is_adopted_not_duplicated(world: ApplyWorld) -> None:
    seeded = world.sandbox.admin.seed(users=[{"mail": "user2@acme.example", "job": "Old title"}])["users"][0]

    outcome = world.apply(TEAM)

    assert outcome.counts["created"] == 2 and outcome.counts["updated"] == 1
    assert {r["unique_id"]: r["action"] for r in outcome.report}["2"] == "adopt"
    adopted = world.managed()["2"]
    assert adopted["_id"] == seeded["_id"] and adopted["job"] == "Engineer"
    assert Counter(u["mail"] for u in world.state()["users"])["user2@acme.example"] == 1
    assert_converged(world, TEAM)


def test_unlinked_deleted_user_with_the_rows_email_comes_back_as_the_file_says(world: ApplyWorld) -> None:
    seeded = world.sandbox.admin.seed(
        users=[
            {"mail": "user1@acme.example", "job": "Former job", "organization": "Kept", "status": "deleted"}
        ]
    )["users"][0]
    text = csv(row("1", title=""))

    world.apply(text)

    user = world.managed()["1"]
    assert user["_id"] == seeded["_id"] and user["status"] == "active"  # the LMS restores by e-mail
    assert user["job"] is None  # a column of the file, empty: cleared
    assert user["organization"] == "Kept"  # not a column of the file: untouched
    assert len(world.state()["users"]) == 1
    assert_converged(world, text)


def test_custom_field_deleted_in_the_lms_is_recreated_and_set_again(world: ApplyWorld) -> None:
    loaded(world)
    old = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    world.sandbox.admin.delete_custom_field(old["_id"])

    world.apply(TEAM)

    new = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    assert new["_id"] != old["_id"]
    assert all(
        u["customFields"] == [{"customFieldId": new["_id"], "type": "string", "value": "HQ"}]
        for u in world.managed().values()
    )
    assert_converged(world, TEAM)


def test_custom_value_removed_in_the_lms_is_added_back(world: ApplyWorld) -> None:
    users = loaded(world)
    world.sandbox.client.put_custom_values(users["3"]["_id"], [])

    outcome = world.apply(TEAM)

    assert outcome.counts["updated"] == 1
    assert [v["value"] for v in world.managed()["3"]["customFields"]] == ["HQ"]
    assert_converged(world, TEAM)


def test_unmanaged_custom_values_are_kept_when_ours_change(world: ApplyWorld) -> None:
    users = loaded(world)
    badge = world.sandbox.client.create_custom_field("Badge")
    location = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    world.sandbox.client.put_custom_values(
        users["1"]["_id"],
        [{"customFieldId": location["_id"], "value": "HQ"}, {"customFieldId": badge["_id"], "value": "gold"}],
    )
    moved = csv(
        row("1", title="CEO", location="Remote"), row("2", manager="1"), row("3", manager="1", site="Lyon")
    )

    world.apply(moved)

    values = {v["customFieldId"]: v["value"] for v in world.managed()["1"]["customFields"]}
    assert values == {location["_id"]: "Remote", badge["_id"]: "gold"}
    assert_converged(world, moved)


def test_values_of_a_field_no_longer_fed_are_removed_once_the_title_changes(world: ApplyWorld) -> None:
    loaded(world)
    old = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    renamed = world.config(custom_fields={"location": "Site"})

    outcome = world.apply(TEAM, renamed)

    assert outcome.status == "succeeded"
    site = next(f for f in world.state()["customFields"] if f["name"] == "Site")
    for user in world.managed().values():
        assert user["customFields"] == [{"customFieldId": site["_id"], "type": "string", "value": "HQ"}]
    assert any(f["_id"] == old["_id"] for f in world.state()["customFields"])  # the definition stays
    assert world.plan(TEAM, renamed).is_empty


def test_deletion_guard_trips_before_any_write(world: ApplyWorld) -> None:
    loaded(world)
    world.sandbox.admin.reset_requests()
    everyone_leaves = csv(*(row(uid, status="Inactive") for uid in ("1", "2", "3")))
    strict = world.config(safety={"max_deletions": "10%"})

    with pytest.raises(DeletionGuardTrippedError) as tripped:
        world.apply(everyone_leaves, strict)

    assert isinstance(tripped.value, DeletionGuardError)
    assert tripped.value.deletions == 3 and "--allow-deletions 3" in str(tripped.value)
    assert world.writes() == []
    outcome = world.apply(everyone_leaves, strict, allow_deletions=3)
    assert outcome.counts["deleted"] == 3


def test_second_apply_of_the_same_file_sends_no_write(world: ApplyWorld, planning_path: str) -> None:
    loaded(world)
    world.sandbox.admin.reset_requests()

    outcome = world.apply(TEAM)

    assert outcome.plan.is_empty and outcome.counts["unchanged"] == 3
    assert world.writes() == []
    assert outcome.report == []
    # The columnar path proved the three rows unchanged itself (it did not hand the file back).
    planned = plan_hris_file(world.config(), TEAM.encode(), file_name="hris-test.csv", target=world.target())
    assert planned.desired.settled == (3 if planning_path == "columnar" else 0)


def test_rows_set_aside_are_reported_and_the_rest_is_synced(world: ApplyWorld) -> None:
    text = csv(
        row("1"), row("2", email="not-an-email"), row("3"), row("3", site="Lyon"), row("4", manager="404")
    )

    outcome = world.apply(text)

    by_line = {r["line"]: (r["unique_id"], r["action"], r["result"], r["code"]) for r in outcome.report}
    assert by_line == {
        2: ("1", "create", "done", None),
        3: ("2", "ignored", "ignored", "invalid_email"),
        4: ("3", "duplicated", "duplicated", "duplicated"),
        5: ("3", "duplicated", "duplicated", "duplicated"),
        6: ("4", "create", "done", "unknown_manager"),
    }
    assert outcome.counts["duplicated"] == 2 and outcome.counts["ignored"] == 1
    assert sorted(world.managed()) == ["1", "4"]
    assert all("not-an-email" not in line and "acme.example" not in line for line in outcome.problems)


def test_faults_during_apply_are_retried_without_doubling_a_write(world: ApplyWorld) -> None:
    team = csv(*(row(str(i), manager="0" if i else "", site=("Paris", "Lyon")[i % 2]) for i in range(30)))
    world.sandbox.admin.configure(faults={"error_5xx": 0.1, "rate_429": 0.1, "drop": 0.05, "seed": 3})

    outcome = world.apply(team)

    faults = Counter(r.get("fault") for r in world.sandbox.admin.requests() if r.get("fault"))
    assert faults["5xx-after"] and faults["429"]  # writes that happened but looked failed, among others
    assert outcome.status == "succeeded", outcome.problems
    world.sandbox.admin.configure(faults={"error_5xx": 0.0, "rate_429": 0.0, "drop": 0.0})
    assert len(world.state()["users"]) == 30 and len(world.state()["externalIds"]) == 30
    assert_converged(world, team)


class FaultyAfterSnapshot(LmsTarget):
    """The LMS starts failing once the snapshot is read: only writes (and the look-ups made
    for them) meet the faults, with a client allowed a single retry."""

    def __init__(self, world: ApplyWorld, faults: dict[str, Any]) -> None:
        super().__init__(world.sandbox.new_client(max_retries=1), platform=PLATFORM, root_group=ROOT)
        self.admin, self.faults = world.sandbox.admin, faults

    def snapshot(self, *args: Any, **kwargs: Any) -> Any:
        taken = super().snapshot(*args, **kwargs)
        self.admin.configure(faults=self.faults)
        return taken


def test_writes_failing_after_retries_are_reported_per_user_and_a_rerun_converges(world: ApplyWorld) -> None:
    team = csv(*(row(str(i), manager="0" if i else "", site=("Paris", "Lyon")[i % 2]) for i in range(30)))

    first = world.apply(team, target=FaultyAfterSnapshot(world, {"error_5xx": 0.35, "seed": 5}))

    assert first.status == "failed"
    failed = [r for r in first.report if r["result"] in ("failed", "skipped")]
    assert failed and first.counts["failed"] == len(failed)
    # Each user's row names the API's error code (the sandbox's injected 503/502), or says it
    # was skipped because a step it needed (its creation, its link) failed.
    assert {r["code"] for r in failed} <= {"serviceUnavailable", "badGateway", "dependency_failed"}
    assert any(r["code"] != "dependency_failed" for r in failed)
    assert any("failed" in line for line in first.problems)
    world.sandbox.admin.configure(faults={"error_5xx": 0.0})
    second = world.apply(team)
    assert second.status == "succeeded", second.problems
    users = world.managed()
    assert len(users) == 30 and len(world.state()["users"]) == 30
    assert all(u["managers"] == [users["0"]["_id"]] for uid, u in users.items() if uid != "0")
    assert_converged(world, team)


def test_platform_of_the_links_is_the_configured_one(world: ApplyWorld) -> None:
    loaded(world, csv(row("1")))
    assert {e["platform"] for e in world.state()["externalIds"]} == {PLATFORM}
    custom = world.config(platform="other-hris")

    world.apply(csv(row("1")), custom)

    # Under another platform the user is not ours yet: it is adopted (linked), not duplicated.
    assert sorted(e["platform"] for e in world.state()["externalIds"]) == ["lmsync-hris", "other-hris"]
    assert len(world.state()["users"]) == 1


def test_group_rules_add_the_learner_role_and_count_users_without_a_rule(world: ApplyWorld) -> None:
    sales = world.sandbox.admin.seed(
        groups=[{"name": "Sales academy", "parentId": world.sandbox.platform_group_id}]
    )
    sales_id = sales["groups"][0]["_id"]
    config = world.config(groups={"rules": [{"when": {"title": ["Seller"]}, "group": sales_id}]})

    outcome = world.apply(csv(row("1", title="Seller"), row("2")), config)

    users = world.managed()
    assert world.learner_groups(users["1"]["_id"]) == {"Acme", "Sales academy"}
    assert world.learner_groups(users["2"]["_id"]) == {"Acme"}
    assert outcome.counts["no_group_rule"] == 1
    world.apply(csv(row("1", title="Buyer"), row("2")), config)
    assert world.learner_groups(users["1"]["_id"]) == {"Acme"}


def _apply_process(world: ApplyWorld, config: Path, data: Path) -> subprocess.Popen[str]:
    """``lmsync apply`` in its own process, pacing itself at the LMS's 10 writes/s."""
    command = [sys.executable, "-m", "engine.cli.main", "apply", str(config), "--input", str(data)]
    command += ["--state", world.state_url, "--lock-ttl", "1"]
    return subprocess.Popen(
        command,
        cwd=world.tmp,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _poll(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_apply_killed_with_sigkill_mid_run_is_resumed_and_converges_without_duplicates(
    world: ApplyWorld,
) -> None:
    team = csv(*(row(f"{i:02}", manager="00" if i else "", site=("Paris", "Lyon")[i % 2]) for i in range(8)))
    config, data = world.write_config(), world.tmp / "hris-kill.csv"
    data.write_text(team, encoding="utf-8")

    first = _apply_process(world, config, data)
    # 3 groups, 8 creations, then links: killed among the links, long before the managers.
    _poll(lambda: len(world.writes()) >= 13)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    (killed,) = world.store.list_runs("acme")
    assert killed.status == "running"
    assert sum(e.status == "done" for e in world.store.journal(killed.id)) < len(
        world.store.journal(killed.id)
    )

    _poll(lambda: world.store.lock_holder("customer:acme", now=now()) is None, timeout=10)
    second = _apply_process(world, config, data)
    _, err = second.communicate(timeout=90)

    assert second.returncode == 0, err
    assert f"resuming interrupted run {killed.id}" in err
    (run,) = world.store.list_runs("acme")
    assert run.id == killed.id and run.status == "succeeded"
    users = world.state()["users"]
    assert len(users) == 8 and len({u["mail"] for u in users}) == 8
    managed = world.managed()
    assert len(managed) == 8 and len(world.state()["externalIds"]) == 8
    assert all(u["managers"] == [managed["00"]["_id"]] for uid, u in managed.items() if uid != "00")
    assert all(world.learner_groups(u["_id"]) - {"Acme"} for u in managed.values())
    assert_converged(world, team)


def test_apply_asked_to_stop_with_sigterm_ends_interrupted_between_two_actions(world: ApplyWorld) -> None:
    team = csv(*(row(f"{i:02}") for i in range(8)))
    config, data = world.write_config(), world.tmp / "hris-term.csv"
    data.write_text(team, encoding="utf-8")

    process = _apply_process(world, config, data)
    _poll(lambda: len(world.writes()) >= 5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 1
    (run,) = world.store.list_runs("acme")
    assert run.status == "interrupted" and run.error == "interrupted before every action was applied"
    assert f"run {run.id} was interrupted; run the same command again to complete it" in err
    assert "interrupted" in out
    journal = world.store.journal(run.id)
    assert {e.status for e in journal} == {"done", "pending"}  # stopped cleanly: nothing half-recorded
    assert world.store.lock_holder("customer:acme", now=now()) is None  # released on the way out
