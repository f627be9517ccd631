"""The customer file's JSON Schema: generated from the models, committed, compiled once.

Editors autocomplete from ``schemas/customer.schema.json`` and ``lmsync validate`` checks
files against it; both must say exactly what the models say, so the file is only ever the
output of ``schema_text()`` (a test fails when they differ). The compiled validator is built
once per process: compiling dominates the cost of checking one small file.

This module must never edit the committed file at import time or validate semantics: the
schema is structure only; meaning is checked in ``semantics.py``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from engine.config.models import CustomerConfig

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: Where the committed schema lives in a source checkout.
COMMITTED_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "customer.schema.json"


def generate_schema() -> dict[str, Any]:
    """The schema of ``CustomerConfig``, with ``$schema`` and ``$id`` first."""
    body = CustomerConfig.model_json_schema(mode="validation")
    head = {"$schema": DRAFT, "$id": body.pop("$id")}
    return {**head, **body}


def schema_text() -> str:
    """The exact text of ``schemas/customer.schema.json``: stable order, trailing newline."""
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def customer_schema() -> dict[str, Any]:
    """The committed schema when this is a checkout that has it, else the generated one."""
    try:
        loaded: dict[str, Any] = json.loads(COMMITTED_SCHEMA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return generate_schema()
    return loaded


@lru_cache(maxsize=1)
def customer_validator() -> Draft202012Validator:
    """The compiled Draft 2020-12 validator, built once per process."""
    schema = customer_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
