"""Throttling-aware pacing: slow down before Cornerstone says 429, not after.

Cornerstone limits each API URI per hour and says how much is left on every answer
(``x-csod-throttling-rate-limit-urilevel``, ``x-csod-requests-remaining-urilevel``). When
what remains of a URI's budget falls under a share of it, the pacer spaces that URI's next
calls at the sustainable rate (window / limit) instead of running into the wall; a 429 that
still happens is retried by the client after the server's ``Retry-After``.

Pure bookkeeping around an injected clock and sleep; it never performs a request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LIMIT_HEADER = "x-csod-throttling-rate-limit-urilevel"
REMAINING_HEADER = "x-csod-requests-remaining-urilevel"


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int


def read_budget(headers: Mapping[str, str]) -> Budget | None:
    """The URI's budget from an answer's headers; None when the portal did not send them."""
    try:
        limit = int(headers[LIMIT_HEADER])
        remaining = int(headers[REMAINING_HEADER])
    except (KeyError, ValueError):
        return None
    if limit <= 0:
        return None
    return Budget(limit, max(remaining, 0))


class ThrottlePacer:
    """Per-URI spacing of calls from the throttling headers.

    ``window_seconds`` is the period the limit applies to (an hour on Cornerstone);
    ``slow_below`` is the share of the budget under which calls are spaced out.
    """

    def __init__(
        self,
        *,
        window_seconds: float = 3600.0,
        slow_below: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window_seconds = window_seconds
        self.slow_below = slow_below
        self._clock = clock
        self._sleep = sleep
        self._next_call: dict[str, float] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        self.waits = 0

    def before(self, uri: str) -> None:
        """Block until ``uri`` may be called again."""
        with self._lock:
            delay = self._next_call.get(uri, 0.0) - self._clock()
        if delay > 0:
            self.waits += 1
            self.waited_seconds += delay
            self._sleep(delay)

    def after(self, uri: str, headers: Mapping[str, str]) -> None:
        """Record an answer's budget for ``uri``."""
        budget = read_budget(headers)
        if budget is None:
            return
        if budget.remaining > budget.limit * self.slow_below:
            with self._lock:
                self._next_call.pop(uri, None)
            return
        spacing = self.window_seconds / budget.limit
        if budget.remaining == 0:
            # Nothing left: the next call can only succeed in a new window; wait a full slot
            # more so we do not spend the first call of that window on a 429.
            spacing *= 2
        with self._lock:
            self._next_call[uri] = self._clock() + spacing

    def hold(self, uri: str, seconds: float) -> None:
        """A 429 said to wait: no call to ``uri`` before ``seconds`` from now."""
        with self._lock:
            self._next_call[uri] = max(self._next_call.get(uri, 0.0), self._clock() + seconds)
