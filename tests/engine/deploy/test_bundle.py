"""What a deploy ships: the customer set is validated as a whole, and the commit comes from git."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.deploy import REVISION_FILE, DeployError, InvalidReleaseError, collect, commit_of
from tests.engine.runner.helpers import write_customer
from tests.gitrepo import git as _git

SHA = "abcdef0123456789abcdef0123456789abcdef01"


def test_a_valid_set_becomes_the_release_files_with_revision_last(tmp_path: Path) -> None:
    write_customer(tmp_path, "acme")
    write_customer(tmp_path / "eu" / "fr", "globex")
    (tmp_path / "README.md").write_text("not a customer file")
    bundle = collect(tmp_path).at(SHA.upper())
    assert bundle.customers == ("acme", "globex")
    files = bundle.release_files()
    assert list(files) == ["acme.yaml", "eu/fr/globex.yaml", REVISION_FILE]
    assert files["acme.yaml"] == (tmp_path / "acme.yaml").read_bytes()
    assert files[REVISION_FILE] == f"{SHA}\n".encode()


def test_every_error_of_every_file_is_listed_and_the_set_refused(tmp_path: Path) -> None:
    write_customer(tmp_path, "acme")
    (tmp_path / "globex.yaml").write_text("version: 1\ncustomer: globex\nbogus: 1\n")
    (tmp_path / "initech.yaml").write_text("version: 1\ncustomer: initech\nhris: [\n")
    with pytest.raises(InvalidReleaseError) as caught:
        collect(tmp_path)
    files = {Path(d.file).name for d in caught.value.diagnostics if d.severity == "error"}
    assert files == {"globex.yaml", "initech.yaml"}
    assert any(d.path == "bogus" and d.line == 3 for d in caught.value.diagnostics)
    assert "2 of 3 customer file(s)" in caught.value.message
    assert "nothing was sent to any host" in caught.value.message
    assert caught.value.hint == f"fix them and check with: lmsync validate {tmp_path}"


def test_one_customer_in_two_files_is_refused(tmp_path: Path) -> None:
    write_customer(tmp_path / "eu", "acme")
    write_customer(tmp_path / "us", "acme")
    with pytest.raises(InvalidReleaseError) as caught:
        collect(tmp_path)
    [duplicate] = caught.value.diagnostics
    assert duplicate.code == "duplicate-customer"
    assert duplicate.file == str(tmp_path / "us" / "acme.yaml")
    assert f"also defined in {tmp_path / 'eu' / 'acme.yaml'}" in duplicate.message


def test_an_empty_or_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="would stop every customer's syncs"):
        collect(tmp_path)
    with pytest.raises(DeployError, match="is not a folder"):
        collect(tmp_path / "nope")


def test_the_commit_is_head_when_the_customer_files_match_it(tmp_path: Path) -> None:
    customers = tmp_path / "customers"
    write_customer(customers, "acme")
    with pytest.raises(DeployError, match="not a git checkout") as caught:
        commit_of(customers)
    assert "--sha" in (caught.value.hint or "")
    _git(tmp_path, "init", "-q")
    with pytest.raises(DeployError, match="no commit yet"):
        commit_of(customers)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "acme")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert commit_of(customers) == head
    # Changes outside the customers folder do not make its files differ from the commit.
    (tmp_path / "notes.txt").write_text("scratch")
    assert commit_of(customers) == head
    write_customer(customers, "acme", times='"07:00"')
    with pytest.raises(DeployError, match=f"1 file\\(s\\) under {customers} differ from commit {head[:12]}"):
        commit_of(customers)
    (customers / "acme.yaml").unlink()
    _git(tmp_path, "checkout", "-q", "--", "customers")
    write_customer(customers, "globex")  # untracked counts too: it would be deployed
    with pytest.raises(DeployError, match="differ from commit"):
        commit_of(customers)
