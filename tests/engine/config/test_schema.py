"""The committed schema is exactly what the models generate, and it is a valid 2020-12 schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.cli.main import main
from engine.config.document import load_document
from engine.config.models import SECRET_REF_PATTERN
from engine.config.schema import COMMITTED_SCHEMA, generate_schema, schema_text

EXAMPLES = Path(__file__).parents[3] / "examples" / "customers"


def test_committed_schema_is_up_to_date_with_the_models() -> None:
    assert COMMITTED_SCHEMA.read_text(encoding="utf-8") == schema_text(), (
        "schemas/customer.schema.json is stale: run 'lmsync schema > schemas/customer.schema.json'"
    )


def test_lmsync_schema_prints_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == COMMITTED_SCHEMA.read_text(encoding="utf-8")
    assert out.endswith("}\n")


def test_schema_is_valid_draft_2020_12_with_editor_help() -> None:
    schema = generate_schema()
    Draft202012Validator.check_schema(schema)
    assert list(schema)[:2] == ["$schema", "$id"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    hris = schema["$defs"]["Hris"]
    assert hris["additionalProperties"] is False
    assert "description" in hris["properties"]["group"]
    assert hris["properties"]["fields"]["examples"]
    assert schema["properties"]["environments"]["additionalProperties"] is False


def test_schema_generation_is_stable() -> None:
    assert schema_text() == schema_text()
    assert json.loads(schema_text()) == generate_schema()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_pass_the_schema_alone(path: Path) -> None:
    document, problems = load_document(path.read_text(encoding="utf-8"), str(path))
    assert document is not None and not problems
    assert list(Draft202012Validator(generate_schema()).iter_errors(document.data)) == []


def test_every_secret_field_is_a_reference_in_the_schema() -> None:
    text = schema_text()
    for name in ("client_secret", "password", "passphrase", "private_key"):
        assert f'"{name}"' in text
    assert text.count(json.dumps(SECRET_REF_PATTERN)) >= 10
