"""What a deploy ships: the customer files of one commit, validated, read once.

The files are read into memory, validated from those very bytes, and the same bytes are
uploaded, so what reaches the runner is exactly what was checked, even if the working tree
changes meanwhile. A set with any invalid file -- or with two files for one customer, or no
file at all, which would stop every customer's syncs -- is refused before any host is
contacted. The commit id comes from git, and ``--sha`` is checked against it: a working tree
whose customer files differ from its commit, or a ``--sha`` whose customer files are not the
ones checked out, is refused, since the release would claim a commit it is not.

This module must never connect anywhere, nor resolve a secret a customer file refers to.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.config.diagnostics import Diagnostic, finalize, has_errors
from engine.config.loader import check_bytes, customer_files
from engine.deploy.errors import DeployError, InvalidReleaseError
from engine.deploy.release import REVISION_FILE, normalize_sha


@dataclass(frozen=True)
class CustomerSet:
    """Valid customer files, by path relative to ``--configs``, and the customers they define."""

    files: Mapping[str, bytes]
    customers: tuple[str, ...]

    def at(self, sha: str) -> Bundle:
        """These files as the release of commit ``sha``."""
        return Bundle(sha=normalize_sha(sha), files=self.files, customers=self.customers)


@dataclass(frozen=True)
class Bundle:
    """The files of one release: the customer files and the commit they come from."""

    sha: str
    files: Mapping[str, bytes]
    customers: tuple[str, ...]

    def release_files(self) -> dict[str, bytes]:
        """Every file of the release folder; REVISION last, so its presence marks a whole upload."""
        return {**dict(sorted(self.files.items())), REVISION_FILE: f"{self.sha}\n".encode()}


def collect(configs: Path) -> CustomerSet:
    """Read and validate every customer file under ``configs``; raise ``InvalidReleaseError`` listing
    every problem of every file when the set cannot be deployed."""
    if not configs.is_dir():
        raise DeployError(
            f"--configs {configs} is not a folder",
            hint="give the folder of customer files, e.g. --configs customers",
        )
    paths, diagnostics = customer_files([configs])
    files: dict[str, bytes] = {}
    owner: dict[str, str] = {}
    for path in paths:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            diagnostics.append(
                Diagnostic(name, 1, 1, "", f"cannot read the file: {exc.strerror}", code="io-error")
            )
            continue
        checked = check_bytes(raw, name)
        diagnostics += checked.diagnostics
        if checked.config is None:
            continue
        slug = checked.config.customer
        if slug in owner:
            diagnostics.append(
                Diagnostic(
                    name,
                    1,
                    1,
                    "customer",
                    f"customer '{slug}' is also defined in {owner[slug]}; the runner would run only one",
                    code="duplicate-customer",
                )
            )
            continue
        owner[slug] = name
        files[path.relative_to(configs).as_posix()] = raw
    found = finalize(diagnostics)
    if has_errors(found):
        invalid = len({d.file for d in found if d.severity == "error"})
        raise InvalidReleaseError(
            f"{invalid} of {len(paths)} customer file(s) under {configs} cannot be deployed; "
            "nothing was sent to any host",
            found,
            hint=f"fix them and check with: lmsync validate {configs}",
        )
    if not files:
        raise DeployError(
            f"no customer file (*.yaml, *.yml) under {configs}; a release without one would stop "
            "every customer's syncs",
            hint="point --configs at the customers folder",
        )
    return CustomerSet(files=files, customers=tuple(sorted(owner)))


def _git(configs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(configs), *args], capture_output=True, text=True, check=False, timeout=60
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise DeployError(
            "cannot ask git which commit is deployed",
            hint="install git: the commit is read from the checkout holding --configs",
        ) from exc


def commit_of(configs: Path, claimed: str | None = None) -> str:
    """The commit the customer files under ``configs`` belong to: git's HEAD, if they match it.

    ``claimed`` (``--sha``) is accepted only when it is HEAD, or a commit whose customer files
    under ``configs`` are HEAD's: the release is named after it, so it must hold these bytes.
    """
    wanted = normalize_sha(claimed) if claimed is not None else None
    head = _git(configs, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.returncode != 0 or not head.stdout.strip():
        raise DeployError(
            f"cannot tell which commit {configs} holds (not a git checkout, or no commit yet)",
            hint="deploy from a git checkout of the customer files; --sha cannot stand in for one, "
            "it is checked against that checkout",
        )
    sha = head.stdout.strip()
    status = _git(configs, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if status.returncode != 0:
        raise DeployError(f"git status failed in {configs}", hint="check the checkout with git status")
    if status.stdout.strip():
        changed = len(status.stdout.strip().splitlines())
        raise DeployError(
            f"{changed} file(s) under {configs} differ from commit {sha[:12]}: the release would not "
            "be that commit",
            hint="commit (or stash) the changes first",
        )
    if wanted is None or sha.startswith(wanted):
        return sha
    return _same_customer_files(configs, wanted, sha)


def _same_customer_files(configs: Path, wanted: str, head: str) -> str:
    """``wanted`` in full, if its customer files under ``configs`` are HEAD's; else refuse."""
    found = _git(configs, "rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise DeployError(
            f"--sha {wanted[:12]} is not a commit of the checkout holding {configs} (HEAD is "
            f"{head[:12]}): the release would claim a commit it may not be",
            hint="check out that commit (or fetch it) before deploying, or drop --sha to deploy HEAD",
        )
    full = found.stdout.strip()
    diff = _git(configs, "diff", "--quiet", full, head, "--", ".")
    if diff.returncode == 0:
        return full
    if diff.returncode == 1:
        raise DeployError(
            f"--sha {full[:12]}: its customer files under {configs} differ from the checked-out "
            f"commit {head[:12]}; the release would not be that commit",
            hint="check out that commit before deploying, or drop --sha to deploy HEAD",
        )
    raise DeployError(f"git diff failed in {configs}", hint="check the checkout with git status")
