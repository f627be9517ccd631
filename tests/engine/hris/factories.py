"""Small builders for the HRIS core tests: a config, a file, a snapshot, a plan."""

from __future__ import annotations

from typing import Any

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
    users: tuple[LmsUser, ...] = (),
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
