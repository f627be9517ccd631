"""The customer files the runner serves, reloaded when a deploy changes them.

Each tick the runner refreshes the catalog: a file whose resolved path, size or mtime
changed is re-read, and re-validated only if its content hash changed. A deploy switches a
``current`` symlink to a new release; resolving the folder each time follows that switch
without a restart. A file that became invalid keeps its last valid version running (CI
validates before deploying, so this is a guard, not a workflow) and the problem is reported.
This module must never run a sync or resolve a secret.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from engine.config.loader import CUSTOMER_FILE_SUFFIXES, check_bytes
from engine.config.models import CustomerConfig
from engine.console import Reporter


@dataclass(frozen=True)
class LoadedConfig:
    """A customer's configuration and where it came from."""

    config: CustomerConfig
    path: Path
    sha256: str


@dataclass(frozen=True)
class _Seen:
    real_path: str
    size: int
    mtime_ns: int
    sha256: str


class ConfigCatalog:
    """Every valid customer file under a folder, by customer slug."""

    def __init__(self, configs_dir: Path, reporter: Reporter) -> None:
        self._dir = configs_dir
        self._reporter = reporter
        self._seen: dict[Path, _Seen] = {}
        self._loaded: dict[Path, LoadedConfig] = {}
        self.problems: dict[Path, str] = {}

    def refresh(self) -> dict[str, LoadedConfig]:
        """Re-read what changed; return the current configurations by customer slug."""
        # realpath each time: after `current` is switched to a new release, the same
        # configured folder names other files.
        folder = Path(os.path.realpath(self._dir))
        present: set[Path] = set()
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix in CUSTOMER_FILE_SUFFIXES and path.is_file():
                    relative = path.relative_to(folder)
                    present.add(relative)
                    self._refresh_one(relative, path)
        elif not self.problems.get(Path(".")):
            self.problems[Path(".")] = f"{self._dir}: not a folder"
            self._reporter.warn(f"{self._dir}: the configuration folder does not exist")
        for gone in set(self._loaded) - present:
            self._reporter.info(f"{self._loaded[gone].config.customer}: customer file removed, no longer run")
            del self._loaded[gone]
            self._seen.pop(gone, None)
        by_slug: dict[str, LoadedConfig] = {}
        for loaded in self._loaded.values():
            if loaded.config.customer in by_slug:
                self._reporter.warn(f"{loaded.path}: customer '{loaded.config.customer}' is defined twice")
                continue
            by_slug[loaded.config.customer] = loaded
        return by_slug

    def files_of(self, customer: str) -> list[Path]:
        """Every valid file defining ``customer`` at the last refresh: more than one is a mistake
        ``refresh`` only warns about (the runner keeps running one), which a lookup must refuse."""
        return sorted(loaded.path for loaded in self._loaded.values() if loaded.config.customer == customer)

    def _refresh_one(self, relative: Path, path: Path) -> None:
        try:
            stat = path.stat()
            real = os.path.realpath(path)
            previous = self._seen.get(relative)
            if previous and (previous.real_path, previous.size, previous.mtime_ns) == (
                real,
                stat.st_size,
                stat.st_mtime_ns,
            ):
                return
            raw = path.read_bytes()
        except OSError as exc:
            self._problem(relative, f"{path}: cannot read the file ({exc.strerror})")
            return
        sha = hashlib.sha256(raw).hexdigest()
        self._seen[relative] = _Seen(real, stat.st_size, stat.st_mtime_ns, sha)
        current = self._loaded.get(relative)
        if current is not None and current.sha256 == sha:
            if current.path != path:
                # Same content in a new release: the old release may be pruned, and the job
                # resolves relative paths and file: secrets from where the file is now.
                self._loaded[relative] = LoadedConfig(current.config, path, sha)
            return
        checked = check_bytes(raw, str(path), dated_checks=False)  # expiry: CI and logins judge it
        if checked.config is None:
            first = checked.diagnostics[0] if checked.diagnostics else None
            where = str(first) if first else str(path)
            kept = " (the previous valid version keeps running)" if current else ""
            self._problem(relative, f"{where}{kept}; run `lmsync validate {path}` for every problem")
            return
        self.problems.pop(relative, None)
        if current is not None:
            self._reporter.info(f"{checked.config.customer}: new configuration loaded from {path}")
        self._loaded[relative] = LoadedConfig(checked.config, path, sha)

    def _problem(self, relative: Path, message: str) -> None:
        if self.problems.get(relative) != message:
            self._reporter.warn(message)
        self.problems[relative] = message
