"""The catalog feed over HTTP: what Cornerstone pulls at ``/cornerstone/{customer}/courses``.

The runner hosts one ``FeedServer`` for every customer with a ``cornerstone.catalog``
section. Each request builds the feed afresh from the LMS (so it is always current and
Cornerstone's next pull sees today's catalog), authenticates Cornerstone with HTTP Basic or
OAuth2 client credentials (tokens from ``POST /cornerstone/{customer}/oauth2/token``), and
answers ``304 Not Modified`` when nothing moved since ``If-Modified-Since``.

``Last-Modified`` is the newest ``LastModifiedUTC`` of the feed, or the moment this server
first saw the current feed content if that is later -- a course that appears with an old
timestamp still moves the date, so Cornerstone never misses it. Likewise a course whose item
changed while its LMS timestamp did not (the customer file's subject mapping or launch URL
changed, which the runner picks up without a restart) gets a ``LastModifiedUTC`` of the
moment the change was first served: Cornerstone updates a course only when that moves. This
memory lives in the process; after a restart the LMS timestamps are served as they are.
Credentials are compared in constant time and never logged; a failing LMS gives 503, never
a partial feed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from engine.config.models import Catalog, FeedBasicAuth
from engine.config.secrets import resolve_secret
from engine.cornerstone.catalog import build_feed, http_date, last_modified
from engine.cornerstone.ports import CourseSource
from engine.errors import LmsyncError

TOKEN_LIFETIME_SECONDS = 3600


@dataclass(frozen=True)
class BasicFeedAuth:
    username: str
    password: SecretStr


@dataclass(frozen=True)
class OAuthFeedAuth:
    client_id: SecretStr
    client_secret: SecretStr


@dataclass(frozen=True)
class FeedRoute:
    """One customer's feed: ``build()`` returns the current feed items (``build_feed``)."""

    customer: str
    build: Callable[[], list[dict[str, Any]]]
    auth: BasicFeedAuth | OAuthFeedAuth


