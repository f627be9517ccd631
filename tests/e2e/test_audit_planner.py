"""Planner bugs found by the audit, for the owner of ``engine/hris`` to fix.

Each test states a rule the plan used to break. They were marked ``xfail(strict=True)``
until the planner was fixed; the marks went with the fixes.
"""

from __future__ import annotations

import pytest

from tests.engine.apply.world import ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def test_two_new_rows_with_the_same_email_are_reported_by_the_plan_not_refused_by_the_lms(
    world: ApplyWorld,
) -> None:
    text = csv(row("1", email="same@acme.example"), row("2", email="same@acme.example"))

    plan = world.plan(text)
    outcome = world.apply(text)

    # The plan sees the clash: at most one creation, the other row(s) reported with a code.
    assert plan.summary.create <= 1
    assert {p.code for p in plan.problems} & {"email_in_use", "duplicated", "duplicated_email"}
    # And what it promised is what happens: no action fails at the LMS.
    assert outcome.status == "succeeded", outcome.problems
    assert all(r["code"] != "mailAlreadyUsed" for r in outcome.report)
    assert world.managed() == {}
    assert [(r["unique_id"], r["action"], r["code"]) for r in outcome.report] == [
        ("1", "ignored", "duplicated_email"),
        ("2", "ignored", "duplicated_email"),
    ]


def test_a_row_asking_for_the_email_another_managed_user_keeps_is_skipped_whole(world: ApplyWorld) -> None:
    world.apply(csv(row("1"), row("2")))
    before = world.managed()

    # Row 2 now asks for user 1's address, and a new title: user 1 keeps both, 2 is untouched.
    text = csv(row("1"), row("2", title="CTO", email="user1@acme.example"))
    plan = world.plan(text)
    outcome = world.apply(text)

    assert plan.is_empty and [(p.line, p.code) for p in plan.problems] == [(3, "email_in_use")]
    assert outcome.status == "succeeded"
    assert world.managed() == before
    # The run log says the row was set aside, not synced with its e-mail left as is.
    assert [(r["unique_id"], r["action"], r["result"]) for r in outcome.report] == [
        ("2", "ignored", "ignored")
    ]


def test_a_rule_removed_from_the_customer_file_takes_back_the_learner_roles_it_gave(
    world: ApplyWorld,
) -> None:
    sales = world.sandbox.admin.seed(
        groups=[{"name": "Sales academy", "parentId": world.sandbox.platform_group_id}]
    )
    sales_id = sales["groups"][0]["_id"]
    with_rule = world.config(groups={"rules": [{"when": {"title": ["Seller"]}, "group": sales_id}]})
    text = csv(row("1", title="Seller"))
    world.apply(text, with_rule)
    user = world.managed()["1"]["_id"]
    assert world.learner_groups(user) == {"Acme", "Sales academy"}

    world.apply(text, world.config(groups={}))

    assert world.learner_groups(user) == {"Acme"}


def test_a_shorter_hierarchy_takes_back_the_deeper_roles_and_only_those_it_gave(world: ApplyWorld) -> None:
    text = csv(row("1"), row("2", site="Lyon"))
    world.apply(text)  # creates Acme › France › Paris and Lyon, learners of the leaves
    managed = world.managed()
    paris = next(g["_id"] for g in world.state()["groups"] if g["name"] == "Paris")
    # Someone the connector does not manage is learner of Paris too (added by hand).
    outsider = world.sandbox.admin.seed(
        users=[{"mail": "hand@acme.example", "roles": [{"groupId": paris, "role": "learner"}]}]
    )["users"][0]["_id"]

    shorter = world.config(groups={"hierarchy": ["country"]})
    plan = world.plan(text, shorter)  # without the state store: the former scope is unknown
    outcome = world.apply(text, shorter)

    assert plan.actions and all(change.groups_remove == () for change in plan.changes)
    assert outcome.status == "succeeded", outcome.problems
    assert world.learner_groups(managed["1"]["_id"]) == {"Acme", "Acme/France"}
    assert world.learner_groups(managed["2"]["_id"]) == {"Acme", "Acme/France"}
    assert world.learner_groups(outsider) == {"Acme/France/Paris"}
    # Done is done: the same file and configuration plan nothing the next time.
    again = world.apply(text, shorter)
    assert again.plan.is_empty and again.status == "succeeded"
