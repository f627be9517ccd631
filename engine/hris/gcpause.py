"""Pauses Python's cyclic garbage collector while the core builds millions of small objects.

Reading, desired state and planning allocate one container per row and per user and free
none of them until the end; each allocation burst triggers a full collection that walks every
live object -- the snapshot included -- for nothing (these objects hold no reference cycles).
At a million users that is most of the run time. Reference counting still frees memory.

This must never leave the collector disabled: it restores the previous state on exit, even
on error, and it nests.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def without_collector(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with the cyclic collector paused."""

    @wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return function(*args, **kwargs)

    return paused
