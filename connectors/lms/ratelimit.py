"""Client-side pacing, so a long sync runs AT the LMS's rate limit instead of bouncing off it.

The LMS allows a company 50 GET/s and 10 writes/s and answers 429 beyond. Waiting for 429s
and backing off wastes most of the budget; spacing requests evenly at the limit uses all of
it. A ``Pacer`` hands out evenly spaced send slots (a token bucket holding one token), and is
thread-safe so concurrent callers share one budget. This module must never do I/O.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class RateLimits:
    """Requests per second the client allows itself, per method class (None: unlimited)."""

    get: float | None = 50.0
    write: float | None = 10.0


class Pacer:
    """Evenly spaced slots at ``rate`` per second; ``acquire`` sleeps until the caller's slot."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 0.0 if not rate else 1.0 / rate
        self._next = 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until this caller may send; returns how long it waited."""
        if self.interval == 0.0:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """After a 429, nobody sharing this budget sends for ``seconds``."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class RateLimiter:
    """One pacer for GETs, one for writes, as the LMS counts them."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.get = Pacer(limits.get)
        self.write = Pacer(limits.write)

    def pacer(self, method: str) -> Pacer:
        return self.write if method.upper() in WRITE_METHODS else self.get
