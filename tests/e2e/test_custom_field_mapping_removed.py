"""A custom field mapping or a group rule removed from the customer file: what the sync does,
and what the pull-request review says it will do, must agree: in words, and in the data
effect the review plans on the test instance (real HTTP), which must be the very plan the
next sync carries out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from engine.config.models import CustomerConfig
from engine.hris import plan_to_json
from engine.review.instance import instance_planner
from engine.review.wording import describe_change
from tests.engine.apply.world import ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def review_plan(
    world: ApplyWorld, text: str, head: CustomerConfig, base: CustomerConfig
) -> Mapping[str, Any]:
    """The head plan of ``lmsync diff``'s data effect, on ``text`` against the sandbox."""
    data = world.tmp / "review-input.csv"
    data.write_text(text, encoding="utf-8")
    return instance_planner(lambda slug: world.tmp)(head, "test", data, deployed=base)


def test_removing_a_custom_field_mapping_removes_its_values_and_the_review_says_so(
    world: ApplyWorld,
) -> None:
    text = csv(row("1"), row("2"))
    world.apply(text)
    assert all(u["customFields"] for u in world.managed().values())

    without = world.config(custom_fields={})
    world.sandbox.admin.reset_requests()
    reviewed = review_plan(world, text, without, world.config())
    assert world.writes() == [], "a review must never write to the test instance"
    assert reviewed["summary"]["update"] == 2
    assert {name for change in reviewed["changes"] for name in change["fields"]} == {"custom:Location"}

    synced = world.apply(text, without)

    assert [u["customFields"] for u in world.managed().values()] == [[], []]
    assert plan_to_json(synced.plan) == reviewed
    (phrase,) = [p for p in describe_change(world.config(), without) if "custom field" in p]
    assert "removed from the synced users" in phrase


def test_removing_a_group_rule_takes_back_its_roles_and_the_review_says_so(world: ApplyWorld) -> None:
    seeded = world.sandbox.admin.seed(
        groups=[{"name": "Sellers", "parentId": world.sandbox.platform_group_id}]
    )
    sellers = seeded["groups"][0]["_id"]
    with_rule = world.config(groups={"rules": [{"when": {"title": ["Seller"]}, "group": sellers}]})
    text = csv(row("1", title="Seller"))
    world.apply(text, with_rule)
    user = world.managed()["1"]["_id"]
    assert "Sellers" in world.learner_groups(user)

    without = world.config(groups={})
    reviewed = review_plan(world, text, without, with_rule)
    assert [change["groups"]["remove"] for change in reviewed["changes"]] == [["Sellers"]]

    synced = world.apply(text, without)

    assert "Sellers" not in world.learner_groups(user)
    assert plan_to_json(synced.plan) == reviewed
    (phrase,) = [p for p in describe_change(with_rule, without) if "group rule" in p]
    assert phrase.startswith("group rule removed:") and "taken back at the next sync" in phrase
