"""The LMS as the HRIS sync's target (work in progress, brief A)."""

from __future__ import annotations


class LmsTarget:
    """Reads a snapshot of the synced group and performs plan actions."""
