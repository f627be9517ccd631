"""Small builders for the HRIS core tests: a config, a file, a snapshot, a plan."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from connectors.lms import pages
from engine.config.models import FileNaming, Hris
from engine.hris import (
    DesiredState,
    ExternalId,
    LmsGroup,
    LmsUser,
    Plan,
    Snapshot,
    build_desired,
    plan_sync,
    read_rows,
)

ROOT_ID = "g-root"
ROOT = LmsGroup(ROOT_ID, "Acme")


def hris_config(**overrides: Any) -> Hris:
    base: dict[str, Any] = {
        "source": {"type": "folder", "path": "inbox"},
        "group": ROOT_ID,
        "admin": "sa@acme.example",
        "safety": {"max_deletions": 1000},
    }
    base.update(overrides)
    return Hris.model_validate(base)


def desired_from(text: str, config: Hris | None = None, **naming: Any) -> DesiredState:
    hris_file = read_rows(text.encode("utf-8"), file_name="hris-test.csv", naming=FileNaming(**naming))
    return build_desired(hris_file, config or hris_config())


def snapshot(
    users: Sequence[LmsUser] = (),
    links: dict[str, str] | None = None,
    groups: tuple[LmsGroup, ...] = (ROOT,),
    learners: dict[str, set[str]] | None = None,
    **extra: Any,
) -> Snapshot:
    """``links``: uniqueId → user id; ``learners``: group id → user ids."""
    return Snapshot(
        users=users,
        external_ids=tuple(ExternalId(user_id, uid) for uid, user_id in (links or {}).items()),
        groups=groups,
        learners={gid: frozenset(ids) for gid, ids in (learners or {}).items()},
        **extra,
    )


def plan_of(text: str, snap: Snapshot, config: Hris | None = None, **kwargs: Any) -> Plan:
    config = config or hris_config()
    return plan_sync(desired_from(text, config), snap, config, **kwargs)


def action_types(plan: Plan) -> list[str]:
    return [type(action).__name__ for action in plan.actions]


def held_snapshot(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its users held in columns, as the LMS adapter reads a big listing:
    the users written as ``/api/v2/users`` pages, decoded natively (no polars: as they are)."""
    try:
        import polars  # noqa: F401, PLC0415
    except ImportError:
        return snapshot
    items = [
        {
            "_id": user.id, "mail": user.mail, "status": user.status, "firstName": user.first_name,
            "lastName": user.last_name, "organization": user.organization, "job": user.job,
            "lang": user.lang, "managers": list(user.managers),
            "customFields": [
                {"customFieldId": value.field_id, "type": value.type, "value": value.value}
                for value in user.custom_fields
            ],
        }
        for user in snapshot.users
    ]  # fmt: skip
    listing = [json.dumps(items[at : at + 3]).encode() for at in range(0, len(items), 3)]
    read = pages._NativeRead(pages.SnapshotValues(), pages.UserFilter(set(), None, "")).read(listing)
    return dataclasses.replace(snapshot, users=read.users)
