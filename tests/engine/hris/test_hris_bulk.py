"""Column-wise row rules agree with the per-cell rules of ``rows.py`` on every cell."""

from __future__ import annotations

import random

import pytest

from engine.hris import bulk
from engine.hris.rows import normalize_email

TRICKY = ["a", "B", "@", ".", " ", "\t", "\u00a0", "\u2028", "é", "-", "\n", "\x1c", "..", "@."]


def _email(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.6:
        local = "".join(rng.choice("abcXYZ.+-_0") for _ in range(rng.randrange(1, 9)))
        domain = "".join(rng.choice("abc-.") for _ in range(rng.randrange(0, 6)))
        return (
            rng.choice(["", " ", "  "])
            + f"{local}@{domain}.{rng.choice(['org', 'FR', 'x', ''])}"
            + rng.choice(["", " "])
        )
    return "".join(rng.choice(TRICKY) for _ in range(rng.randrange(0, 12)))


@pytest.mark.parametrize("seed", range(20))
def test_bulk_email_rule_equals_the_per_cell_rule(seed: int) -> None:
    rng = random.Random(seed)
    cells = [_email(rng) for _ in range(rng.choice([1, 50, 9000]))]
    emails, invalid = bulk.normalized_emails(cells)
    expected = [normalize_email(cell) for cell in cells]
    assert invalid == [i for i, e in enumerate(expected) if e is None]
    assert [e for e, want in zip(emails, expected, strict=True) if want is not None] == [
        e for e in expected if e is not None
    ]


@pytest.mark.parametrize(
    "odd",
    [
        "a@b.c",  # the shortest valid one
        "x" * 250 + "@b.co",  # 255 characters: too long
        "a@.b",  # dot first in the domain
        "a@b.",  # dot last
        "a@b..",
        "a@..b",  # a dot strictly inside: valid
        "a@b@c.d",
        "@b.co",
        "a b@c.de",
        "a@b.c\u00a0",  # non-ASCII whitespace inside (after trimming? no: it is trimmed)
        "a\u00a0b@c.de",
        "MIXED@Case.ORG",
    ],
)
def test_one_odd_address_among_many_valid_ones(odd: str) -> None:
    cells = [f"user{i}@acme.example" for i in range(10_000)]
    cells[7_777] = odd
    emails, invalid = bulk.normalized_emails(cells)
    expected = normalize_email(odd)
    assert invalid == ([] if expected is not None else [7_777])
    if expected is not None:
        assert emails[7_777] == expected


def test_stripped_skips_the_pass_only_when_no_distinct_value_needs_it() -> None:
    column = ["Paris", "Lyon", "Paris"]
    assert bulk.stripped(column, {"Paris", "Lyon"}) is column
    assert bulk.stripped([" Paris", "Lyon"], {" Paris", "Lyon"}) == ["Paris", "Lyon"]
    assert bulk.stripped([" a ", "b"]) == ["a", "b"]


def test_positions_of_finds_every_occurrence_in_order() -> None:
    column = ["Active", "Left", "Active", "Inactive", "Left"]
    assert bulk.positions_of(column, ["Left", "Inactive"]) == [1, 3, 4]
    assert bulk.positions_of(column, []) == []


def test_distinct_decides_each_value_once() -> None:
    seen: list[str] = []

    def decide(value: str) -> int:
        seen.append(value)
        return len(value)

    lengths = bulk.Distinct(decide)
    assert list(map(lengths.__getitem__, ["ab", "c", "ab", "ab"])) == [2, 1, 2, 2]
    assert seen == ["ab", "c"]


def test_emails_over_several_slices_are_lowered_without_touching_the_column() -> None:
    cells = [f"user{i}@acme.example" for i in range(70_000)]
    cells[69_000] = " Ada@Example.ORG "
    cells[3] = "not an e-mail"
    original = list(cells)
    emails, invalid = bulk.normalized_emails(cells)
    assert cells == original
    assert invalid == [3]
    assert emails[69_000] == "ada@example.org" and emails[0] == "user0@acme.example"
