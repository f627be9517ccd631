"""The sandbox's HTTP server: HTTP/1.1 keep-alive on loopback, one thread per connection.

``SandboxServer`` is the library API (tests, demos and ``lmsync sandbox`` start it); it
owns the socket, the background bulk worker and the database, and stops them all cleanly,
including connections clients keep alive. This module must never interpret a request: it
moves bytes to and from ``SandboxApp``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from connectors.sandbox.app import SandboxApp
from connectors.sandbox.db import Database
from connectors.sandbox.policy import Faults, RateLimits
from connectors.sandbox.protocol import Route


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client's session reuses one connection
    server_version = "lmsync-sandbox"
    disable_nagle_algorithm = True  # small answers must not wait for a delayed ACK
    timeout = 120  # an idle keep-alive connection releases its thread eventually
    server: _HttpServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        outcome = self.server.app.handle(self.command, self.path, headers, raw, f"http://{host}")
        if outcome.drop:
            # A reset with no answer at all: the client cannot know whether the write happened.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if outcome.delay and self.server.app.stopping.wait(outcome.delay):
            self.close_connection = True
            return
        self.send_response(outcome.status)
        if outcome.body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in outcome.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(outcome.body)))
        self.end_headers()
        if outcome.body:
            self.wfile.write(outcome.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server names)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the app keeps its own request log, without query strings' personal data."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # stop() waits for handler threads, so the database closes last

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, injected drops) are normal here, not tracebacks."""


class SandboxServer:
    """A sandbox company served over HTTP on ``host:port`` (port 0: a free one).

    ``public_routes``: extra ``protocol.Route`` values served without a bearer token, rate
    limit or faults (e.g. SSO login endpoints, which carry their own signed token); their
    handlers get the JSON body, or the raw bytes when the body is not JSON.

    >>> with SandboxServer(tmp_path / "sandbox.sqlite") as sandbox:
    ...     client = LmsClient(sandbox.url, SecretStr(sandbox.client_id), SecretStr(sandbox.client_secret))
    """

    def __init__(
        self,
        db_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limits: RateLimits | None = None,
        faults: Faults | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        admin_token: str | None = None,
        token_ttl: int = 3600,
        public_routes: Sequence[Route] = (),
    ) -> None:
        self.db = Database(db_path)
        self.app = SandboxApp(
            self.db,
            client_id=client_id,
            client_secret=client_secret,
            admin_token=admin_token,
            rate_limits=rate_limits,
            faults=faults,
            token_ttl=token_ttl,
            public_routes=public_routes,
        )
        self._address = (host, port)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the secrets
        return f"SandboxServer(url={self.url if self._http else None!r})"

    @property
    def client_id(self) -> str:
        return self.app.client_id

    @property
    def client_secret(self) -> str:
        return self.app.client_secret

    @property
    def admin_token(self) -> str:
        return self.app.admin_token

    @property
    def platform_group_id(self) -> str:
        return self.app.platform_group_id

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._http = _HttpServer(self._address, self.app)
        self.app.bulk.start()
        # A short poll interval so stop() returns promptly (tests start hundreds of sandboxes).
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.app.stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.close_open_connections()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.bulk.stop()
        self.db.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
