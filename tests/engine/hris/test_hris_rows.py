"""Row rules of the reference, one test per rule: what a row asks for, or why it is ignored."""

from __future__ import annotations

import pytest

from engine.errors import FileLevelError
from engine.hris import ProblemCode

from .factories import desired_from, hris_config

HEAD = "uniqueId,status,email"


def codes(text: str, **config: object) -> list[tuple[int, str | None, str]]:
    desired = desired_from(text, hris_config(**config) if config else None)
    return [(p.line, p.unique_id, p.code) for p in desired.problems]


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("Active", True),
        (" active ", True),
        ("ACTIVE", True),
        ("Inactive", False),
        ("", False),
        ("Actif", False),
    ],
)
def test_status_active_trimmed_any_case_upserts_anything_else_deletes(status: str, active: bool) -> None:
    desired = desired_from(f"{HEAD}\n1,{status},ada@example.org\n")
    assert desired.users["1"].active is active


def test_email_is_trimmed_and_lower_cased() -> None:
    assert (
        desired_from(f"{HEAD}\n1,Active,  Ada.Lovelace@Example.ORG \n").users["1"].email
        == "ada.lovelace@example.org"
    )


@pytest.mark.parametrize("email", ["", "ada", "ada@example", "ada @example.org", "a@b@c.org"])
def test_invalid_email_ignores_the_row_with_line_and_code(email: str) -> None:
    text = f"{HEAD}\n1,Active,{email}\n2,Active,ok@example.org\n"
    desired = desired_from(text)
    assert codes(text) == [(2, "1", ProblemCode.INVALID_EMAIL)]
    assert list(desired.users) == ["2"] and desired.ignored == 1


def test_deleting_row_needs_no_valid_email() -> None:
    assert desired_from(f"{HEAD}\n1,Inactive,\n").users["1"].active is False


def test_every_row_of_a_duplicated_unique_id_is_skipped_with_all_lines() -> None:
    text = f"{HEAD}\n7,Active,a@example.org\n8,Active,b@example.org\n7,Inactive,x\n 7 ,Active,c@example.org\n"
    desired = desired_from(text)
    assert list(desired.users) == ["8"]
    assert desired.duplicated == 3
    assert codes(text) == [(2, "7", "duplicated"), (4, "7", "duplicated"), (5, "7", "duplicated")]
    assert "lines 2, 4, 5" in desired.problems[0].message


def test_empty_unique_id_is_ignored() -> None:
    assert codes(f"{HEAD}\n ,Active,a@example.org\n") == [(2, None, ProblemCode.EMPTY_UNIQUE_ID)]


def test_wrong_field_count_is_a_row_problem_not_a_file_problem() -> None:
    text = f"{HEAD},title\n1,Active,a@example.org\n2,Active,b@example.org,CEO\n"
    assert codes(text, fields={"title": "title"}) == [(2, "1", ProblemCode.WRONG_FIELD_COUNT)]


def test_a_row_ignored_for_its_data_still_counts_as_present() -> None:
    # so that missing_users=delete never deletes a user whose row merely has a typo
    desired = desired_from(f"{HEAD}\n1,Active,not-an-email\n2,Active,b@example.org,extra\n")
    assert desired.present == {"1", "2"} and not desired.users


def test_filter_is_and_across_columns_or_across_values_exact_after_trim() -> None:
    text = (
        f"{HEAD},location,contract\n"
        "1,Active,a@example.org,Paris,CDI\n"
        "2,Active,b@example.org, Lyon ,CDI\n"
        "3,Active,c@example.org,Paris,CDD\n"
        "4,Active,d@example.org,London,CDI\n"
        "5,Active,e@example.org,paris,CDI\n"  # case-sensitive: not Paris
    )
    desired = desired_from(text, hris_config(filter={"location": ["Paris", "Lyon"], "contract": ["CDI"]}))
    assert sorted(desired.users) == ["1", "2"]
    assert desired.filtered_out == 3


def test_filter_on_a_column_the_file_lacks_is_a_file_level_error() -> None:
    with pytest.raises(FileLevelError, match=r"column 'site' used by hris\.filter"):
        desired_from(f"{HEAD}\n1,Active,a@example.org\n", hris_config(filter={"site": ["Paris"]}))


@pytest.mark.parametrize(
    ("cell", "code"),
    [("fr", "fr"), ("EN", "en"), ("pt-br", "pt-BR"), ("Français", "fr"), ("english", "en"), ("", "")],
)
def test_language_by_iso_code_or_configured_name_case_insensitive(cell: str, code: str) -> None:
    config = hris_config(fields={"language": "language"}, languages={"Français": "fr", "English": "en"})
    desired = desired_from(f"{HEAD},language\n1,Active,a@example.org,{cell}\n", config)
    assert desired.users["1"].profile == (code,)


