"""The review's real planner: each revision planned against the customer's test instance.

A reviewer wants to know what merging does to real data, so the head and base
configurations are planned on the same HRIS file (``--input``, or the newest file on the
customer's source) against the same environment's LMS, read live. Both plans read the same
bytes: the file is fetched once per customer and kept, so a file landing on the source
between the two plans cannot make the comparison lie. Nothing is ever written, to the source
or to the LMS; the processed-file ledger is not consulted either, because an already synced
file is exactly the data a mapping change should be judged on.

A planner failure (an unreachable LMS, a secret the pull request's workflow cannot see, an
empty source) surfaces as an ``LmsyncError``; the review records it as a note on that customer
and goes on with the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.lms.target import LmsTarget
from connectors.pgp import decrypt_if_encrypted
from connectors.sources import open_source
from engine.apply import plan_hris_file
from engine.config.models import CustomerConfig
from engine.errors import SourceError
from engine.files.selection import SkipReason, select_files
from engine.hris import DeletionGuardTrippedError, plan_to_json
from engine.review.effect import Planner
from engine.review.planners import EMPTY_PLAN

#: (plain bytes, name the rows are reported under)
_Data = tuple[bytes, str]
#: (definitions fed, groups managed) by the deployed configuration: ``LmsTarget.memory_of``
_Memory = tuple[frozenset[str], frozenset[str]]


def customer_folder(repo: Path, under: list[str], slug: str) -> Path:
    """The folder holding ``<slug>.yaml`` in the checked-out tree: relative source paths and
    ``file:`` secrets of a customer file start there, as they do on the runner."""
    for place in under:
        root = (repo / place) if not Path(place).is_absolute() else Path(place)
        if root.is_file():
            if root.stem == slug:
                return root.parent
            continue
        for suffix in (".yaml", ".yml"):
            found = sorted(root.rglob(f"{slug}{suffix}")) if root.is_dir() else []
            if found:
                return found[0].parent
    return repo


def instance_planner(
    folder_of: Callable[[str], Path],
    *,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Planner:
    """A planner reading the environment's LMS; ``folder_of(slug)`` is the customer file's folder.

    ``environ`` resolves the source's and the key's secrets; the LMS credentials are resolved
    from the process environment, as ``lmsync plan`` does."""
    env_vars = os.environ if environ is None else environ
    fetched: dict[tuple[str, str], _Data] = {}

    def data_for(config: CustomerConfig, input: Path | None, base_dir: Path) -> _Data:
        assert config.hris is not None
        key = (config.customer, str(input) if input is not None else config.hris.source.model_dump_json())
        if key not in fetched:
            raw, name = (
                _read_input(input) if input is not None else _latest(config, base_dir, env_vars, now())
            )
            fetched[key] = decrypt_if_encrypted(
                config.hris.encryption, raw, name, base_dir=base_dir, environ=env_vars
            )
        return fetched[key]

    remembered: dict[tuple[str, str, str], _Memory] = {}

    def memory(
        target: LmsTarget, config: CustomerConfig, env: str, deployed: CustomerConfig | None
    ) -> _Memory:
        """The deployed configuration's memory on the instance ``config`` plans against, read
        once for both revisions (unless the pull request points them at different LMSs)."""
        if deployed is None or deployed.hris is None:
            return frozenset(), frozenset()
        key = (deployed.customer, env, str(config.environments[env].lms.url))
        if key not in remembered:
            remembered[key] = target.memory_of(deployed.hris)
        return remembered[key]

    def plan(
        config: CustomerConfig, env: str, input: Path | None, *, deployed: CustomerConfig | None = None
    ) -> Mapping[str, Any]:
        if config.hris is None:
            return EMPTY_PLAN
        base_dir = folder_of(config.customer)
        data, name = data_for(config, input, base_dir)
        with LmsTarget.from_config(config, env, base_dir=base_dir) as target:
            fed, managed = memory(target, config, env, deployed)
            try:
                planned = plan_hris_file(
                    config,
                    data,
                    file_name=name,
                    target=target,
                    previous_custom_fields=fed,
                    previous_groups=managed,
                ).plan
            except DeletionGuardTrippedError as exc:  # the review shows what the guard would stop
                planned = exc.plan
        return plan_to_json(planned, show_personal_data=config.review.show_personal_data)

    return plan


def _read_input(path: Path) -> tuple[bytes, str]:
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        raise SourceError(
            f"cannot read the input file {path} ({exc.strerror})", hint="check the path given to --input"
        ) from exc


def _latest(config: CustomerConfig, base_dir: Path, environ: Mapping[str, str], now: datetime) -> _Data:
    """The newest file the sync would accept on the customer's source (settled or not: a
    review only reads it)."""
    assert config.hris is not None
    hris = config.hris
    with open_source(hris.source, base_dir=base_dir, environ=environ) as source:
        listing = source.list()
        selection = select_files(listing, hris.file, hris.encryption, now=now, previous=listing)
        candidates = list(selection.selected) + [
            skipped.file for skipped in selection.skipped if skipped.reason is SkipReason.STILL_UPLOADING
        ]
        if not candidates:
            raise SourceError(
                f"no HRIS file on {source.describe()} to plan on",
                hint="give one with --input, or upload the customer's export to the source",
            )
        newest = max(candidates, key=lambda file: (file.mtime, file.name))
        return source.read(newest.name), newest.name
