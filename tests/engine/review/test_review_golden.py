"""Golden files of the pull-request comment, reviewed like code.

Each scenario runs the real parts -- the config loader, the HRIS planner on a generated file,
the wording, the plan comparison and the Jinja2 template -- and compares the Markdown with
``golden/<scenario>.md``. Regenerate after an intended change with
``LMSYNC_UPDATE_GOLDEN=1 pytest tests/engine/review`` and review the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.hris import Snapshot
from engine.review.effect import Allowance
from engine.review.git import ChangedFile
from engine.review.planners import file_planner
from engine.review.render import COMMENT_LIMIT, MARKER, render_markdown, render_text
from engine.review.report import CustomerReview, Review, review_texts
from tests.engine.review import cornerstone_samples, samples

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LMSYNC_UPDATE_GOLDEN") == "1"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
BASE_SHA, HEAD_SHA = "1" * 40, "2" * 40
PATH = "customers/acme.yaml"


def _review(*customers: CustomerReview) -> Review:
    return Review(base=BASE_SHA, head=HEAD_SHA, env="test", customers=customers)


def _modified(
    head: str, data: Path, instance: Snapshot | None = None, allowance: Allowance | None = None
) -> Review:
    """The review of acme.yaml edited from ``BASE_YAML`` to ``head``, planned on ``data``
    against ``instance`` (default: 12 managed users)."""
    return _review(
        review_texts(
            ChangedFile("modified", PATH),
            samples.BASE_YAML,
            head,
            planner=file_planner(instance or samples.managed_instance(12)),
            input=data,
            allowance=allowance,
        )
    )


def mapping_change(tmp: Path) -> Review:
    head = samples.edited(("    lastName: last_name\n", "    lastName: last_name\n    title: title\n"))
    data = samples.hris_csv(tmp / "hris.csv", 12)
    return _modified(head, data)


def custom_field_dropped(tmp: Path) -> Review:
    # The runner fed "Location" until now; the review plans with that memory (the base file's),
    # so the values the next sync removes are in the data effect, not only in words.
    head = samples.edited(("  custom_fields:\n    location: Location\n", ""))
    data = samples.hris_csv(tmp / "hris.csv", 12)
    return _modified(head, data, samples.managed_instance(12, with_location=True))


def filter_adds_users(tmp: Path) -> Review:
    head = samples.edited(("filter: {location: [Paris]}", "filter: {location: [Paris, Lyon]}"))
    data = samples.hris_csv(tmp / "hris.csv", 16)
    return _modified(head, data)


def guard_trips(tmp: Path) -> Review:
    # 12 managed users, 8 in the file; missing users are now deleted: 4 deletions, 2 allowed.
    head = samples.edited(("  safety:", "  missing_users: delete\n  safety:"))
    data = samples.hris_csv(tmp / "hris.csv", 8)
    return _modified(head, data)


def guard_allowed_by_label(tmp: Path) -> Review:
    head = samples.edited(("  safety:", "  missing_users: delete\n  safety:"))
    data = samples.hris_csv(tmp / "hris.csv", 8)
    return _modified(head, data, allowance=Allowance(4, "label allow-deletions:4"))


def new_customer(tmp: Path) -> Review:
    data = samples.hris_csv(tmp / "hris.csv", 6)
    return _review(
        review_texts(ChangedFile("added", PATH), None, samples.BASE_YAML, planner=file_planner(), input=data)
    )


def deleted_customer(tmp: Path) -> Review:
    return _review(
        review_texts(
            ChangedFile("deleted", PATH), samples.BASE_YAML, None, planner=file_planner(), input=None
        )
    )


def huge_plan(tmp: Path) -> Review:
    # Two customers of 4,000 employees each, all new: far more rows than one comment holds.
    data = samples.hris_csv(tmp / "hris.csv", 4000)
    customers = []
    for slug in ("acme", "globex"):
        text = samples.edited(("customer: acme", f"customer: {slug}"))
        change = ChangedFile("added", f"customers/{slug}.yaml")
        customers.append(review_texts(change, None, text, planner=file_planner(), input=data))
    return _review(*customers)


def cornerstone_change(tmp: Path) -> Review:
    # A Cornerstone-only customer: the comment is the configuration change alone.
    head = samples.edited(
        ("subjects: {sales: [Sales]}", "subjects: {sales: [Sales & Marketing]}"),
        ("timezone: Europe/Paris}", "timezone: Europe/Paris, in_progress: true}"),
        ("secret: env:ACME_SSO_SECRET}", "secret: env:ACME_SSO_SECRET_V2, max_age_seconds: 120}"),
        text=cornerstone_samples.CORNERSTONE_ONLY,
    )
    change = ChangedFile("modified", PATH)
    return _review(
        review_texts(change, cornerstone_samples.CORNERSTONE_ONLY, head, planner=file_planner(), input=None)
    )


def sso_switch(tmp: Path) -> Review:
    saml = cornerstone_samples.SAML_METHOD + cornerstone_samples.pinned(
        cornerstone_samples.certificate(cornerstone_samples.EXPIRES_2031)
    )
    base = samples.edited(
        ("    method: {type: jwt, secret: env:ACME_SSO_SECRET}\n", saml),
        text=cornerstone_samples.CORNERSTONE_ONLY,
    )
    change = ChangedFile("modified", PATH)
    return _review(
        review_texts(change, base, cornerstone_samples.CORNERSTONE_ONLY, planner=file_planner(), input=None)
    )


def cornerstone_new_customer(tmp: Path) -> Review:
    change = ChangedFile("added", PATH)
    return _review(
        review_texts(change, None, cornerstone_samples.CORNERSTONE_ONLY, planner=file_planner(), input=None)
    )


SCENARIOS: dict[str, Callable[[Path], Review]] = {
    "mapping_change": mapping_change,
    "custom_field_dropped": custom_field_dropped,
    "filter_adds_users": filter_adds_users,
    "guard_trips": guard_trips,
    "guard_allowed_by_label": guard_allowed_by_label,
    "new_customer": new_customer,
    "deleted_customer": deleted_customer,
    "huge_plan": huge_plan,
    "cornerstone_change": cornerstone_change,
    "sso_switch": sso_switch,
    "cornerstone_new_customer": cornerstone_new_customer,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_comment_matches_golden_file(scenario: str, tmp_path: Path) -> None:
    markdown = render_markdown(SCENARIOS[scenario](tmp_path))
    golden = GOLDEN / f"{scenario}.md"
    if UPDATE:
        golden.write_text(markdown, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run with LMSYNC_UPDATE_GOLDEN=1 and review it"
    assert markdown == golden.read_text(encoding="utf-8")


def test_golden_files_show_no_email_and_no_name() -> None:
    files = sorted(GOLDEN.glob("*.md"))
    assert len(files) == len(SCENARIOS)
    names = re.compile(r"\b(" + "|".join(samples.FIRST_NAMES + samples.LAST_NAMES) + r")\b", re.IGNORECASE)
    for golden in files:
        text = golden.read_text(encoding="utf-8")
        assert not EMAIL.search(text), f"{golden.name} shows an e-mail address"
        assert not names.search(text), f"{golden.name} shows a name: {names.search(text)}"
        assert not re.search(r"\bE\d{5}\b", text), f"{golden.name} shows a uniqueId in clear"
        assert text.startswith(MARKER)


def test_huge_plan_is_cut_to_the_comment_limit_with_a_note(tmp_path: Path) -> None:
    review = huge_plan(tmp_path)
    markdown = render_markdown(review)
    full = render_markdown(review, limit=10**9, max_rows=None)
    assert len(full) > COMMENT_LIMIT
    assert len(markdown) <= COMMENT_LIMIT
    assert "full report is the workflow artifact `lmsync-diff-report`" in markdown
    # The summary lines are never cut.
    assert "- **acme**: +3000 create" in markdown and "- **globex**: +3000 create" in markdown


def test_even_the_details_are_dropped_when_the_limit_demands_it(tmp_path: Path) -> None:
    review = huge_plan(tmp_path)
    markdown = render_markdown(review, limit=2_000)
    assert len(markdown) <= 2_000
    assert "<details>" not in markdown
    assert "- **acme**:" in markdown and markdown.startswith(MARKER)


def test_the_terminal_text_says_the_same_without_markdown(tmp_path: Path) -> None:
    text = render_text(guard_trips(tmp_path))
    assert text.splitlines()[1] == "  acme: +0 create, ~6 update, -4 delete; deletion guard BLOCKS the sync"
    assert "Deletion guard: 4 deletion(s), 2 allowed: BLOCKED (label allow-deletions:4 allows it)" in text
    assert "<details>" not in text and not EMAIL.search(text)