def test_unknown_language_ignores_the_row() -> None:
    text = f"{HEAD},language\n1,Active,a@example.org,Klingon\n"
    assert codes(text, fields={"language": "language"}) == [(2, "1", ProblemCode.UNKNOWN_LANGUAGE)]


@pytest.mark.parametrize(
    ("cell", "valid"),
    [
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("2024-1-05", False),
        ("05/01/2024", False),
        ("20240105", False),
        ("", True),
    ],
)
def test_dates_are_real_calendar_days_written_yyyy_mm_dd(cell: str, valid: bool) -> None:
    text = f"{HEAD},hireDate\n1,Active,a@example.org,{cell}\n"
    problems = codes(text, custom_fields={"hireDate": {"title": "Hire date", "type": "date"}})
    assert problems == ([] if valid else [(2, "1", ProblemCode.INVALID_DATE)])


def test_absent_column_leaves_the_field_alone_present_but_empty_clears_it() -> None:
    config = hris_config(fields={"firstName": "first_name", "title": "title"})
    absent = desired_from(f"{HEAD},firstName\n1,Active,a@example.org,Ada\n", config)
    empty = desired_from(f"{HEAD},firstName,title\n1,Active,a@example.org,Ada,\n", config)
    assert absent.profile_fields == ("firstName",) and absent.users["1"].profile == ("Ada",)
    assert empty.profile_fields == ("firstName", "job") and empty.users["1"].profile == ("Ada", "")


def test_a_mapped_column_the_header_lacks_is_a_note_with_a_guess_and_every_row_still_syncs() -> None:
    # A typo in the customer file ("firstname") would otherwise silently stop feeding the field.
    config = hris_config(
        fields={"firstname": "first_name", "title": "title"}, custom_fields={"hireDate": "Hire date"}
    )
    desired = desired_from(f"{HEAD},firstName\n1,Active,a@example.org,Ada\n", config)
    assert set(desired.users) == {"1"} and desired.ignored == 0
    notes = [(p.line, p.unique_id, p.code, p.synced) for p in desired.problems]
    assert notes == [(1, None, ProblemCode.MAPPED_COLUMN_ABSENT, True)] * 3
    typo, title, hired = (p.message for p in desired.problems)
    assert typo.startswith("column 'firstname' mapped in hris.fields is not in the header")
    assert "Did you mean 'firstName'?" in typo
    assert "Did you mean" not in title  # nothing close: no guess
    assert hired.startswith("column 'hireDate' mapped in hris.custom_fields is not in the header")


def test_manager_column_absent_is_none_empty_is_clear() -> None:
    config = hris_config(fields={"managerId": "manager"})
    assert desired_from(f"{HEAD}\n1,Active,a@example.org\n", config).users["1"].manager is None
    assert desired_from(f"{HEAD},managerId\n1,Active,a@example.org, \n", config).users["1"].manager == ""


def test_hierarchy_path_stops_at_the_first_empty_level() -> None:
    config = hris_config(groups={"hierarchy": ["country", "site"]})
    text = f"{HEAD},country,site\n1,Active,a@x.org,France,Paris\n2,Active,b@x.org,France,\n"
    text += "3,Active,c@x.org,,Paris\n"
    users = desired_from(text, config).users
    assert [users[u].group_path for u in "123"] == [("France", "Paris"), ("France",), ()]


def test_group_rules_match_and_across_columns_or_across_values() -> None:
    config = hris_config(
        groups={
            "rules": [
                {"when": {"department": ["Sales", "Presales"]}, "group": "g-sales"},
                {"when": {"department": ["Sales"], "country": ["France"]}, "group": "g-fr-sales"},
            ]
        }
    )
    text = (
        f"{HEAD},department,country\n"
        "1,Active,a@x.org,Sales,France\n2,Active,b@x.org,Presales,France\n3,Active,c@x.org,HR,France\n"
    )
    users = desired_from(text, config).users
    assert [users[u].rule_groups for u in "123"] == [("g-sales", "g-fr-sales"), ("g-sales",), ()]


def test_problem_messages_never_contain_the_cell_values() -> None:
    text = f"{HEAD},language\n1,Active,ada.secret@example,Klingon\n2,Active,bob@example.org,Klingon\n"
    desired = desired_from(text, hris_config(fields={"language": "language"}))
    assert len(desired.problems) == 2
    for problem in desired.problems:
        assert (
            "secret" not in problem.message
            and "bob" not in problem.message
            and "Klingon" not in problem.message
        )
