"""``LmsTarget`` against the sandbox: the snapshot's cost and content, references, idempotence."""

from __future__ import annotations

import pytest

from connectors.lms import pages
from connectors.lms.target import LmsTarget
from engine.cli.main import main
from engine.config.models import CustomerConfig, Hris
from engine.errors import ConfigError, SecretError, TargetNotFoundError
from engine.hris.actions import CreateCustomField, CreateGroup, GroupRef, LinkExternalId, UserRef
from engine.hris.columnar import SnapshotColumns
from tests.engine.apply.world import PLATFORM, ROOT, ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def hris(world: ApplyWorld, **overrides: object) -> Hris:
    config = world.config(**overrides)
    assert config.hris is not None
    return config.hris


def test_snapshot_reads_each_listing_once_per_page_and_roles_only_of_managed_groups(
    world: ApplyWorld,
) -> None:
    world.sandbox.admin.configure(page_sizes={"users": 4, "external-ids": 4, "groups": 4})
    world.apply(csv(*(row(str(i), site=("Paris", "Lyon", "Nice")[i % 3]) for i in range(9))))
    world.sandbox.admin.seed(groups=[{"name": "Elsewhere", "parentId": world.sandbox.platform_group_id}])
    world.sandbox.admin.reset_requests()

    snapshot = world.target().snapshot(hris(world))

    gets = [r["path"] for r in world.sandbox.admin.requests() if r["method"] == "GET"]
    groups = {g["name"]: g["_id"] for g in world.state()["groups"]}
    assert gets.count("/api/v2/users") == 3  # 9 users, 4 per page
    assert gets.count("/api/v2/external-ids") == 3
    assert gets.count("/api/v2/custom-fields") == 1
    assert gets.count("/api/v2/groups") == 2  # 7 groups
    roles = sorted(p.split("/")[4] for p in gets if p.endswith("/roles"))
    assert roles == sorted([ROOT, groups["France"], groups["Paris"], groups["Lyon"], groups["Nice"]])
    assert len(gets) == 3 + 3 + 1 + 2 + 5  # nothing per user
    assert len(snapshot.users) == 9 and len(snapshot.external_ids) == 9
    assert groups["Elsewhere"] not in snapshot.groups_by_id
    managed = world.managed()
    assert snapshot.learners[groups["Lyon"]] == {managed[uid]["_id"] for uid in ("1", "4", "7")}
    assert snapshot.learners[groups["France"]] == frozenset()  # learners of the leaf only
    assert len(snapshot.learners[ROOT]) == 9
    # Every listing names a user with that user's own id string (one string per user, not three).
    own = {user.id: user.id for user in snapshot.users}
    assert all(link.user_id is own[link.user_id] for link in snapshot.external_ids)
    assert all(member is own[member] for member in snapshot.learners[ROOT])
    assert len({id(user.job) for user in snapshot.users}) == 1  # "Engineer" held once


def test_snapshot_keeps_only_linked_users_and_those_whose_email_the_file_has(world: ApplyWorld) -> None:
    world.apply(csv(row("1")))
    world.sandbox.admin.seed(users=[{"mail": "Stranger@Acme.example"}, {"mail": "other@acme.example"}])

    snapshot = world.target().snapshot(hris(world), emails={"stranger@acme.example"})

    assert sorted(u.mail for u in snapshot.users) == ["Stranger@Acme.example", "user1@acme.example"]
    assert len(world.target().snapshot(hris(world)).users) == 3  # without a filter: everyone


@pytest.mark.parametrize("emails", [None, {"stranger@acme.example", "user3@acme.example"}])
def test_a_listing_decoded_natively_is_the_same_snapshot_with_its_columns(
    world: ApplyWorld, monkeypatch: pytest.MonkeyPatch, emails: set[str] | None
) -> None:

    world.sandbox.admin.configure(page_sizes={"users": 2})
    rows = (row(str(i), site=("Paris", "Lyon")[i % 2], manager="0" if i else "") for i in range(7))
    world.apply(csv(*rows))
    world.sandbox.admin.seed(users=[{"mail": "Stranger@Acme.example"}, {"mail": "SA@acme.example"}])
    config = hris(world)
    monkeypatch.setattr(pages, "NATIVE_AFTER_PAGES", 100)
    by_json = world.target()
    expected = by_json.snapshot(config, emails=emails)
    monkeypatch.setattr(pages, "NATIVE_AFTER_PAGES", 0)
    native = world.target()

    snapshot = native.snapshot(config, emails=emails)

    assert snapshot.users == expected.users and snapshot.external_ids == expected.external_ids
    assert snapshot.learners == expected.learners
    assert native.admin_problem() == by_json.admin_problem()
    assert expected.columnar is None and isinstance(snapshot.columnar, SnapshotColumns)
    assert snapshot.columnar.users.equals(SnapshotColumns(expected).users)
    assert snapshot.columnar.custom.equals(SnapshotColumns(expected).custom)


