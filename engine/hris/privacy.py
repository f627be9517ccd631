"""Masking of personal data in everything a plan shows: PR comments, CI logs, terminals.

E-mails, first and last names are replaced by ``<masked:3fa9c1>``: a short hash of the value,
stable across runs, so a reviewer still sees *that* a value changed (the hash changes) and
that two cells hold the same value, without seeing it. ``review.show_personal_data`` turns
this off for synthetic test data only.

This module must never log, store or return a personal value unless asked to show it.
"""

from __future__ import annotations

import hashlib

#: Plan field names whose values are personal data.
PERSONAL_FIELDS: frozenset[str] = frozenset({"mail", "firstName", "lastName"})


def mask(value: str) -> str:
    """``<masked:xxxxxx>``: six hex digits of the value's SHA-256."""
    return f"<masked:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:6]}>"


def shown(field: str, value: str | None, *, show_personal_data: bool) -> str | None:
    """The value as a plan may show it: masked when personal, unless told otherwise."""
    if value is None or show_personal_data or field not in PERSONAL_FIELDS:
        return value
    return mask(value)
