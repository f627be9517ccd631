"""The executor against the sandbox: order, journal, failures kept local, stop, resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.lms.target import LmsTarget
from engine.apply.executor import MAX_TRANSIENT_IN_A_ROW, Execution, Executor
from engine.apply.steps import plan_steps
from engine.console import SilentReporter
from engine.errors import TargetAuthError
from engine.hris.actions import (
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    GroupRef,
    LinkExternalId,
    PlannedValue,
    SetCustomValues,
    SetManager,
    UpdateProfile,
    UserRef,
)
from engine.hris.plan import Guard, Plan, Summary
from tests.engine.apply.world import PLATFORM, ROOT, ApplyWorld, csv, now, row

pytestmark = pytest.mark.integration


def plan(*actions: Any) -> Plan:
    return Plan(tuple(actions), Summary(), (), (), Guard(0, 0, False))


def execute(
    world: ApplyWorld,
    the_plan: Plan,
    *,
    run_id: str | None = None,
    target: LmsTarget | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> tuple[str, Execution]:
    run_id = run_id or world.store.start_run("acme", "test", "apply", now=now())
    target = target or world.target()
    hris = world.config().hris
    assert hris is not None
    target.snapshot(hris)
    executor = Executor(
        target, world.store, run_id, reporter=SilentReporter(), now=now, stop_requested=stop_requested
    )
    return run_id, executor.run(plan_steps(the_plan))


def new_user(uid: str, group: str = ROOT) -> tuple[CreateUser, LinkExternalId]:
    return CreateUser(uid, f"user{uid}@acme.example", (("job", "Engineer"),), group, False), LinkExternalId(
        UserRef(uid, None), PLATFORM
    )


def test_actions_are_applied_in_plan_order_and_journaled_done(world: ApplyWorld) -> None:
    actions = (
        CreateCustomField("Location", "string"),
        CreateGroup(("France",), "France", GroupRef(ROOT, ())),
        *new_user("1"),
        SetCustomValues(UserRef("1", None), (PlannedValue(None, "Location", "string", "Paris"),)),
        AddLearners(GroupRef(None, ("France",)), (UserRef("1", None),)),
    )

    run_id, execution = execute(world, plan(*actions))

    assert execution.status == "succeeded" and execution.written == 6
    user_id = world.managed()["1"]["_id"]
    france = next(g["_id"] for g in world.state()["groups"] if g["name"] == "France")
    assert [(w["method"], w["path"]) for w in world.writes()] == [
        ("POST", "/api/v2/custom-fields"),
        ("POST", "/api/v2/groups"),
        ("POST", "/api/v2/users"),
        ("POST", "/api/v2/external-ids"),
        ("PUT", f"/api/v2/users/{user_id}/custom-fields/values"),
        ("POST", f"/api/v2/groups/{france}/learner/{user_id}"),
    ]
    journal = world.store.journal(run_id)
    assert [(e.key, e.status) for e in journal] == [(step.key, "done") for step in plan_steps(plan(*actions))]
    assert journal[2].result == {"user_id": user_id, "restored": False}
    assert "acme.example" not in repr([e.payload for e in journal] + [e.result for e in journal])


def test_a_failure_skips_only_what_depends_on_it(world: ApplyWorld) -> None:
    broken = CreateUser("2", "user2@acme.example", (), "no-such-group", False)
    actions = (
        *new_user("1"),
        broken,
        LinkExternalId(UserRef("2", None), PLATFORM),
        UpdateProfile(UserRef("2", None), (("job", "CTO"),)),
        AddLearners(GroupRef(ROOT, ()), (UserRef("1", None), UserRef("2", None))),
        SetManager(UserRef("2", None), UserRef("1", None)),
    )

    run_id, execution = execute(world, plan(*actions))

    assert execution.status == "failed"
    assert execution.users["1"].result == "done"
    assert execution.users["2"].result == "failed" and execution.users["2"].code == "groupNotFound"
    statuses = {e.key: (e.status, e.error_code) for e in world.store.journal(run_id)}
    assert statuses["create_user:2"] == ("failed", "groupNotFound")
    assert statuses["link_external_id:2"] == ("failed", "dependency_failed")
    assert statuses["update_profile:2"] == ("failed", "dependency_failed")
    assert statuses["set_manager:2"] == ("failed", "dependency_failed")
    learners = next(key for key in statuses if key.startswith("add_learners:"))
    assert statuses[learners] == ("failed", "dependency_failed")  # user 1 added, user 2 dropped
    assert sorted(world.managed()) == ["1"]
    assert execution.failures == ["create_user for uniqueId 2 failed: groupNotFound"]


def test_stop_between_actions_leaves_the_rest_pending_and_a_resume_finishes_without_repeating(
    world: ApplyWorld,
) -> None:
    text = csv(*(row(str(i)) for i in range(4)))
    calls = iter(range(100))

    stopped = world.apply(text, stop_requested=lambda: next(calls) >= 5)

    assert stopped.status == "interrupted"
    run_id = world.store.list_runs("acme")[0].id
    journal = {e.key: e.status for e in world.store.journal(run_id)}
    assert list(journal.values()).count("done") == 5 + 2  # + the managed fields and groups entries
    assert "pending" in journal.values()
    assert {r["result"] for r in stopped.report} >= {"not_applied"}
    world.store.reopen_run(run_id)
    world.sandbox.admin.reset_requests()

    resumed = world.apply(text, run_id=run_id)

    assert resumed.status == "succeeded"
    # The first attempt created users 0 and 1 (custom field, two groups, two users: 5 steps).
    assert sum(w["method"] == "POST" and w["path"] == "/api/v2/users" for w in world.writes()) == 2
    assert len(world.state()["users"]) == 4 and len(world.managed()) == 4
    assert {r["unique_id"]: r["action"] for r in resumed.report} == {str(i): "create" for i in range(4)}
    replanned = {
        e.key: e.status for e in world.store.journal(run_id) if e.key.startswith(("create_", "link_"))
    }
    assert set(replanned.values()) == {"done"}


def test_a_resumed_run_skips_done_keys_and_reuses_the_ids_they_recorded(world: ApplyWorld) -> None:
    create, link = new_user("1")
    run_id, first = execute(world, plan(create), run_id=None)
    assert first.status == "succeeded"
    world.sandbox.admin.reset_requests()

    # As if the LMS's listing had not shown the new user yet: the re-plan still creates it.
    _, second = execute(world, plan(create, link), run_id=run_id)

    assert second.status == "succeeded"
    assert [(w["method"], w["path"]) for w in world.writes()] == [("POST", "/api/v2/external-ids")]
    assert len(world.state()["users"]) == 1 and sorted(world.managed()) == ["1"]


def test_a_lost_link_is_found_by_its_external_id_when_resuming(world: ApplyWorld) -> None:
    world.apply(csv(row("1")))
    world.sandbox.admin.reset_requests()

    _, execution = execute(world, plan(UpdateProfile(UserRef("1", None), (("job", "CTO"),))))

    assert execution.status == "succeeded"
    assert world.managed()["1"]["job"] == "CTO"


def test_an_lms_failing_every_write_stops_the_run_early(world: ApplyWorld) -> None:
    target = world.target(max_retries=0)
    hris = world.config().hris
    assert hris is not None
    target.snapshot(hris)
    world.sandbox.admin.configure(faults={"error_5xx": 1.0})
    actions = [action for i in range(10) for action in new_user(str(i))]
    run_id = world.store.start_run("acme", "test", "apply", now=now())

    execution = Executor(target, world.store, run_id, reporter=SilentReporter(), now=now).run(
        plan_steps(plan(*actions))
    )

    assert execution.status == "failed"
    assert execution.error is not None and "in a row" in execution.error
    journal = world.store.journal(run_id)
    creations = [e.error_code for e in journal if e.action == "create_user" and e.status == "failed"]
    assert len(creations) == MAX_TRANSIENT_IN_A_ROW  # then it stopped trying
    assert set(creations) <= {"serviceUnavailable", "badGateway"}
    pending = [e.key for e in journal if e.status == "pending"]
    assert pending[0] == f"link_external_id:{MAX_TRANSIENT_IN_A_ROW - 1}"


def test_an_authentication_failure_is_raised_at_once(world: ApplyWorld) -> None:
    target = world.target()
    hris = world.config().hris
    assert hris is not None
    target.snapshot(hris)
    world.sandbox.admin.configure(token_ttl=-1)
    world.sandbox.admin.expire_tokens()
    run_id = world.store.start_run("acme", "test", "apply", now=now())

    with pytest.raises(TargetAuthError):
        Executor(target, world.store, run_id, reporter=SilentReporter(), now=now).run(
            plan_steps(plan(*new_user("1")))
        )

    assert world.store.journal(run_id)[0].error_code == "auth"


def test_bulk_learner_changes_report_each_failed_user(world: ApplyWorld) -> None:
    world.apply(csv(*(row(str(i)) for i in range(12))))
    users = world.managed()
    world.sandbox.client.delete_user(users["3"]["_id"])
    sales = world.sandbox.admin.seed(groups=[{"name": "Sales", "parentId": ROOT}])["groups"][0]["_id"]
    refs = tuple(UserRef(uid, user["_id"]) for uid, user in sorted(users.items()))

    _, execution = execute(world, plan(AddLearners(GroupRef(sales, ()), refs)))

    assert execution.status == "failed"
    assert (
        execution.users["3"].result == "failed" and execution.users["3"].code == "invalidUpdateOnDeletedUser"
    )
    assert sum(o.result == "done" for o in execution.users.values()) == 11
    assert any(w["path"] == "/api/v2/bulk/groups/memberships" for w in world.writes())
