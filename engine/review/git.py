"""Which customer files a pull request changes, and their text at each revision, from git.

The review compares two revisions of a customers repository. This module asks the ``git``
binary (a subprocess, so the review works wherever CI has git, with no Python git library)
for the files added, modified, deleted or renamed under a folder between the merge base of
``base`` and ``head`` -- the same comparison a pull request shows -- and reads a file's text
at a revision.

This module must never write to the repository (no checkout, no fetch, no index change), and
never interpret a file's content: it only says which files changed and returns their text.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import LmsyncError

CUSTOMER_FILE_SUFFIXES = (".yaml", ".yml")
ChangeKind = Literal["added", "modified", "deleted", "renamed"]

#: git's one-letter statuses (``--name-status``) in the review's words. Copies count as additions:
#: the new file is a new customer whatever it was copied from.
_KINDS: dict[str, ChangeKind] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "added",
    "T": "modified",
}


class RevisionError(LmsyncError):
    """git could not compare or read the revisions (unknown ref, not a repository, shallow clone)."""


@dataclass(frozen=True)
class ChangedFile:
    """One customer file changed between two revisions; ``old_path`` only for renames."""

    kind: ChangeKind
    path: str
    old_path: str | None = None

    @property
    def base_path(self) -> str | None:
        """Where the file lived at the base revision (None for a new file)."""
        if self.kind == "added":
            return None
        return self.old_path or self.path

    @property
    def head_path(self) -> str | None:
        """Where the file lives at the head revision (None for a deleted file)."""
        return None if self.kind == "deleted" else self.path


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120)
    except FileNotFoundError as exc:
        raise RevisionError("the git program is not installed", hint="install git and retry") from exc
    except subprocess.TimeoutExpired as exc:
        raise RevisionError(f"git {args[0]} took more than 120 s in {repo}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(
            f"git {args[0]} failed in {repo}: {reason[-1] if reason else 'exit ' + str(done.returncode)}",
            hint="check that both revisions exist locally (in CI, check out with fetch-depth: 0)",
        )
    return done.stdout.decode("utf-8", "surrogateescape")


def resolve(repo: Path, rev: str) -> str:
    """The commit id ``rev`` names; raises RevisionError naming ``rev`` when it is unknown."""
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except RevisionError as exc:
        raise RevisionError(
            f"revision {rev!r} is not known in {repo}",
            hint="fetch it first (git fetch origin main) or check the name",
        ) from exc


def merge_base(repo: Path, base: str, head: str) -> str:
    """The commit a pull request from ``head`` into ``base`` is compared against.

    Falls back to ``base`` itself when the histories share no commit, so unrelated
    revisions are still compared rather than refused.
    """
    base_id, head_id = resolve(repo, base), resolve(repo, head)
    done = subprocess.run(
        ["git", "-C", str(repo), "merge-base", base_id, head_id],
        capture_output=True,
        check=False,
        timeout=120,
    )
    found = done.stdout.decode().strip()
    return found if done.returncode == 0 and found else base_id


def is_customer_file(path: str) -> bool:
    return path.endswith(CUSTOMER_FILE_SUFFIXES)


def changed_customer_files(repo: Path, base: str, head: str, under: Sequence[str] = ()) -> list[ChangedFile]:
    """Customer files (``*.yaml``/``*.yml`` under ``under``, or anywhere) changed from ``base``
    to ``head``, sorted by path. ``base`` and ``head`` must be commit ids (see ``merge_base``)."""
    pathspecs = [p.rstrip("/") or "." for p in under] or ["."]
    out = _git(
        repo, "diff", "--name-status", "-z", "--find-renames", "--no-ext-diff", base, head, "--", *pathspecs
    )
    fields = out.split("\0")
    changes: list[ChangedFile] = []
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i][0]
        if letter in "RC":
            old, new = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old = new = fields[i + 1]
            i += 2
        kind = _KINDS.get(letter)
        if kind is None:  # U (unmerged), X (unknown): not something a commit range holds
            continue
        if kind == "renamed":
            if is_customer_file(old) and is_customer_file(new):
                changes.append(ChangedFile("renamed", new, old))
            elif is_customer_file(new):  # renamed into the customers' shape: a new customer
                changes.append(ChangedFile("added", new))
            elif is_customer_file(old):
                changes.append(ChangedFile("deleted", old))
        elif is_customer_file(new):
            changes.append(ChangedFile(kind, new))
    return sorted(changes, key=lambda c: c.path)


def file_at(repo: Path, rev: str, path: str) -> str:
    """The text of ``path`` at revision ``rev``."""
    return _git(repo, "show", f"{rev}:{path}")


def repository_root(start: Path) -> Path:
    """The top folder of the repository holding ``start``."""
    return Path(_git(start, "rev-parse", "--show-toplevel").strip())