def _same(given: str, expected: SecretStr) -> bool:
    return secrets.compare_digest(given.encode("utf-8"), expected.get_secret_value().encode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # request lines hold nothing useful and the runner logs outcomes itself

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    def _route(self, *suffix: str) -> FeedRoute | None:
        """The customer's route for ``/cornerstone/{customer}/{suffix...}``."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) != 2 + len(suffix) or parts[0] != "cornerstone" or tuple(parts[2:]) != suffix:
            return None
        return self.server.feed.routes.get(parts[1])

    def do_POST(self) -> None:
        route = self._route("oauth2", "token")
        if route is None or not isinstance(route.auth, OAuthFeedAuth):
            self._send_json(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                form = {k: str(v) for k, v in json.loads(raw or "{}").items()}
            except (ValueError, AttributeError):
                form = {}
        else:
            form = {k: v[0] for k, v in parse_qs(raw).items()}
        client_id = form.get("client_id") or form.get("clientId") or ""
        secret = form.get("client_secret") or form.get("clientSecret") or ""
        grant = form.get("grant_type") or form.get("grantType")
        if grant != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        if not (_same(client_id, route.auth.client_id) & _same(secret, route.auth.client_secret)):
            self._send_json(401, {"error": "invalid_client"})
            return
        token = self.server.feed.issue_token(route.customer)
        self._send_json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS},
            {"Cache-Control": "no-store"},
        )

    def do_GET(self) -> None:
        route = self._route("courses")
        if route is None:
            self._send_json(404, {"error": "not_found"})
            return
        if not self._authorised(route):
            challenge = "Basic" if isinstance(route.auth, BasicFeedAuth) else "Bearer"
            self._send_json(
                401, {"error": "unauthorized"}, {"WWW-Authenticate": f'{challenge} realm="catalog"'}
            )
            return
        try:
            items = self.server.feed.moved_items(route.customer, route.build())
        except LmsyncError as exc:
            # Never serve a partial or empty catalog on an LMS failure: Cornerstone would
            # keep yesterday's, which is right, only if we fail loudly.
            self._send_json(
                503, {"error": "catalog_unavailable", "message": exc.message}, {"Retry-After": "300"}
            )
            return
        body = json.dumps(items, ensure_ascii=False, sort_keys=True).encode("utf-8")
        modified = self.server.feed.last_modified_for(route.customer, body, items)
        headers = {"Last-Modified": http_date(modified), "Cache-Control": "no-cache"}
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                if modified <= parsedate_to_datetime(since):
                    self._send(304, headers=headers)
                    return
            except (TypeError, ValueError):
                pass  # an unreadable date means "send everything", as HTTP says
        self._send(200, body, {"Content-Type": "application/json; charset=utf-8", **headers})

    def _authorised(self, route: FeedRoute) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if isinstance(route.auth, BasicFeedAuth):
            if scheme.lower() != "basic":
                return False
            try:
                user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return _same(user, SecretStr(route.auth.username)) & _same(password, route.auth.password)
        return scheme.lower() == "bearer" and self.server.feed.token_valid(route.customer, value.strip())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, feed: FeedServer, address: tuple[str, int]) -> None:
        self.feed = feed
        super().__init__(address, _Handler)


class FeedServer:
    """``FeedServer(routes, port=0).start()``; ``.feed_url(customer)``; ``.stop()``."""

    def __init__(
        self,
        routes: Iterable[FeedRoute],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.routes = {route.customer: route for route in routes}
        self.host, self.requested_port = host, port
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._seen: dict[str, tuple[str, datetime]] = {}
        #: customer -> item ID -> (content digest, LMS stamp, stamp served)
        self._items: dict[str, dict[str, tuple[str, str, str]]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the feed server is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def feed_url(self, customer: str) -> str:
        return f"{self.url}/cornerstone/{customer}/courses"

    def token_url(self, customer: str) -> str:
        return f"{self.url}/cornerstone/{customer}/oauth2/token"

    def start(self) -> FeedServer:
        self._server = _Server(self, (self.host, self.requested_port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="catalog-feed", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_routes(self, routes: Iterable[FeedRoute]) -> None:
        """Serve exactly these customers from now on (the runner calls it when files change).

        What was served before is remembered per customer, so a route rebuilt from an edited
        customer file still moves ``LastModifiedUTC`` and ``Last-Modified`` correctly.
        """
        fresh = {route.customer: route for route in routes}
        with self._lock:
            self.routes = fresh

    def moved_items(self, customer: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``items`` with ``LastModifiedUTC`` moved to now for each whose content changed
        since it was last served while its LMS timestamp stayed the same.

        The first time a customer's feed is served (or a course appears) the LMS timestamp is
        served as it is; a course modified in the LMS afterwards serves its new timestamp.
        """
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        moved: list[dict[str, Any]] = []
        with self._lock:
            known = self._items.get(customer)
            remembered: dict[str, tuple[str, str, str]] = {}
            for item in items:
                stamp = str(item["LastModifiedUTC"])
                content = {k: v for k, v in item.items() if k != "LastModifiedUTC"}
                digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()
                served = stamp
                previous = known.get(str(item["ID"])) if known is not None else None
                if previous is not None:
                    old_digest, old_stamp, old_served = previous
                    if (digest, stamp) == (old_digest, old_stamp):
                        served = old_served
                    elif stamp <= old_served:
                        # Changed here but not in the LMS, or the LMS moved less than we did:
                        # move past what Cornerstone already has (stamps compare as text).
                        later = max(now, _parse_stamp(old_served) + timedelta(seconds=1))
                        served = later.strftime("%Y-%m-%dT%H:%M:%SZ")
                remembered[str(item["ID"])] = (digest, stamp, served)
                moved.append(item if served == stamp else {**item, "LastModifiedUTC": served})
            self._items[customer] = remembered
        return moved

    def issue_token(self, customer: str) -> str:
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()  # only a digest is kept in memory
        with self._lock:
            now = time.monotonic()
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[digest] = (customer, now + TOKEN_LIFETIME_SECONDS)
        return token

    def token_valid(self, customer: str, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            entry = self._tokens.get(digest)
        return entry is not None and entry[0] == customer and entry[1] > time.monotonic()

    def last_modified_for(self, customer: str, body: bytes, items: list[dict[str, Any]]) -> datetime:
        """The feed's ``Last-Modified``: newest item, or when this content was first served."""
        fingerprint = hashlib.sha256(body).hexdigest()
        with self._lock:
            seen = self._seen.get(customer)
            if seen is None or seen[0] != fingerprint:
                now = self._clock().replace(microsecond=0)
                if seen is not None and now <= seen[1]:
                    # Changed within the second we last announced: HTTP dates have second
                    # precision, so move on by one or Cornerstone would get a 304 for it.
                    now = seen[1] + timedelta(seconds=1)
                seen = (fingerprint, now)
                self._seen[customer] = seen
        newest = last_modified(items)
        return max(newest, seen[1]) if newest is not None else seen[1]


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def feed_auth(
    catalog: Catalog, *, environ: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> BasicFeedAuth | OAuthFeedAuth:
    """The feed's credentials from the section's references, resolved now (at serve time)."""

    def secret(reference: str, what: str) -> SecretStr:
        return resolve_secret(reference, environ=environ, base_dir=base_dir, what=what)

    if isinstance(catalog.auth, FeedBasicAuth):
        return BasicFeedAuth(
            catalog.auth.username, secret(catalog.auth.password, "cornerstone.catalog.auth.password")
        )
    return OAuthFeedAuth(
        secret(catalog.auth.client_id, "cornerstone.catalog.auth.client_id"),
        secret(catalog.auth.client_secret, "cornerstone.catalog.auth.client_secret"),
    )


def feed_route(
    customer: str,
    catalog: Catalog,
    source: CourseSource,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> FeedRoute:
    """A customer's route: every pull lists the LMS's courses and builds the feed afresh."""
    return FeedRoute(
        customer=customer,
        build=lambda: build_feed(source.iter_courses(), catalog),
        auth=feed_auth(catalog, environ=environ, base_dir=base_dir),
    )
