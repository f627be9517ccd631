"""Keeps a customer's lock alive while its job runs: a heartbeat that renews the lease.

The lock in the store is a lease with an expiry, so a runner killed with -9 stops renewing
and another runner takes over once the lease ends. While the job runs, this thread renews
the lease every ``interval`` seconds. If a renewal finds the lease taken by someone else,
the job is asked to stop at once: two runs of one customer must never overlap. A database
hiccup during a renewal is retried at the next beat, not treated as a loss.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from engine.errors import StateError
from engine.runner.clock import Clock
from engine.state import StateStore


class LeaseKeeper:
    """Renews ``name`` for ``owner`` in the background until stopped."""

    def __init__(
        self,
        store: StateStore,
        name: str,
        owner: str,
        *,
        ttl: timedelta,
        clock: Clock,
        interval: float,
        on_lost: threading.Event,
    ) -> None:
        self._store, self._name, self._owner = store, name, owner
        self._ttl, self._clock, self._interval = ttl, clock, interval
        self._on_lost = on_lost
        self.lost = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {name}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                renewed = self._store.renew_lock(
                    self._name, self._owner, ttl=self._ttl, now=self._clock.now()
                )
            except StateError:
                continue
            if not renewed:
                self.lost = True
                self._on_lost.set()
                return
