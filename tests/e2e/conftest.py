"""The ``world`` fixture: a sandbox LMS, a state store and a customer for apply tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.apply.world import ApplyWorld, make_world
from tests.fixtures.sandbox import SandboxHandle


@pytest.fixture
def world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApplyWorld]:
    built = make_world(sandbox, tmp_path, monkeypatch)
    yield built
    built.store.close()
