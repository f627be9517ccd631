"""How the sandbox misbehaves on purpose: per-company rate limits and injected faults.

The real API limits a company to 50 GET/s and 10 writes/s and answers 429 beyond; networks
drop connections and servers fail. The sandbox reproduces both so the client's limiter and
retries are tested for real. A fault may strike *after* a write was committed (a 5xx or a
dropped connection whose write nevertheless happened), which is exactly the case a client
must not double. This module must never touch storage or sockets: it only decides.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class RateLimits:
    """Requests per second per company; ``enabled=False`` lifts them (benchmarks, big tests)."""

    get: float = 50.0
    write: float = 10.0
    enabled: bool = True


@dataclass(frozen=True)
class Faults:
    """Shares (0..1) of API requests that fail on purpose.

    ``storm_length``: a 429 fault is followed by that many 429s in a row (a "429 storm").
    ``retry_after``: seconds sent in ``Retry-After`` with injected 429s (None: no header, as
    the real API documents). ``slow_seconds``: how long a slow response stalls.
    """

    error_5xx: float = 0.0
    rate_429: float = 0.0
    slow: float = 0.0
    drop: float = 0.0
    slow_seconds: float = 2.0
    storm_length: int = 1
    retry_after: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        return replace(base or cls(), **data)


class Fault(enum.Enum):
    NONE = "none"
    ERROR_5XX_BEFORE = "5xx-before"  # the write did not happen
    ERROR_5XX_AFTER = "5xx-after"  # the write happened, the answer says it did not
    RATE_429 = "429"
    SLOW = "slow"  # the write happens, the answer comes late (client timeouts)
    DROP_BEFORE = "drop-before"
    DROP_AFTER = "drop-after"


@dataclass
class FaultDice:
    """Draws one fault per request; thread-safe; seeded for reproducible runs."""

    faults: Faults = field(default_factory=Faults)
    _storm_left: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=random.Random)

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._storm_left = 0
            self._random = random.Random(faults.seed)

    def draw(self) -> Fault:
        with self._lock:
            f = self.faults
            if self._storm_left > 0:
                self._storm_left -= 1
                return Fault.RATE_429
            roll = self._random.random()
            after = self._random.random() < 0.5
            for share, fault in (
                (f.rate_429, Fault.RATE_429),
                (f.error_5xx, Fault.ERROR_5XX_AFTER if after else Fault.ERROR_5XX_BEFORE),
                (f.drop, Fault.DROP_AFTER if after else Fault.DROP_BEFORE),
                (f.slow, Fault.SLOW),
            ):
                if roll < share:
                    if fault is Fault.RATE_429:
                        self._storm_left = max(f.storm_length - 1, 0)
                    return fault
                roll -= share
            return Fault.NONE


class TokenBucket:
    """``rate`` tokens per second, holding at most ``rate`` (one second of burst)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class CompanyLimiter:
    """The per-company limits: one bucket for GETs, one for writes."""

    def __init__(self, limits: RateLimits) -> None:
        self.configure(limits)

    def configure(self, limits: RateLimits) -> None:
        self.limits = limits
        self._get = TokenBucket(limits.get)
        self._write = TokenBucket(limits.write)

    def allow(self, method: str) -> bool:
        if not self.limits.enabled:
            return True
        return (self._write if method in WRITE_METHODS else self._get).take()
