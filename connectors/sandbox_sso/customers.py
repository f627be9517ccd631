"""The customer files the LMS sandbox answers SSO logins for (``lmsync sandbox serve --customers``).

An SA tries a login against the sandbox while editing the customer file, so every login
looks at the folder again through the runner's ``ConfigCatalog``: a stat per file, re-read
only when one changed, with the same validation, the same "an invalid edit keeps the last
valid version" rule and the same warnings. ``SsoCustomers`` is the ``ConfigLookup``
``sso_routes`` takes.

It never resolves a secret: the login does, from the reference, relative to the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from connectors.sandbox_sso.sandbox_routes import SsoCustomer
from engine.console import Reporter
from engine.runner.catalog import ConfigCatalog, LoadedConfig

Listener = Callable[[Mapping[str, SsoCustomer]], None]


class SsoCustomers:
    """``customers(slug)`` → the customer's ``SsoCustomer`` (any customer file), or None."""

    def __init__(self, folder: Path, reporter: Reporter) -> None:
        self.folder = folder
        self._catalog = ConfigCatalog(folder, reporter)
        self._lock = threading.Lock()
        self._current: dict[str, SsoCustomer] = {}
        self._versions: dict[str, str] = {}
        #: Called with the customers that are new or changed, after each refresh that has some.
        self.on_change: Listener | None = None

    def refresh(self) -> Mapping[str, SsoCustomer]:
        """Re-read the folder now; every customer served."""
        with self._lock:
            loaded: dict[str, LoadedConfig] = self._catalog.refresh()
            changed = {
                slug: SsoCustomer(entry.config, entry.path.parent)
                for slug, entry in loaded.items()
                if self._versions.get(slug) != entry.sha256
            }
            self._versions = {slug: entry.sha256 for slug, entry in loaded.items()}
            self._current = {slug: changed.get(slug) or self._current[slug] for slug in loaded}
            current = dict(self._current)
        if changed and self.on_change is not None:
            self.on_change(changed)
        return current

    def with_sso(self) -> list[str]:
        """Slugs whose file has a ``cornerstone.sso`` section, sorted."""
        return sorted(
            slug
            for slug, customer in self._current.items()
            if customer.config.cornerstone is not None and customer.config.cornerstone.sso is not None
        )

    def __call__(self, slug: str) -> SsoCustomer | None:
        return self.refresh().get(slug)
