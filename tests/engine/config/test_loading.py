"""The library API other parts call, and the YAML-safety limits that need generated inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import (
    CustomerConfig,
    InvalidConfigError,
    check_bytes,
    check_text,
    load_config,
    load_config_text,
    validate_paths,
)
from engine.config.document import MAX_FILE_BYTES
from engine.errors import ConfigError


def as_yaml_text(data: dict[str, object]) -> str:
    """The same data as YAML text (JSON is YAML), to run it through the whole validator."""
    return json.dumps(data)


EXAMPLES = Path(__file__).parents[3] / "examples" / "customers"

MINIMAL = """\
version: 1
customer: acme
environments:
  test:
    lms: {url: "http://127.0.0.1:8360", client_id: env:ACME_ID, client_secret: env:ACME_SECRET}
"""


def test_load_config_text_returns_a_typed_frozen_config_with_defaults() -> None:
    config = load_config_text(MINIMAL, "customers/acme.yaml")
    assert isinstance(config, CustomerConfig)
    assert config.customer == "acme"
    assert config.environments["test"].lms.client_secret == "env:ACME_SECRET"
    with pytest.raises(ValidationError):
        config.customer = "other"


def test_load_config_raises_a_config_error_carrying_every_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(MINIMAL.replace("version: 1", "version: 3") + "hris: {silnet: true}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert isinstance(error, InvalidConfigError)
    assert [(d.line, d.path) for d in error.diagnostics][:2] == [(1, "version"), (6, "hris")]
    assert str(error).startswith(f"{path}:1:10: version: expected 1, got 3 (and ")
    assert "lmsync validate" in str(error)


def test_load_config_on_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert [d.code for d in caught.value.diagnostics] == ["io-error"]


def test_the_slug_is_checked_against_the_name_given_for_a_revision() -> None:
    checked = check_text(MINIMAL, "customers/globex.yaml")
    assert [(d.line, d.column, d.code) for d in checked.diagnostics] == [(2, 11, "slug-mismatch")]


def test_files_over_one_mebibyte_are_refused_before_parsing() -> None:
    raw = MINIMAL.encode() + b"#" * MAX_FILE_BYTES
    (diagnostic,) = check_bytes(raw, "acme.yaml").diagnostics
    assert (diagnostic.line, diagnostic.column, diagnostic.code) == (1, 1, "too-large")
    assert "1 MiB" in diagnostic.message
    (from_text,) = check_text(raw.decode(), "acme.yaml").diagnostics
    assert from_text.code == "too-large"


def test_a_file_of_exactly_one_mebibyte_is_read() -> None:
    raw = MINIMAL.encode()
    raw += b"#" * (MAX_FILE_BYTES - len(raw))
    assert check_bytes(raw, "acme.yaml").valid


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert check_bytes(b"\xef\xbb\xbf" + MINIMAL.encode(), "acme.yaml").valid


def test_deep_nesting_is_refused_not_crashing() -> None:
    text = MINIMAL + "review: " + "[" * 5000 + "]" * 5000 + "\n"
    (diagnostic,) = check_text(text, "acme.yaml").diagnostics
    assert diagnostic.line == 6
    assert "depth" in diagnostic.message


def test_anchors_and_merge_keys_within_budget_are_plain_yaml() -> None:
    text = MINIMAL.replace(
        "environments:\n",
        'environments:\n  production:\n    lms: &lms {url: "https://app.360learning.com", '
        "client_id: env:ID, client_secret: env:SECRET}\n",
    ).replace(
        "    lms: {url",
        '    lms:\n      <<: *lms\n      url: "http://127.0.0.1:8360"\n      x-unused: {url',
    )
    checked = check_text(text, "acme.yaml")
    # The merge supplied client_id/client_secret; the explicit url won; the unknown key is named.
    assert [d.path for d in checked.diagnostics] == ["environments.test.lms.x-unused"]


def test_a_reused_anchor_name_is_not_a_warning() -> None:
    text = MINIMAL + "review: {show_personal_data: &flag false}\n"
    text = text.replace("environments:", "x: &flag 1\nenvironments:")
    assert [d.code for d in check_text(text, "acme.yaml").diagnostics] == ["unknown-key"]


def test_yaml_1_2_scalars_keep_times_and_norway_as_strings() -> None:
    text = MINIMAL + (
        "hris:\n  source: {type: folder, path: in}\n  group: g1\n  admin: a@acme.example\n"
        "  languages: {Norsk: no}\n  schedule: {times: [06:30, 23:30]}\n"
    )
    config = load_config_text(text, "acme.yaml")
    assert config.hris is not None
    assert config.hris.languages == {"Norsk": "no"}
    assert config.hris.schedule.times == ["06:30", "23:30"]


@pytest.mark.parametrize(
    ("hris_extra", "message"),
    [
        ({"fields": {"managerId": "manager", "boss": "manager"}}, "profile field 'manager' is mapped twice"),
        ({"schedule": {"timezone": "Europe/Pariss"}}, "unknown time zone 'Europe/Pariss' (did you mean"),
        ({"custom_fields": {"a": "Site", "b": {"title": "site"}}}, "custom field title 'site' is used twice"),
        ({"encryption": {"required": True}}, "encryption is required but no 'private_key'"),
    ],
)
def test_models_enforce_the_same_semantic_rules_as_the_validator(
    hris_extra: dict[str, object], message: str
) -> None:
    data = {
        "version": 1,
        "customer": "acme",
        "environments": {
            "test": {"lms": {"url": "http://h", "client_id": "env:A", "client_secret": "env:B"}}
        },
        "hris": {
            "source": {"type": "folder", "path": "in"},
            "group": "g",
            "admin": "a@acme.example",
            **hris_extra,
        },
    }
    with pytest.raises(ValidationError) as caught:
        CustomerConfig.model_validate(data)
    assert message in str(caught.value)
    assert message in "".join(str(d) for d in check_text(as_yaml_text(data), "acme.yaml").diagnostics)


def test_validate_paths_reports_missing_paths_and_accepts_the_examples(tmp_path: Path) -> None:
    diagnostics = validate_paths([EXAMPLES, tmp_path / "missing.yaml"])
    assert [(d.file, d.code) for d in diagnostics] == [(str(tmp_path / "missing.yaml"), "not-found")]


@pytest.mark.parametrize("name", ["demo", "globex", "initech"])
def test_examples_load(name: str) -> None:
    config = load_config(EXAMPLES / f"{name}.yaml")
    assert config.customer == name
    assert "test" in config.environments
    first_line = (EXAMPLES / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../../schemas/customer.schema.json"


def test_the_demo_matches_its_inbox_file() -> None:
    config = load_config(EXAMPLES / "demo.yaml")
    assert config.hris is not None and config.hris.source.type == "folder"
    inbox = (EXAMPLES / config.hris.source.path).resolve()
    (csv_file,) = sorted(inbox.glob(f"{config.hris.file.prefix}*.{config.hris.file.extension}"))
    header = csv_file.read_text(encoding="utf-8").splitlines()[0].split(",")
    mapped = [*config.hris.fields, *config.hris.custom_fields, *config.hris.groups.hierarchy]
    mapped += [column for rule in config.hris.groups.rules for column in rule.when]
    assert set(mapped) <= set(header)
    assert header[:3] == ["uniqueId", "status", "email"]
