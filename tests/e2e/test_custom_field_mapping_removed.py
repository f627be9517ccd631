"""A custom field mapping removed from the customer file: what the sync does, and what the
pull-request review says it will do, must agree."""

from __future__ import annotations

import pytest

from engine.review.wording import describe_change
from tests.engine.apply.world import ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def test_removing_a_custom_field_mapping_removes_its_values_and_the_review_says_so(
    world: ApplyWorld,
) -> None:
    text = csv(row("1"), row("2"))
    world.apply(text)
    assert all(u["customFields"] for u in world.managed().values())

    without = world.config(custom_fields={})
    world.apply(text, without)

    assert [u["customFields"] for u in world.managed().values()] == [[], []]
    (phrase,) = [p for p in describe_change(world.config(), without) if "custom field" in p]
    assert "removed from the synced users" in phrase
