"""Files in, end to end without the sync: list, select, read, check content, decrypt.

With encryption required, an encrypted file is synchronized whatever its accepted name,
and a plain file is skipped (reported ``not_encrypted``) and never decrypted or synced.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.pgp import open_decryptor
from connectors.sources import open_source
from engine.config.models import Encryption, FileNaming
from engine.config.models import FolderSource as FolderSourceConfig
from engine.files import Skipped, SkipReason, check_content, select_files
from tests.fixtures.gpg import GpgKeys

pytestmark = pytest.mark.integration


def test_required_encryption_skips_plain_files_and_decrypts_the_rest(
    gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    rows = {
        name: f"uniqueId\tstatus\temail\n{i}\tActive\tu{i}@example.com\n".encode()
        for i, name in enumerate("abcd")
    }
    uploads = {
        "hris-a.tsv.pgp": gpg_keys.encrypt(rows["a"]),
        "hris-b.tsv": rows["b"],  # plain: must not be synchronized
        "hris-c.tsv": gpg_keys.encrypt(rows["c"], armor=False),  # encrypted despite its name
        "hris-d.tsv.gpg": gpg_keys.encrypt(rows["d"], armor=False),
    }
    for age, (name, data) in enumerate(reversed(uploads.items())):
        (tmp_path / name).write_bytes(data)
        stamp = 1_700_000_000 - age * 60  # a is oldest, d newest
        os.utime(tmp_path / name, (stamp, stamp))
    encryption = Encryption(required=True, private_key="env:KEY", passphrase="env:PASS")
    environ = {"KEY": gpg_keys.runner.private_key, "PASS": str(gpg_keys.runner.passphrase)}

    processed: list[tuple[str, bytes]] = []
    skipped: list[Skipped] = []
    with (
        open_source(FolderSourceConfig(type="folder", path="."), base_dir=tmp_path) as source,
        open_decryptor(encryption, base_dir=tmp_path, environ=environ) as pgp,
    ):
        selection = select_files(source.list(), FileNaming(), encryption, now=datetime.now(UTC))
        assert [f.name for f in selection.selected] == list(uploads)  # oldest first
        for info in selection.selected:
            data = source.read(info.name)
            verdict = check_content(info, data, encryption)
            if isinstance(verdict, Skipped):
                skipped.append(verdict)
                continue
            assert verdict == "decrypt"
            processed.append((info.name, pgp.decrypt(data, file=info.name)))

    assert processed == [
        ("hris-a.tsv.pgp", rows["a"]),
        ("hris-c.tsv", rows["c"]),
        ("hris-d.tsv.gpg", rows["d"]),
    ]
    assert [(s.file.name, s.reason) for s in skipped] == [("hris-b.tsv", SkipReason.NOT_ENCRYPTED)]
