"""Which files a run takes, end to end through ``sync_files`` (a folder source, real gpg):
without required encryption an encrypted file is left alone, whatever its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.files import SkipReason
from tests.engine.sync.helpers import SyncWorld, make_world, people
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.sandbox import SandboxHandle

pytestmark = pytest.mark.integration


@pytest.fixture
def world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncWorld]:
    built = make_world(sandbox, tmp_path, monkeypatch)
    yield built
    built.store.close()


def test_without_required_encryption_encrypted_files_are_not_synchronized(
    world: SyncWorld, gpg_keys: GpgKeys
) -> None:
    world.drop("hris-1.csv.pgp", gpg_keys.encrypt(people(("1", "Engineer"))), minutes_ago=30)
    world.drop("hris-2.csv", gpg_keys.encrypt(people(("2", "Engineer"))), minutes_ago=20)  # plain name
    world.drop("hris-3.csv", people(("3", "Engineer")), minutes_ago=10)

    _, outcome = world.sync()

    assert outcome.status == "succeeded", outcome.error
    assert sorted(world.managed()) == ["3"]
    # By its name, at selection; by its content, once read.
    assert {s.file.name: s.reason for s in outcome.left_alone} == {
        "hris-1.csv.pgp": SkipReason.ENCRYPTED_NOT_EXPECTED
    }
    by_file = {f.name: (f.status, f.detail or "") for f in outcome.files}
    assert by_file["hris-2.csv"][0] == "skipped"
    assert by_file["hris-2.csv"][1].startswith(SkipReason.ENCRYPTED_NOT_EXPECTED)
    assert [e.file_name for e in world.store.ledger_entries("acme")] == ["hris-3.csv"]
