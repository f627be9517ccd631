"""Planners the review can use until the test-instance planner is wired in.

``lmsync diff`` plans the head and base configurations through a ``Planner`` callable (see
``effect.py``). The one here needs no network: it plans an HRIS file given with ``--input``
against a snapshot supplied by the caller (an empty test instance by default, where every
active row is a creation), or returns a plan JSON file as it is. The planner that reads the
customer's latest source file and the test instance's real state is injected by the caller.

This module must never talk to a target or a source: everything it plans is given to it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config.models import CustomerConfig, Hris
from engine.errors import PlanError
from engine.hris import (
    DeletionGuardTrippedError,
    LmsGroup,
    Snapshot,
    plan_sync,
    plan_to_json,
)
from engine.hris.columnar import plan_input
from engine.hris.groups import deployed_memory
from engine.review.effect import Planner

#: What a customer without an HRIS sync plans: nothing.
EMPTY_PLAN: Mapping[str, Any] = {
    "version": 1,
    "summary": {},
    "changes": [],
    "problems": [],
    "guard": {"deletions": 0, "allowed": 0, "tripped": False},
}


def _plan_json_file(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: not a readable plan JSON file: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1 or "summary" not in data:
        raise PlanError(
            f"{path}: not a plan JSON (version 1 with a summary)",
            hint="produce it with `lmsync plan --format json`, or give the HRIS file itself",
        )
    return data


def empty_instance(hris: Hris) -> Snapshot:
    """A test instance holding only the groups the configuration names, and no user."""
    names = {rule.group: f"rule group {rule.group}" for rule in hris.groups.rules}
    names[hris.group] = "synchronized group"
    return Snapshot(groups=tuple(LmsGroup(gid, name) for gid, name in names.items()))


def file_planner(snapshot: Snapshot | None = None) -> Planner:
    """A planner of the ``--input`` file against ``snapshot`` (default: ``empty_instance``).

    A ``.json`` input is taken as an already computed plan and returned as is, so the same
    plan stands for both revisions (the review then shows the head plan, not a difference).
    """

    def plan(
        config: CustomerConfig, env: str, input: Path | None, *, deployed: CustomerConfig | None = None
    ) -> Mapping[str, Any]:
        if config.hris is None:
            return EMPTY_PLAN
        if input is None:
            raise PlanError(
                "no data to plan on",
                hint="give an HRIS file with --input, or wire the test-instance planner",
            )
        if input.suffix == ".json":
            return _plan_json_file(input)
        try:
            data = input.read_bytes()
        except OSError as exc:
            raise PlanError(f"cannot read the input file {input}: {exc.strerror}") from exc
        hris = config.hris

        def instance(_: Collection[str]) -> Snapshot:
            current = snapshot if snapshot is not None else empty_instance(hris)
            if deployed is not None and deployed.hris is not None:
                fed, managed = deployed_memory(deployed.hris, current.groups, current.custom_fields)
                current = replace(current, previous_custom_fields=fed, previous_groups=managed)
            return current

        # The same entry as a sync's, so a review plans the file exactly as the sync will.
        desired, current = plan_input(data, file_name=input.name, config=hris, snapshot_of=instance)
        try:
            planned = plan_sync(desired, current, hris)
        except DeletionGuardTrippedError as exc:  # a dry run still shows what the guard stopped
            planned = exc.plan
        return plan_to_json(planned, show_personal_data=config.review.show_personal_data)

    return plan
