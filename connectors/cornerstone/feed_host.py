"""Every customer's catalog feed, served by the runner process on one port.

The runner hands ``RunnerFeeds.update`` the customer files it currently serves at each tick;
a customer with an enabled ``cornerstone.catalog`` gets its feed at
``/cornerstone/{customer}/courses``, built from its LMS in the runner's environment on every
pull. A file that changed (a deploy, an SA's merge) rebuilds that customer's route: new
credentials, new mapping; the feed server keeps what it served before, so the changed
courses move their ``LastModifiedUTC``. A customer whose credentials cannot be resolved is
not served (and said so, once per version of its file) rather than served with stale ones.

Secrets are resolved here, at route build time, and never logged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from connectors.cornerstone.feed_server import FeedRoute, FeedServer, feed_route
from connectors.cornerstone.lms_adapter import LmsCourseSource, lms_client
from connectors.lms.client import LmsClient
from engine.config.models import CustomerConfig, LmsEndpoint
from engine.console import Reporter
from engine.errors import LmsyncError


class CustomerFile(Protocol):
    """A loaded customer file (the runner's ``LoadedConfig`` is one)."""

    @property
    def config(self) -> CustomerConfig: ...

    @property
    def path(self) -> Path: ...

    @property
    def sha256(self) -> str: ...


LmsFactory = Callable[[LmsEndpoint, Path], LmsClient]


@dataclass
class _Served:
    version: str
    route: FeedRoute | None  # None: the file's version could not be served
    client: LmsClient | None


class RunnerFeeds:
    """``start()``; ``update(customer_files)`` at each tick; ``stop()`` closes everything."""

    def __init__(
        self,
        environment: str,
        reporter: Reporter,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lms_factory: LmsFactory = lms_client,
    ) -> None:
        self.environment = environment
        self.server = FeedServer([], host=host, port=port)
        self._reporter = reporter
        self._lms_factory = lms_factory
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()

    def start(self) -> RunnerFeeds:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        with self._lock:
            for served in self._served.values():
                if served.client is not None:
                    served.client.close()
            self._served.clear()

    def __enter__(self) -> RunnerFeeds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def feed_url(self, customer: str) -> str:
        """The customer's feed URL (its path alone before ``start()``)."""
        path = f"/cornerstone/{customer}/courses"
        return self.server.url + path if self.started else path

    @property
    def started(self) -> bool:
        return self.server.started

    def customers(self) -> list[str]:
        """The customers whose feed is served now, sorted."""
        with self._lock:
            return sorted(slug for slug, served in self._served.items() if served.route is not None)

    def update(self, files: Mapping[str, CustomerFile]) -> None:
        """Serve the feeds these files call for, and no other."""
        with self._lock:
            for slug in sorted(set(self._served) - set(files)):
                self._drop(slug, "its customer file is gone")
            for slug, file in sorted(files.items()):
                catalog = file.config.cornerstone.catalog if file.config.cornerstone else None
                environment = file.config.environments.get(self.environment)
                if catalog is None or not catalog.enabled or environment is None:
                    if slug in self._served:
                        self._drop(slug, "its cornerstone.catalog is gone or disabled")
                    continue
                version = f"{file.sha256}:{self.environment}"
                current = self._served.get(slug)
                if current is not None and current.version == version:
                    continue
                self._replace(slug, version, file, environment.lms)
            routes = [served.route for served in self._served.values() if served.route is not None]
        self.server.set_routes(routes)

    def _replace(self, slug: str, version: str, file: CustomerFile, lms: LmsEndpoint) -> None:
        catalog = file.config.cornerstone.catalog if file.config.cornerstone else None
        assert catalog is not None
        client: LmsClient | None = None
        try:
            client = self._lms_factory(lms, file.path.parent)
            route = feed_route(slug, catalog, LmsCourseSource(client), base_dir=file.path.parent)
        except LmsyncError as exc:
            if client is not None:
                client.close()
            self._close(slug)
            self._served[slug] = _Served(version, None, None)
            self._reporter.warn(f"{slug}: catalog feed not served: {exc}")
            return
        had = self._served.get(slug)
        self._close(slug)
        self._served[slug] = _Served(version, route, client)
        verb = "now served with its new configuration" if had and had.route else "served"
        self._reporter.info(f"{slug}: catalog feed {verb} at {self.feed_url(slug)}")

    def _close(self, slug: str) -> None:
        served = self._served.get(slug)
        if served is not None and served.client is not None:
            served.client.close()

    def _drop(self, slug: str, why: str) -> None:
        was_served = self._served[slug].route is not None
        self._close(slug)
        del self._served[slug]
        if was_served:
            self._reporter.info(f"{slug}: catalog feed no longer served ({why})")
