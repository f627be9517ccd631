"""The local folder source: same behaviour and errors as SFTP, without a server."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.sources import FolderSource, open_source
from engine.config.models import FolderSource as FolderSourceConfig
from engine.errors import SourceError
from engine.files import Source


def test_lists_reads_and_deletes_regular_files_only(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "hris-a.tsv").write_bytes(b"uniqueId\tstatus\n")
    os.utime(drop / "hris-a.tsv", (1_700_000_000, 1_700_000_000))
    (drop / "archive").mkdir()
    (drop / "link.tsv").symlink_to(tmp_path / "elsewhere.tsv")
    (tmp_path / "elsewhere.tsv").write_text("outside")

    source = open_source(FolderSourceConfig(type="folder", path="drop"), base_dir=tmp_path)
    assert isinstance(source, Source)
    with source:
        [info] = source.list()
        assert (info.name, info.size) == ("hris-a.tsv", 16)
        assert info.mtime == datetime.fromtimestamp(1_700_000_000, tz=UTC)
        assert source.read("hris-a.tsv") == b"uniqueId\tstatus\n"
        source.delete("hris-a.tsv")
        source.delete("hris-a.tsv")  # idempotent: a retried delete must not fail
        assert source.list() == []
    assert (tmp_path / "elsewhere.tsv").exists()
    assert source.describe() == f"folder {drop}"


def test_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    source = open_source(FolderSourceConfig(type="folder", path=str(tmp_path)), base_dir=Path("/nonexistent"))
    with source:
        assert source.list() == []


@pytest.mark.parametrize("name", ["../secret.tsv", "sub/hris.tsv", "hris\x00.tsv", "..", ""])
def test_refuses_names_reaching_outside(tmp_path: Path, name: str) -> None:
    (tmp_path / "secret.tsv").write_text("x")
    with FolderSource(tmp_path) as source:
        with pytest.raises(SourceError, match="refusing file name"):
            source.read(name)
        with pytest.raises(SourceError, match="refusing file name"):
            source.delete(name)
    assert (tmp_path / "secret.tsv").exists()


def test_missing_folder_and_missing_file_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder") as caught:
        FolderSource(tmp_path / "nope").__enter__()
    assert "hris.source.path" in str(caught.value)
    assert not caught.value.transient
    with FolderSource(tmp_path) as source, pytest.raises(SourceError, match="not found"):
        source.read("hris-missing.tsv")
