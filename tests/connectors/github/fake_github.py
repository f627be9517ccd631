"""A local HTTP server standing in for GitHub's issue-comment endpoints (real HTTP on 127.0.0.1).

It serves ``GET/POST /repos/{owner}/{repo}/issues/{n}/comments`` (paginated with ``per_page``
and ``Link: rel="next"``, as GitHub does) and ``PATCH /repos/{owner}/{repo}/issues/comments/{id}``,
checks the bearer token, and can fail the next calls with given statuses.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_test_token_value_1234"
_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    next_id: int = 1000

    def add(self, number: int, body: str) -> int:
        self.next_id += 1
        self.comments.setdefault(number, []).append(
            {"id": self.next_id, "body": body, "html_url": f"{self.url}/c/{self.next_id}"}
        )
        return self.next_id


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length", "0"))
            body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
            return body

        def _guard(self) -> bool:
            state.requests.append((self.command, self.path))
            if state.fail_next:
                self._send(state.fail_next.pop(0), {"message": "injected failure"})
                return False
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._guard():
                return
            parts = urlsplit(self.path)
            found = _LIST.match(parts.path)
            if not found:
                self._send(404, {"message": "Not Found"})
                return
            query = parse_qs(parts.query)
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            items = state.comments.get(int(found.group(2)), [])
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(items):
                headers["Link"] = f'<{state.url}{parts.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            self._send(200, chunk, headers)

        def do_POST(self) -> None:
            if not self._guard():
                return
            found = _LIST.match(urlsplit(self.path).path)
            if not found:
                self._send(404, {"message": "Not Found"})
                return
            new_id = state.add(int(found.group(2)), self._body()["body"])
            self._send(201, next(c for c in state.comments[int(found.group(2))] if c["id"] == new_id))

        def do_PATCH(self) -> None:
            if not self._guard():
                return
            found = _ONE.match(urlsplit(self.path).path)
            comment = None
            if found:
                wanted = int(found.group(2))
                comment = next((c for cs in state.comments.values() for c in cs if c["id"] == wanted), None)
            if comment is None:
                self._send(404, {"message": "Not Found"})
                return
            comment["body"] = self._body()["body"]
            self._send(200, comment)

    return Handler


def serve() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
