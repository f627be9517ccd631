"""The pure part of a deploy: release names, what a rollback returns to, what is pruned, addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.deploy import DeployError, RunnerAddress, parse_address, previous_release, release_name
from engine.deploy import releases_to_prune as prune
from engine.deploy.release import check_is_newest, normalize_sha, releases_among

SHA = "0123456789abcdef0123456789abcdef01234567"
R1, R2, R3, R4, R5 = (f"2025010{d}T063000Z-0123456789ab" for d in range(1, 6))


def test_release_names_are_utc_to_the_second_and_sort_by_time() -> None:
    paris = timezone(timedelta(hours=1))
    assert (
        release_name(datetime(2025, 1, 15, 7, 30, 5, 999, tzinfo=paris), SHA)
        == "20250115T063005Z-0123456789ab"
    )
    assert release_name(datetime(2025, 1, 15, 6, 30, tzinfo=UTC), SHA.upper()).endswith("-0123456789ab")
    later = release_name(datetime(2025, 1, 15, 6, 30, 6, tzinfo=UTC), "f" * 40)
    assert sorted([later, "20250115T063005Z-0123456789ab"])[-1] == later
    with pytest.raises(ValueError, match="timezone-aware"):
        release_name(datetime(2025, 1, 15), SHA)  # a naive time is refused


@pytest.mark.parametrize("bad", ["", "HEAD", "0123456789a", "g123456789abcdef", "01234567 89abcdef"])
def test_a_commit_id_must_be_hexadecimal_and_long_enough(bad: str) -> None:
    with pytest.raises(DeployError, match="is not a commit id") as caught:
        normalize_sha(bad)
    assert caught.value.hint is not None and "--sha" in caught.value.hint


def test_only_release_folders_count_in_a_listing() -> None:
    listing = [R2, ".20250103T063000Z-0123456789ab.1a2b.partial", "notes", R1, "20250101-0123456789ab"]
    assert releases_among(listing) == [R1, R2]


@pytest.mark.parametrize(
    ("releases", "current", "expected"),
    [
        ([R1, R2, R3], R3, R2),
        ([R1, R2, R3], R2, R1),
        ([R1], R1, None),
        ([], None, None),
        ([R1, R2], None, None),
    ],
)
def test_previous_release(releases: list[str], current: str | None, expected: str | None) -> None:
    assert previous_release(releases, current) == expected


@pytest.mark.parametrize(
    ("releases", "current", "keep", "pruned"),
    [
        ([R1, R2, R3, R4, R5], R5, 5, []),
        ([R1, R2, R3, R4, R5], R5, 3, [R1, R2]),
        ([R1, R2, R3, R4, R5], R5, 1, [R1, R2, R3]),  # the previous release is always kept
        ([R1, R2, R3, R4, R5], R2, 2, [R3]),  # a current that is not the newest (set by hand) is kept
        ([R3, R1, R2], R3, 2, [R1]),  # listing order does not matter
    ],
)
def test_pruning_keeps_the_newest_and_always_current_and_previous(
    releases: list[str], current: str, keep: int, pruned: list[str]
) -> None:
    assert prune(releases, current, keep) == pruned


def test_a_release_must_be_newer_than_every_release_on_the_host() -> None:
    check_is_newest(R3, [R1, R2], "host")
    for existing in ([R1, R3], [R1, "20250103T063000Z-ffffffffffff"], [R4]):
        with pytest.raises(DeployError, match="is not older than") as caught:
            check_is_newest(R3, existing, "deploy@runner:/srv/lmsync")
        assert "clock" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy@runner", RunnerAddress("deploy", "runner", 2200)),
        ("deploy@runner.internal:2222", RunnerAddress("deploy", "runner.internal", 2222)),
        ("deploy@10.0.0.5", RunnerAddress("deploy", "10.0.0.5", 2200)),
        ("deploy@[::1]:2222", RunnerAddress("deploy", "::1", 2222)),
        (" ops@[fe80::1] ", RunnerAddress("ops", "fe80::1", 2200)),
    ],
)
def test_runner_addresses(text: str, expected: RunnerAddress) -> None:
    assert parse_address(text, default_port=2200) == expected


def test_address_text_and_known_hosts_name_follow_openssh() -> None:
    assert str(RunnerAddress("deploy", "runner")) == "deploy@runner"
    assert RunnerAddress("deploy", "runner").known_hosts_name == "runner"
    assert str(RunnerAddress("deploy", "::1", 2222)) == "deploy@[::1]:2222"
    assert RunnerAddress("deploy", "10.0.0.5", 2222).known_hosts_name == "[10.0.0.5]:2222"


@pytest.mark.parametrize(
    "bad",
    [
        "runner",
        "deploy@",
        "deploy@run ner",
        "deploy@runner:0",
        "deploy@runner:99999",
        "a@b@c",
        "deploy@runner:ssh",
    ],
)
def test_bad_addresses_are_refused_with_the_accepted_form(bad: str) -> None:
    with pytest.raises(DeployError) as caught:
        parse_address(bad)
    assert bad in caught.value.message
    assert caught.value.hint is not None and "deploy@" in caught.value.hint
