"""A tiny TCP proxy on 127.0.0.1 that can cut a connection mid-stream, for real drop tests.

``CuttingProxy(upstream_port, cut_after={0: 200_000})`` forwards every connection to the
upstream port and, for the connections whose index (0 = first) is in ``cut_after``, closes
both sides once that many bytes have flowed one way: from the server to the client
(``direction="download"``, an SFTP read cut short) or from the client to the server
(``"upload"``, a deploy's upload cut short). The client sees exactly what a dropped network
link looks like; later connections (its reconnect) pass untouched unless listed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Literal, Self


class CuttingProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        cut_after: dict[int, int] | None = None,
        direction: Literal["download", "upload"] = "download",
    ) -> None:
        self.upstream_port = upstream_port
        self.cut_after = dict(cut_after or {})
        self.direction = direction
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # shutdown() wakes the accept() blocked in the other thread; close() alone does not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                index = self.connections
                self.connections += 1
                self._sockets += [client, upstream]
            limit = self.cut_after.get(index)
            up, down = (limit, None) if self.direction == "upload" else (None, limit)
            for source, target, cut in ((client, upstream, up), (upstream, client, down)):
                thread = threading.Thread(target=self._pump, args=(source, target, cut, client, upstream))
                thread.daemon = True
                thread.start()
                self._threads.append(thread)

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        limit: int | None,
        client: socket.socket,
        upstream: socket.socket,
    ) -> None:
        sent = 0
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if limit is not None and sent + len(chunk) >= limit:
                    target.sendall(chunk[: max(limit - sent, 0)])
                    with self._lock:
                        self.cuts += 1
                    break
                target.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the other side went away: close both below
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
