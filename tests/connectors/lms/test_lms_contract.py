"""The client against the sandbox over real HTTP: every endpoint, happy and error paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.lms import LmsClient, Membership
from connectors.lms.bulk import run_bulk
from engine.errors import TargetAuthError, TargetConflictError, TargetError, TargetNotFoundError

pytestmark = pytest.mark.integration


def test_create_get_update_delete_restore_user(sandbox: Any) -> None:
    client, pg = sandbox.client, sandbox.platform_group_id
    user, restored = client.create_user("ada@example.com", pg, first_name="Ada", lang="en", job="Engineer")
    assert not restored and user["status"] == "active"
    assert client.get_user(user["_id"])["firstName"] == "Ada"

    updated = client.update_user(user["_id"], {"lastName": "Lovelace", "job": None})
    assert (updated["lastName"], updated["job"]) == ("Lovelace", None)

    client.delete_user(user["_id"])
    assert client.get_user(user["_id"])["status"] == "deleted"
    assert client.user_roles(user["_id"]) == []

    again, restored = client.create_user("ada@example.com", pg)
    assert restored and again["_id"] == user["_id"] and again["status"] == "active"


def test_invitation_only_when_asked(sandbox: Any) -> None:
    pg = sandbox.platform_group_id
    silent, _ = sandbox.client.create_user("silent@example.com", pg, send_invitation=False)
    loud, _ = sandbox.client.create_user("loud@example.com", pg, send_invitation=True)
    assert (silent["status"], loud["status"]) == ("active", "invited")
    assert [i["userId"] for i in sandbox.admin.invitations()] == [loud["_id"]]


def test_user_filters_and_inline_values(sandbox: Any) -> None:
    seeded = sandbox.admin.seed(
        custom_fields=[{"name": "Site", "type": "string"}],
        users=[{"mail": "a@example.com"}, {"mail": "b@example.com", "status": "deleted"}],
    )
    field_id = seeded["customFields"][0]["_id"]
    a, b = (u["_id"] for u in seeded["users"])
    sandbox.client.put_custom_values(a, [{"customFieldId": field_id, "type": "string", "value": "Paris"}])
    sandbox.client.add_manager(
        a, sandbox.client.create_user("m@example.com", sandbox.platform_group_id)[0]["_id"]
    )

    assert [u["_id"] for u in sandbox.client.iter_users(status="deleted")] == [b]
    (found,) = sandbox.client.iter_users(mail="A@example.com")
    assert found["customFields"] == [{"customFieldId": field_id, "type": "string", "value": "Paris"}]
    assert len(found["managers"]) == 1
    assert sandbox.client.find_user_by_mail("nobody@example.com") is None


def test_managers(sandbox: Any) -> None:
    pg = sandbox.platform_group_id
    user, _ = sandbox.client.create_user("u@example.com", pg)
    boss, _ = sandbox.client.create_user("boss@example.com", pg)
    sandbox.client.add_manager(user["_id"], boss["_id"])
    sandbox.client.add_manager(user["_id"], boss["_id"])  # idempotent
    assert sandbox.client.list_managers(user["_id"]) == [boss["_id"]]
    sandbox.client.remove_manager(user["_id"], boss["_id"])
    assert sandbox.client.list_managers(user["_id"]) == []


def test_groups_roles_and_learner_cascade(sandbox: Any) -> None:
    client, pg = sandbox.client, sandbox.platform_group_id
    acme = client.create_group("Acme", pg)
    france = client.create_group("France", acme["_id"], public=True)
    paris = client.create_group("Paris", france["_id"], public=True)
    private = client.create_group("Board", acme["_id"], public=False)
    assert client.get_group(paris["_id"])["parentId"] == france["_id"]
    assert {g["name"] for g in client.iter_groups()} == {"Platform", "Acme", "France", "Paris", "Board"}

    user, _ = client.create_user("u@example.com", acme["_id"])
    for group in (france, paris, private):
        client.add_role(group["_id"], "learner", user["_id"])
    client.add_role(acme["_id"], "coach", user["_id"])
    assert {"userId": user["_id"], "role": "coach"} in client.group_roles(acme["_id"])
    assert client.group_roles(paris["_id"]) == [{"userId": user["_id"], "role": "learner"}]

    client.remove_role(acme["_id"], "learner", user["_id"])
    remaining = {(r["groupId"], r["role"]) for r in client.user_roles(user["_id"])}
    assert remaining == {(private["_id"], "learner"), (acme["_id"], "coach")}


def test_bulk_memberships_report_per_item(sandbox: Any) -> None:
    client = sandbox.client
    group = client.create_group("Sales", sandbox.platform_group_id)
    users = sandbox.admin.seed(users=[{"mail": f"u{i}@example.com"} for i in range(5)])["users"]
    items = [Membership(u["_id"], group["_id"]) for u in users] + [Membership("missing", group["_id"])]

    added = client.bulk_memberships("add", items)
    assert [r.ok for r in added] == [True] * 5 + [False]
    assert added[-1].error is not None and "userNotFound" in added[-1].error
    assert len(client.group_roles(group["_id"])) == 5

    removed = client.bulk_memberships("remove", items[:2])
    assert all(r.ok for r in removed) and len(client.group_roles(group["_id"])) == 3


def test_bulk_chunks_beyond_the_item_limit(sandbox: Any) -> None:
    group = sandbox.client.create_group("G", sandbox.platform_group_id)
    users = sandbox.admin.seed(users=[{"mail": f"u{i}@example.com"} for i in range(7)])["users"]
    items = [Membership(u["_id"], group["_id"]) for u in users]
    results = run_bulk(sandbox.client._http, "add", items, chunk_size=2)
    assert [r.membership for r in results] == items and all(r.ok for r in results)
    assert len(sandbox.admin.state()["bulkOperations"]) == 4


def test_custom_fields_and_values_replace_all(sandbox: Any) -> None:
    client = sandbox.client
    site = client.create_custom_field("Site")
    hired = client.create_custom_field("Hire date", "date")
    assert [f["name"] for f in client.iter_custom_fields()] == ["Site", "Hire date"]
    user, _ = client.create_user("u@example.com", sandbox.platform_group_id)
    client.put_custom_values(
        user["_id"],
        [
            {"customFieldId": site["_id"], "type": "string", "value": "Lyon"},
            {"customFieldId": hired["_id"], "type": "date", "value": "2024-02-29"},
        ],
    )
    client.put_custom_values(
        user["_id"], [{"customFieldId": hired["_id"], "type": "date", "value": "2024-03-01"}]
    )
    assert client.get_custom_values(user["_id"]) == [
        {"customFieldId": hired["_id"], "type": "date", "value": "2024-03-01"}
    ]


def test_external_ids(sandbox: Any) -> None:
    client = sandbox.client
    a, _ = client.create_user("a@example.com", sandbox.platform_group_id)
    b, _ = client.create_user("b@example.com", sandbox.platform_group_id)
    client.create_external_id(a["_id"], "hris", "E1")
    client.create_external_id(b["_id"], "hris", "E2")
    client.create_external_id(b["_id"], "other", "E1")
    assert [e["targetId"] for e in client.iter_external_ids("hris")] == [a["_id"], b["_id"]]
    assert [e["targetId"] for e in client.iter_external_ids("hris", "E2")] == [b["_id"]]


def test_courses_and_stats_window(sandbox: Any) -> None:
    seeded = sandbox.admin.seed(
        users=[{"mail": "l@example.com"}],
        courses=[
            {"name": "Onboarding", "tags": ["hr"], "duration": 30},
            {"name": "Old", "status": "archived"},
        ],
    )
    course, uid = seeded["courses"][0]["_id"], seeded["users"][0]["_id"]
    sandbox.admin.seed(
        course_stats=[
            {"courseId": course, "userId": uid, "progress": 100, "completedAt": "2024-05-01T23:59:59Z"},
            {"courseId": course, "userId": uid, "progress": 100, "completedAt": "2024-05-02T00:00:00+02:00"},
            {"courseId": course, "userId": uid, "progress": 40, "completedAt": None},
        ]
    )
    courses = list(sandbox.client.iter_courses())
    assert [(c["name"], c["status"], c["tags"]) for c in courses] == [
        ("Onboarding", "published", ["hr"]),
        ("Old", "archived", []),
    ]
    stats = list(sandbox.client.iter_course_stats("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"))
    # 2024-05-02T00:00+02:00 is 2024-05-01T22:00Z: inside the window too.
    assert len(stats) == 2 and all(s["progress"] == 100 for s in stats)


# --- error paths: status -> error type -> API code --------------------------------------------

Case = Callable[[LmsClient, dict[str, Any]], object]

ERROR_CASES: list[tuple[str, Case, type[TargetError], int, str]] = [
    ("unknown user", lambda c, w: c.get_user("0" * 24), TargetNotFoundError, 404, "userNotFound"),
    (
        "invalid mail",
        lambda c, w: c.create_user("not-a-mail", w["pg"]),
        TargetConflictError,
        400,
        "mailInvalid",
    ),
    (
        "mail taken",
        lambda c, w: c.create_user("taken@example.com", w["pg"]),
        TargetConflictError,
        400,
        "mailAlreadyUsed",
    ),
    (
        "unknown group",
        lambda c, w: c.create_user("n@example.com", "nope"),
        TargetNotFoundError,
        404,
        "groupNotFound",
    ),
    (
        "bad lang",
        lambda c, w: c.create_user("n@example.com", w["pg"], lang="xx"),
        TargetConflictError,
        400,
        "langInvalid",
    ),
    (
        "deleted user",
        lambda c, w: c.update_user(w["deleted"], {"job": "x"}),
        TargetConflictError,
        400,
        "invalidUpdateOnDeletedUser",
    ),
    ("no parent", lambda c, w: c.create_group("G", "nope"), TargetNotFoundError, 404, "parentGroupNotFound"),
    ("field taken", lambda c, w: c.create_custom_field("Site"), TargetConflictError, 400, "nameAlreadyTaken"),
    (
        "ext id taken",
        lambda c, w: c.create_external_id(w["taken"], "hris", "E1"),
        TargetConflictError,
        400,
        "valueAlreadyUsed",
    ),
    (
        "bad role",
        lambda c, w: c.add_role(w["pg"], "boss", w["taken"]),
        TargetConflictError,
        400,
        "roleInvalid",
    ),
    (
        "bad field value",
        lambda c, w: c.put_custom_values(w["taken"], [{"customFieldId": "x", "value": "1"}]),
        TargetNotFoundError,
        404,
        "customFieldNotFound",
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error_type", "status", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_error_mapping(
    sandbox: Any, name: str, call: Case, error_type: type[TargetError], status: int, code: str
) -> None:
    seeded = sandbox.admin.seed(
        custom_fields=[{"name": "Site"}],
        users=[{"mail": "taken@example.com"}, {"mail": "gone@example.com", "status": "deleted"}],
    )
    taken, deleted = (u["_id"] for u in seeded["users"])
    sandbox.admin.seed(external_ids=[{"platform": "hris", "targetId": taken, "value": "E1"}])
    world = {"pg": sandbox.platform_group_id, "taken": taken, "deleted": deleted}

    with pytest.raises(error_type) as caught:
        call(sandbox.client, world)
    assert (caught.value.status, caught.value.code, caught.value.transient) == (status, code, False)
    assert code in str(caught.value) and "@" not in str(caught.value)
    assert caught.value.__cause__ is None or not caught.value.__cause__.__module__.startswith("requests")


def test_wrong_credentials_are_an_auth_error_without_the_secret(sandbox: Any) -> None:
    client = LmsClient(sandbox.url, SecretStr(sandbox.client_id), SecretStr("hunter2-wrong"))
    with client, pytest.raises(TargetAuthError) as caught:
        client.get_group(sandbox.platform_group_id)
    assert caught.value.code == "invalid_client" and "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(client) and sandbox.client_secret not in repr(sandbox.client)
