"""The collector pause used by the core must always restore the collector's state."""

from __future__ import annotations

import gc

import pytest

from engine.hris.gcpause import collector_paused, without_collector


@pytest.mark.parametrize("enabled_before", [True, False])
def test_collector_state_is_restored_even_on_error(enabled_before: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled_before else gc.disable)()
    try:
        with pytest.raises(ValueError), collector_paused():
            assert not gc.isenabled()
            with collector_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
            raise ValueError("boom")
        assert gc.isenabled() is enabled_before
    finally:
        (gc.enable if was else gc.disable)()


def test_decorated_function_runs_paused_and_returns_its_value() -> None:
    @without_collector
    def probe(x: int) -> tuple[int, bool]:
        return x * 2, gc.isenabled()

    assert probe(21) == (42, False)
    assert gc.isenabled()
