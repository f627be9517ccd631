"""The runner's notion of "now", injected so tests control time without sleeping.

Everything in the runner that needs the time asks a ``Clock``; only ``SystemClock`` reads
the real one. It must never return a naive datetime: the state store refuses those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