def test_users_and_groups_of_an_earlier_attempt_are_found_again(world: ApplyWorld) -> None:
    world.apply(csv(row("1")))
    target = world.target()
    target.snapshot(hris(world))
    user_id = world.managed()["1"]["_id"]
    paris = next(g["_id"] for g in world.state()["groups"] if g["name"] == "Paris")

    assert target.user_id(UserRef("1", None)) == user_id  # through its external id
    assert target.group_id(GroupRef(None, ("France", "Paris"))) == paris  # through its path
    with pytest.raises(TargetNotFoundError) as missing:
        target.user_id(UserRef("404", None))
    assert missing.value.code == "unresolved_user"
    with pytest.raises(TargetNotFoundError):
        target.group_id(GroupRef(None, ("France", "Nowhere")))


def test_creations_already_made_are_taken_not_repeated(world: ApplyWorld) -> None:
    world.apply(csv(row("1")))
    target = world.target()
    target.snapshot(hris(world))
    world.sandbox.admin.reset_requests()

    field = target.create_custom_field(CreateCustomField("Location", "string"))
    group = target.create_group(CreateGroup(("France",), "France", GroupRef(ROOT, ())))
    link = target.link_external_id(LinkExternalId(UserRef("1", world.managed()["1"]["_id"]), PLATFORM))

    assert field["field_id"] == next(
        f["_id"] for f in world.state()["customFields"] if f["name"] == "Location"
    )
    assert group["existed"] is True and link["existed"] is True
    writes = [(w["method"], w["path"], w["status"]) for w in world.writes()]
    assert writes == [("POST", "/api/v2/custom-fields", 400)]  # refused as taken, then looked up
    assert len(world.state()["groups"]) == 4 and len(world.state()["externalIds"]) == 1


def test_from_config_resolves_credentials_and_names_a_missing_environment(
    world: ApplyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = world.config()
    with LmsTarget.from_config(config, "test") as target:
        assert target.snapshot(hris(world)).groups_by_id[ROOT].name == "Acme"
        assert "secret" not in repr(target).lower()

    with pytest.raises(ConfigError, match="no environment 'production'"):
        LmsTarget.from_config(config, "production")
    monkeypatch.delenv("LMSYNC_TEST_LMS_SECRET")
    with pytest.raises(SecretError, match=r"environments\.test\.lms\.client_secret"):
        LmsTarget.from_config(config, "test")
    without = CustomerConfig.model_validate({**world.config_data(), "hris": None})
    with pytest.raises(ConfigError, match="no `hris` section"):
        LmsTarget.from_config(without, "test")


# --- the connector administrator (hris.admin) ---------------------------------------------------


def _admin_account(world: ApplyWorld, *roles: tuple[str, str]) -> None:
    """sa@acme.example, the world's hris.admin, with the given (group, role) pairs."""
    world.sandbox.admin.seed(
        users=[{"mail": "sa@acme.example", "roles": [{"groupId": g, "role": r} for g, r in roles]}]
    )


@pytest.mark.parametrize(
    ("roles", "problem"),
    [
        ((), "has no active account in this LMS"),
        ((("platform", "learner"), (ROOT, "learner")), "is not an administrator of the synchronized group"),
        (((ROOT, "admin"),), None),
        ((("platform", "admin"),), None),  # an admin of a group above it administers it too
    ],
)
def test_the_snapshot_says_whether_hris_admin_can_administer_the_group(
    world: ApplyWorld, roles: tuple[tuple[str, str], ...], problem: str | None
) -> None:
    if roles:
        platform = world.sandbox.platform_group_id
        _admin_account(world, *((platform if g == "platform" else g, r) for g, r in roles))
    target = world.target()
    target.snapshot(hris(world))
    found = target.admin_problem()
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert "sa@acme.example" not in found  # the address is never printed


def test_plan_warns_about_hris_admin_and_still_plans(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    config = world.write_config()
    data = world.tmp / "hris-test.csv"
    data.write_text(csv(row("1")))
    code = main(["plan", str(config), "--env", "test", "--input", str(data), "--state", world.state_url])
    captured = capsys.readouterr()
    assert code == 2 and "1 to create" in captured.out
    assert "hris-test.csv: hris.admin (the connector administrator) has no active account" in captured.err
