"""``lmsync schema``: print the customer file's JSON Schema, generated from the models.

``schemas/customer.schema.json`` is exactly this output (a test enforces it), so editors and
``check-jsonschema`` see what ``lmsync validate`` sees. It must never print anything else on
stdout, so the output can be redirected into the committed file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.config.schema import schema_text
from engine.console import Reporter


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schema",
        help="print the customer file's JSON Schema",
        description="Print the JSON Schema (Draft 2020-12) of customer files, generated from the "
        "configuration models. Redirect it to schemas/customer.schema.json after changing them.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    sys.stdout.write(schema_text())
    return 0
