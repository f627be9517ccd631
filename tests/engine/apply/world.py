"""A customer, a sandbox LMS and a state store, wired together for apply tests.

``ApplyWorld`` holds a fresh sandbox (real HTTP) with the synchronized group ``Acme`` under
the platform group, a SQLite state store in ``tmp_path`` and the environment variables the
customer file's secret references name. ``apply(text)`` runs ``apply_hris_file`` under a new
run (or the given one) exactly as ``lmsync apply`` does; ``managed()`` reads the sandbox's
state back as ``uniqueId → user``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.lms.target import LmsTarget
from engine.apply import FileOutcome, apply_hris_file, plan_hris_file
from engine.config.models import CustomerConfig
from engine.console import SilentReporter
from engine.hris import DeletionGuardTrippedError, Plan
from engine.state import StateStore
from tests.fixtures.sandbox import SandboxHandle

ROOT = "acme-root"
PLATFORM = "lmsync-hris"
ID_ENV, SECRET_ENV = "LMSYNC_TEST_LMS_ID", "LMSYNC_TEST_LMS_SECRET"

#: The mapping most tests use: profile fields, a manager, a custom field, a two-level hierarchy.
HRIS: dict[str, Any] = {
    "source": {"type": "folder", "path": "inbox"},
    "file": {"prefix": "hris", "extension": "csv"},
    "group": ROOT,
    "admin": "sa@acme.example",
    "silent": True,
    "fields": {"firstName": "first_name", "lastName": "last_name", "title": "title", "managerId": "manager"},
    "custom_fields": {"location": "Location"},
    "groups": {"hierarchy": ["country", "site"]},
    "safety": {"max_deletions": 1000},
}

HEADER = "uniqueId,status,email,firstName,lastName,title,managerId,location,country,site"


def row(uid: str, *, status: str = "Active", title: str = "Engineer", manager: str = "", **cells: str) -> str:
    """One CSV row of ``HEADER``; e-mail and names derive from the uniqueId unless given."""
    values = {
        "email": f"user{uid}@acme.example",
        "firstName": f"First{uid}",
        "lastName": f"Last{uid}",
        "location": "HQ",
        "country": "France",
        "site": "Paris",
        **cells,
    }
    return ",".join(
        [
            uid,
            status,
            values["email"],
            values["firstName"],
            values["lastName"],
            title,
            manager,
            values["location"],
            values["country"],
            values["site"],
        ]
    )


def csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApplyWorld:
    sandbox: SandboxHandle
    store: StateStore
    tmp: Path
    state_url: str
    hris: dict[str, Any] = field(default_factory=lambda: dict(HRIS))
    customer: str = "acme"

    def config_data(self, **hris: Any) -> dict[str, Any]:
        return {
            "version": 1,
            "customer": self.customer,
            "environments": {
                "test": {
                    "lms": {
                        "url": self.sandbox.url,
                        "client_id": f"env:{ID_ENV}",
                        "client_secret": f"env:{SECRET_ENV}",
                    }
                }
            },
            "hris": {**self.hris, **hris},
        }

    def config(self, **hris: Any) -> CustomerConfig:
        return CustomerConfig.model_validate(self.config_data(**hris))

    def write_config(self, **hris: Any) -> Path:
        """The customer file on disk (``customers/acme.yaml``), for the CLI."""
        folder = self.tmp / "customers"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.customer}.yaml"
        # JSON is YAML: no YAML writer needed to produce a valid customer file.
        path.write_text(json.dumps(self.config_data(**hris), indent=2), encoding="utf-8")
        return path

    def target(self, **client: Any) -> LmsTarget:
        return LmsTarget(self.sandbox.new_client(**client), platform=PLATFORM, root_group=ROOT)

    def plan(self, text: str, config: CustomerConfig | None = None, **kwargs: Any) -> Plan:
        try:
            return plan_hris_file(
                config or self.config(),
                text.encode(),
                file_name="hris-test.csv",
                target=self.target(),
                **kwargs,
            ).plan
        except DeletionGuardTrippedError as exc:
            return exc.plan

    def apply(
        self,
        text: str,
        config: CustomerConfig | None = None,
        *,
        run_id: str | None = None,
        target: LmsTarget | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        **kwargs: Any,
    ) -> FileOutcome:
        run_id = run_id or self.store.start_run(self.customer, "test", "apply", now=now())
        outcome = apply_hris_file(
            config or self.config(),
            "test",
            text.encode(),
            file_name="hris-test.csv",
            store=self.store,
            run_id=run_id,
            reporter=SilentReporter(),
            target=target or self.target(),
            stop_requested=stop_requested,
            **kwargs,
        )
        self.store.finish_run(run_id, outcome.status, counts=outcome.counts, now=now())
        return outcome

    # --- reading the sandbox back ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return self.sandbox.admin.state()

    def managed(self) -> dict[str, dict[str, Any]]:
        """uniqueId → user object, through our platform's external ids."""
        state = self.state()
        users = {u["_id"]: u for u in state["users"]}
        return {e["value"]: users[e["targetId"]] for e in state["externalIds"] if e["platform"] == PLATFORM}

    def learner_groups(self, user_id: str) -> set[str]:
        """Names (path below the platform) of the groups where ``user_id`` is learner."""
        state = self.state()
        groups = {g["_id"]: g for g in state["groups"]}

        def name(gid: str) -> str:
            parts = []
            while gid in groups and groups[gid]["parentId"] is not None:
                parts.append(groups[gid]["name"])
                gid = groups[gid]["parentId"]
            return "/".join(reversed(parts))

        return {
            name(r["groupId"]) for r in state["roles"] if r["userId"] == user_id and r["role"] == "learner"
        }

    def writes(self) -> list[dict[str, Any]]:
        return self.sandbox.admin.write_requests()


def make_world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ApplyWorld:
    monkeypatch.setenv(ID_ENV, sandbox.client_id)
    monkeypatch.setenv(SECRET_ENV, sandbox.client_secret)
    sandbox.admin.seed(groups=[{"_id": ROOT, "name": "Acme", "parentId": sandbox.platform_group_id}])
    state_url = f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"
    return ApplyWorld(sandbox, StateStore.open(state_url), tmp_path, state_url)
