"""A TCP proxy on 127.0.0.1 that cuts the first connection once the client has sent N bytes.

``UploadCuttingProxy(upstream_port, cut_after=200_000)`` forwards every connection to the
upstream port; the first one is closed on both sides once that many bytes flowed from the
client to the server -- what a deploy sees when the link drops in the middle of an upload.
Later connections (the deploy's reconnect to clean up) pass untouched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


class UploadCuttingProxy:
    def __init__(self, upstream_port: int, *, cut_after: int) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._start(self._accept)
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

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                first = self.connections == 0
                self.connections += 1
                self._sockets += [client, upstream]
            pair = (client, upstream)
            self._start(self._pump, client, upstream, self.cut_after if first else None, pair)
            self._start(self._pump, upstream, client, None, pair)

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        limit: int | None,
        pair: tuple[socket.socket, socket.socket],
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
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
