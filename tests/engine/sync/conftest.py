"""The ``sync_world`` fixture: a sandbox LMS, a state store and a customer with a folder source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.sync.helpers import SyncWorld, make_world
from tests.fixtures.sandbox import SandboxHandle


@pytest.fixture
def sync_world(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SyncWorld]:
    world = make_world(sandbox, tmp_path, monkeypatch)
    yield world
    world.store.close()
