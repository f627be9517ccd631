"""The columnar path's written-out character set stays what ``str.strip`` removes."""

from __future__ import annotations

import sys

from engine.hris.columnar import _SPACES


def test_spaces_are_exactly_what_str_strip_removes() -> None:
    """Polars trims with this set where the row rules call ``str.strip``: a character Python
    counts as space and the set lacks would leave a padded cell unequal to the LMS value on
    one path only (and the other way round)."""
    python_spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert python_spaces == _SPACES
    assert all(f"{space}x{space}".strip() == "x" for space in _SPACES)
