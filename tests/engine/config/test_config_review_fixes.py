"""Fixes from a new-user review of config errors: mistyped secret references, YAML syntax hints.

A mistyped reference (``ENV:NAME``, ``env: NAME``, ``$NAME``) must be named as such with its
corrected form, not reported as a pasted secret to rotate; a real pasted value is still
reported as one and never repeated. YAML syntax errors keep ruamel's position and gain a fix.
"""

from __future__ import annotations

import pytest

from engine.config import check_text
from engine.config.secrets import reference_mistake, resolve_secret
from engine.errors import SecretError

FILE = "customers/acme.yaml"
PASTED = (
    "holds a value instead of a secret reference: write env:NAME (or file:PATH) and "
    "put the secret in that variable; rotate it if it was committed"
)

CONFIG = """\
version: 1
customer: acme
environments:
  test:
    lms:
      url: "http://127.0.0.1:8360"
      client_id: env:ACME_TEST_ID
      client_secret: {secret}
hris:
  source:
    type: folder
    path: ../inbox
  group: "5f1c0ffee0ddba11"
  admin: sa@acme.example
  fields:
    firstName: first_name
    lastName: last_name
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ENV:ACME_X", "`ENV:ACME_X` is not a secret reference: write `env:ACME_X` (lower case, no space)"),
        ("env: ACME_X", "`env: ACME_X` is not a secret reference: write `env:ACME_X` (lower case, no space)"),
        ("Env :acme_x", "`Env :acme_x` is not a secret reference: write `env:acme_x` (lower case, no space)"),
        (
            "$ACME_X",
            "`$ACME_X` is not a secret reference: lmsync does not expand shell variables; write `env:ACME_X`",
        ),
        (
            "${acme_x}",
            "`${acme_x}` is not a secret reference: lmsync does not expand shell variables; "
            "write `env:acme_x`",
        ),
        (
            "${{ secrets.ACME_X }}",
            "`${{ secrets.ACME_X }}` is not a secret reference: CI expressions are not expanded in a "
            "customer file; write `env:ACME_X` and set ACME_X in the job's environment",
        ),
        ("env:", "`env:` names no environment variable: write `env:NAME`"),
        ("file: ", "`file:` names no file: write `file:PATH`"),
        (
            "file: /run/secrets/acme",
            "`file: /run/secrets/acme` is not a secret reference: write "
            "`file:/run/secrets/acme` (lower case, no space)",
        ),
        (
            "FILE:key.asc",
            "`FILE:key.asc` is not a secret reference: write `file:key.asc` (lower case, no space)",
        ),
        (
            "env:acme-x",
            "not a secret reference: after `env:` comes an environment variable name "
            "(letters, digits and '_', not starting with a digit)",
        ),
        ("file: my key", "not a secret reference: write `file:PATH` (lower case, no space after the colon)"),
        # Well-formed references, and pasted values (which must be treated as secrets).
        ("env:ACME_X", None),
        ("file:/run/secrets/acme", None),
        ("Zq8!kV3p-tD9x", None),
        ("$ecretPass1", None),
        ("$Zq8kV3!", None),
        ("{ACME_X}", None),
    ],
)
def test_a_mistyped_reference_is_named_with_its_fix(text: str, message: str | None) -> None:
    assert reference_mistake(text) == message


@pytest.mark.parametrize(
    ("secret", "message", "code"),
    [
        (
            '"ENV:ACME_X"',
            "`ENV:ACME_X` is not a secret reference: write `env:ACME_X` (lower case, no space)",
            "secret-malformed",
        ),
        (
            '"env: ACME_X"',
            "`env: ACME_X` is not a secret reference: write `env:ACME_X` (lower case, no space)",
            "secret-malformed",
        ),
        (
            "$ACME_X",
            "`$ACME_X` is not a secret reference: lmsync does not expand shell variables; write `env:ACME_X`",
            "secret-malformed",
        ),
        ('"env:"', "`env:` names no environment variable: write `env:NAME`", "secret-malformed"),
        ('"$ecretPass1"', PASTED, "secret-inline"),
        ('"Zq8!kV3p-tD9x"', PASTED, "secret-inline"),
    ],
)
def test_validate_tells_a_mistyped_reference_from_a_pasted_secret(
    secret: str, message: str, code: str
) -> None:
    checked = check_text(CONFIG.format(secret=secret), FILE)
    assert checked.config is None
    (diagnostic,) = checked.diagnostics
    assert (diagnostic.line, diagnostic.column) == (8, 22)
    assert diagnostic.path == "environments.test.lms.client_secret"
    assert (diagnostic.message, diagnostic.code) == (message, code)


@pytest.mark.parametrize(
    ("nested", "meant"),
    [("\n        env: ACME_X", "env:ACME_X"), ("\n        File: secrets/acme.txt", "file:secrets/acme.txt")],
)
def test_a_reference_written_on_the_next_line_is_named_with_its_one_line_form(
    nested: str, meant: str
) -> None:
    # `client_secret:` then `env: NAME` indented below is a mapping to YAML, not a reference.
    checked = check_text(CONFIG.format(secret=nested), FILE)
    (diagnostic,) = checked.diagnostics
    assert (diagnostic.line, diagnostic.path, diagnostic.code) == (
        9,
        "environments.test.lms.client_secret",
        "secret-malformed",
    )
    assert diagnostic.message.startswith(
        f"a secret reference goes on the key's own line: write `client_secret: {meant}`"
    )


def test_a_mapping_that_is_no_reference_is_still_a_type_error() -> None:
    checked = check_text(CONFIG.format(secret="\n        password: Zq8kV3p"), FILE)
    (diagnostic,) = checked.diagnostics
    assert diagnostic.message == "expected a secret reference (env:NAME), got a mapping"
    assert "Zq8kV3p" not in repr(diagnostic)


@pytest.mark.parametrize("pasted", ["$ecretPass1", "Zq8!kV3p-tD9x", "env:Zq8!kV3p", "file: Zq8 kV3p"])
def test_a_pasted_value_is_never_repeated(pasted: str) -> None:
    checked = check_text(CONFIG.format(secret=f'"{pasted}"'), FILE)
    assert checked.diagnostics
    secret_part = pasted.rsplit(":", maxsplit=1)[-1].strip()
    assert all(secret_part not in repr(d) for d in checked.diagnostics)


def test_resolving_a_mistyped_reference_names_the_fix() -> None:
    with pytest.raises(SecretError) as caught:
        resolve_secret("ENV:ACME_X", environ={"ACME_X": "s3cr3t"}, what="lms.client_secret")
    assert str(caught.value) == (
        "lms.client_secret: `ENV:ACME_X` is not a secret reference: write `env:ACME_X` (lower case, no space)"
    )
    assert resolve_secret("env:ACME_X", environ={"ACME_X": "s3cr3t"}).get_secret_value() == "s3cr3t"


def test_resolving_a_pasted_value_does_not_repeat_it() -> None:
    with pytest.raises(SecretError) as caught:
        resolve_secret("$ecretPass1", environ={}, what="lms.client_secret")
    assert "ecretPass1" not in str(caught.value)
    assert (
        str(caught.value) == "lms.client_secret: not a secret reference (write it as env:NAME or file:PATH)"
    )


_INDENT = "check this line's indentation against the key above it"
_LINE_UP = "the keys of one mapping, and the items of one list, line up exactly"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "version: 1\nhris:\n  fields:\n    firstName: a\n   lastName: b\n",
            5,
            4,
            "expected <block end>, but found '<block mapping start>' (while parsing a block mapping at "
            f"line 3): {_INDENT}: this line is indented by 3 spaces, line 4 by 4 spaces; {_LINE_UP}",
        ),
        (
            "version: 1\nhris:\n  admin: sa@acme.example\n\n    group: x\n",
            5,
            10,
            "mapping values are not allowed here: line 3 already has a value, so this line, indented "
            "deeper, reads as part of it: indent 'group' like the key on line 3 (2 spaces), or quote "
            "the value if it really continues here",
        ),
        (
            "version: 1\ncustomer:\n  name: Acme: Corp\n",
            3,
            13,
            "mapping values are not allowed here: the value of 'name' contains ': ': put the "
            "whole value in quotes",
        ),
        (
            "hello\ncustomer: acme\n",
            2,
            9,
            "mapping values are not allowed here: line 1 holds text without 'key:', so this line reads "
            "as its continuation: write line 1 as 'key: value', or remove it",
        ),
        (
            "version: 1\nhris:\n  admin: sa@acme.example\n\n  # a comment ends the value\n    group: x\n",
            6,
            5,
            "expected <block end>, but found '<block mapping start>' (while parsing a block mapping at "
            f"line 3): {_INDENT}: this line is indented by 4 spaces, line 3 by 2 spaces; {_LINE_UP}",
        ),
        (
            "version: 1\nlms:\n  client_secret: env: ACME_X\n",
            3,
            21,
            "mapping values are not allowed here: `env: ACME_X` is not a secret reference: write "
            "`env:ACME_X` (lower case, no space)",
        ),
        (
            'version: 1\ncustomer: "acme\nhris: {}\n',
            4,
            1,
            "found unexpected end of stream (while scanning a quoted scalar at line 2): the quote opened "
            "at line 2, column 11 is never closed: add the closing quote (inside '...' write "
            "'' for an apostrophe)",
        ),
        (
            "version: 1\ncustomer: 'it's acme'\n",
            2,
            15,
            "expected <block end>, but found '<scalar>' (while parsing a block mapping at line 1): text "
            "follows a closing quote: put the whole value inside the quotes (inside '...' write '' for "
            "an apostrophe)",
        ),
        (
            'version: 1\ncustomer: "acme\n  hris: "x"\n',
            3,
            10,
            "expected <block end>, but found '<scalar>' (while parsing a block mapping at line 1): text "
            "follows a closing quote: put the whole value inside the quotes (inside '...' write '' for "
            "an apostrophe); line 2 opens a '\"' it does not close",
        ),
        (
            "version: 1\nhris\ncustomer: acme\n",
            3,
            1,
            "could not find expected ':' (while scanning a simple key at line 2): line 2 is neither "
            "'key: value' nor a '- ' list item: add ': ' after its key, or indent it under "
            "the value it continues",
        ),
        (
            "version: 1\nhris:\n  admin: a@b.c\n  - x\n",
            4,
            3,
            "expected <block end>, but found '-' (while parsing a block mapping at line 3): a '- ' list "
            "item cannot sit among 'key: value' lines: give the list a key of its own and "
            "indent its items under it",
        ),
        (
            "version: 1\nnotify: [a@b.c, d@e.f\nhris: {}\n",
            3,
            5,
            "expected ',' or ']', but got ':' (while parsing a flow sequence at line 2): the '[' at line 2, "
            "column 9 is not closed: end it with ']', and quote items that contain ',', ':' or brackets",
        ),
        (
            "version: 1\ncustomer: @acme\n",
            2,
            11,
            "found character '@' that cannot start any token: YAML reserves '@' at the start of a value: "
            "put the value in quotes",
        ),
        (
            'version: 1\npath: "C:\\inbox"\n',
            2,
            11,
            "found unknown escape character 'i' (while scanning a double-quoted scalar at line 2): inside "
            "double quotes a backslash starts an escape: use single quotes for text with backslashes "
            "(e.g. Windows paths), or double each backslash",
        ),
        (
            "version: 1\nhris:\n\tadmin: a@b.c\n",
            3,
            1,
            "found character '\\t' that cannot start any token: indent with spaces, not tabs",
        ),
        (
            "%YAML 1.3\n---\nversion: 1\n",
            1,
            1,
            "version minor part can only be 2 or 1, got (1, 3): remove the '%' directive "
            "lines, customer files need none",
        ),
    ],
    ids=[
        "key-dedented",
        "key-under-value-after-blank-line",
        "colon-in-value",
        "text-without-key",
        "key-indented-after-comment",
        "reference-with-space",
        "unclosed-quote",
        "apostrophe-in-single-quotes",
        "quote-closed-on-next-line",
        "missing-colon",
        "list-item-among-keys",
        "unclosed-bracket",
        "reserved-character",
        "backslash-in-double-quotes",
        "tab",
        "unsupported-directive",
    ],
)
def test_yaml_syntax_errors_say_how_to_fix_them(text: str, line: int, column: int, message: str) -> None:
    checked = check_text(text, FILE)
    assert checked.config is None
    (diagnostic,) = checked.diagnostics
    assert (diagnostic.line, diagnostic.column, diagnostic.code) == (line, column, "yaml-syntax")
    assert diagnostic.message == f"YAML syntax: {message}"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("version: 1\nlms:\n  client_secret: Zq8: kV3p\n", 3, 21),
        ("version: 1\nlms:\n  client_secret: *Zq8kV3p\n", 3, 18),
        ('version: 1\nlms:\n  client_secret: "Zq8kV3p\n', 4, 1),
    ],
    ids=["colon", "alias", "unclosed-quote"],
)
def test_a_yaml_error_on_a_secret_line_never_repeats_the_value(text: str, line: int, column: int) -> None:
    (diagnostic,) = check_text(text, FILE).diagnostics
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert "Zq8" not in diagnostic.message
    assert "kV3p" not in diagnostic.message
