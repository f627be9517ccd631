"""Structural validation: the JSON Schema's findings, rewritten for the person who fixes them.

jsonschema's own messages repeat the offending value (a pasted password would land in a CI
log) and describe unions in schema terms ("is not valid under any of the given schemas").
This module walks every error of ``iter_errors``, picks the branch of a union the author
meant (by its ``type`` discriminator, else by elimination), and writes each finding in the
domain's words with its exact node and a fix: near keys and enum values via difflib.

It must never use ``error.message`` or echo a value whose schema is a secret reference.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema.exceptions import ValidationError

from engine.config import models
from engine.config.diagnostics import Diagnostic, DocPath
from engine.config.document import LoadedDocument
from engine.config.schema import customer_validator
from engine.config.secrets import nested_reference, reference_mistake

_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping (key: value)",
    "array": "a list",
    "null": "nothing (null)",
}

#: Pattern -> (what a valid value is, an example). Keyed by the models' own constants.
_PATTERN_HELP: dict[str, tuple[str, str]] = {
    models.TIME_PATTERN: ("a time of day HH:MM, 24-hour", "'06:30'"),
    models.SLUG_PATTERN: ("a slug: lowercase letters, digits and '-'", "'acme'"),
    models.URL_PATTERN: ("an http(s) URL without spaces", "'https://app.360learning.com'"),
    models.GROUP_ID_PATTERN: ("a group id: letters, digits, '-' or '_'", "'5f1c0ffee0ddba11'"),
    models.HOST_KEY_PATTERN: ("a public host key as in known_hosts", "'ssh-ed25519 AAAAC3Nza...'"),
    models.PERCENT_PATTERN: ("a count or a share between 0% and 100%", "'10%'"),
    models.PLATFORM_PATTERN: ("a platform name: letters, digits, '.', '_' or '-'", "'lmsync-hris'"),
    models.HOST_PATTERN: ("a host name or IP address", "'sftp.acme.example'"),
    models.EXTENSION_PATTERN: ("an extension without the dot", "'tsv'"),
    models.HTTPS_URL_PATTERN: ("an https:// URL", "'https://idp.acme.example/metadata'"),
}


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to ``word``, when one is close enough to be a typo."""
    options = [c for c in choices if isinstance(c, str)]
    near = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not near:
        lowered = {c.lower(): c for c in options}
        if word.lower() in lowered:
            return lowered[word.lower()]
    return near[0] if near else None


def _is_secret(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("pattern") == models.SECRET_REF_PATTERN


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _resolve(schema: Any) -> Any:
    """Follow a local ``$ref`` (pydantic only emits ``#/$defs/Name``)."""
    if isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return customer_validator().schema["$defs"].get(name, schema)
    return schema


class _Translator:
    def __init__(self, document: LoadedDocument) -> None:
        self.document = document

    def at(self, path: DocPath, message: str, code: str, *, at_key: bool = False) -> Diagnostic:
        return self.document.diagnostic(path, message, code=code, at_key=at_key)

    def translate(self, error: ValidationError) -> Iterator[Diagnostic]:
        path: DocPath = tuple(error.absolute_path)
        schema, value, kind = error.schema, error.instance, error.validator
        if "propertyNames" in error.schema_path:
            # The instance is a key of the mapping at ``path``: point at that key.
            yield self._bad_key(error, path)
            return
        if kind == "additionalProperties" and isinstance(value, dict):
            allowed = list(schema.get("properties", {}))
            patterns = list(schema.get("patternProperties", {}))
            for key in value:
                if key in allowed or any(re.search(p, key) for p in patterns):
                    continue
                if patterns and not allowed:
                    text = self._pattern_text(patterns[0], key, {})
                    yield self.at((*path, key), f"key {text}", "invalid-key", at_key=True)
                    continue
                near = suggest(key, allowed)
                fix = f"did you mean '{near}'?" if near else f"expected one of: {', '.join(allowed)}"
                yield self.at((*path, key), f"unknown key '{key}' ({fix})", "unknown-key", at_key=True)
        elif kind == "required" and isinstance(value, dict):
            for key in error.validator_value:
                if key not in value:
                    description = _resolve(schema.get("properties", {}).get(key, {})).get("description")
                    about = f": {description[0].lower()}{description[1:]}".rstrip(".") if description else ""
                    yield self.at(path, f"missing required key '{key}'{about}", "missing-key", at_key=True)
        elif kind in {"anyOf", "oneOf"}:
            yield from self._union(error, path)
        elif kind == "type":
            expected = error.validator_value
            names = [expected] if isinstance(expected, str) else list(expected)
            wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
            yield self._type_mismatch(path, value, wanted, secret=_is_secret(schema))
        elif kind in {"enum", "const"}:
            yield self._choice(error, path)
        elif kind == "pattern":
            mistake = reference_mistake(value) if _is_secret(schema) and isinstance(value, str) else None
            if mistake is not None:
                yield self.at(path, mistake, "secret-malformed")
            elif _is_secret(schema):
                yield self.at(
                    path,
                    "holds a value instead of a secret reference: write env:NAME (or "
                    "file:PATH) and put the secret in that variable; rotate it if it was "
                    "committed",
                    "secret-inline",
                )
            else:
                yield self.at(path, self._pattern_text(error.validator_value, value, schema), "pattern")
        else:
            yield self.at(path, self._bound_text(kind, error.validator_value, value, schema), kind)

    def _bad_key(self, error: ValidationError, path: DocPath) -> Diagnostic:
        key = str(error.instance)
        where = (*path, key)
        if error.validator == "enum":
            choices = [str(c) for c in error.validator_value]
            near = suggest(key, choices)
            fix = f"did you mean '{near}'?" if near else f"expected one of: {', '.join(choices)}"
            return self.at(where, f"unknown key '{key}' ({fix})", "unknown-key", at_key=True)
        if error.validator == "pattern":
            text = self._pattern_text(error.validator_value, key, {})
            return self.at(where, f"key {text}", "invalid-key", at_key=True)
        text = self._bound_text(str(error.validator), error.validator_value, key, {})
        return self.at(where, f"key '{key}' {text}", "invalid-key", at_key=True)

    def _pattern_text(self, pattern: str, value: Any, schema: Any) -> str:
        shown = "this value" if _is_secret(schema) else f"'{value}'"
        if pattern == models.EMAIL_PATTERN:
            return "is not an e-mail address (expected name@domain.tld)"
        what, example = _PATTERN_HELP.get(pattern, (f"a value matching {pattern}", ""))
        example_text = f", e.g. {example}" if example else ""
        return f"{shown} is not {what}{example_text}"

    def _bound_text(self, kind: str, bound: Any, value: Any, schema: Any) -> str:
        texts = {
            "minLength": f"is too short (at least {bound} characters)",
            "maxLength": f"is too long (at most {bound} characters)",
            "minItems": f"needs at least {bound} item(s)",
            "maxItems": f"has more than {bound} items",
            "minProperties": f"needs at least {bound} key(s)",
            "minimum": f"must be {bound} or more",
            "maximum": f"must be {bound} or less",
            "exclusiveMinimum": f"must be more than {bound}",
            "exclusiveMaximum": f"must be less than {bound}",
            "uniqueItems": "lists the same item twice",
        }
        text = texts.get(kind, f"does not satisfy '{kind}'")
        if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} and not _is_secret(schema):
            return f"{value} {text}"
        return text

    def _choice(self, error: ValidationError, path: DocPath) -> Diagnostic:
        choices = error.validator_value if error.validator == "enum" else [error.validator_value]
        listed = ", ".join(repr(c) for c in choices)
        value = error.instance
        if error.validator == "const" and not _is_secret(error.schema):
            return self.at(path, f"expected {error.validator_value!r}, got {value!r}", "enum")
        if _is_secret(error.schema):
            return self.at(path, f"expected one of {listed}", "enum")
        near = suggest(value, choices) if isinstance(value, str) else None
        fix = f" (did you mean '{near}'?)" if near else ""
        return self.at(path, f"{value!r} is not one of {listed}{fix}", "enum")

    def _union(self, error: ValidationError, path: DocPath) -> Iterator[Diagnostic]:
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        options = [_resolve(s) for s in error.validator_value]
        value = error.instance
        # A tagged union: the author's `type` says which branch they meant.
        tags = {o.get("properties", {}).get("type", {}).get("const"): i for i, o in enumerate(options)}
        tags.pop(None, None)
        if tags and isinstance(value, dict):
            tag = value.get("type")
            if tag in tags:
                for sub in branches.get(tags[tag], []):
                    yield from self.translate(sub)
                return
            known = ", ".join(f"'{t}'" for t in tags)
            if tag is None:
                yield self.at(
                    path, f"missing required key 'type' (one of {known})", "missing-key", at_key=True
                )
            else:
                near = suggest(str(tag), [str(t) for t in tags])
                fix = f"did you mean '{near}'?" if near else f"expected one of {known}"
                yield self.at((*path, "type"), f"unknown type '{tag}' ({fix})", "enum")
            return
        # Otherwise drop the branches whose very type differs from the value's.
        plausible = {
            index: subs
            for index, subs in branches.items()
            if not any(s.validator == "type" and not s.relative_path for s in subs)
        }
        if not plausible:
            wanted = sorted({self._option_kind(o) for o in options} - {"nothing (null)"})
            secret = any(_is_secret(o) for o in options)
            yield self._type_mismatch(path, value, " or ".join(wanted), secret=secret)
            return
        index = min(plausible, key=lambda i: (len(plausible[i]), i))
        for sub in plausible[index]:
            yield from self.translate(sub)

    def _type_mismatch(self, path: DocPath, value: Any, wanted: str, *, secret: bool) -> Diagnostic:
        if secret and (meant := nested_reference(value)) is not None:
            key = str(path[-1]) if path else "the key"
            return self.at(
                path,
                f"a secret reference goes on the key's own line: write `{key}: {meant}` (written on "
                "the next line, `env: NAME` is read as a mapping)",
                "secret-malformed",
            )
        what = "a secret reference (env:NAME)" if secret else wanted
        return self.at(path, f"expected {what}, got {_kind(value)}", "type")

    @staticmethod
    def _option_kind(option: Any) -> str:
        kind = option.get("type", "object") if isinstance(option, dict) else "object"
        return _TYPE_NAMES.get(kind, kind) if isinstance(kind, str) else "a value"


def structural_diagnostics(document: LoadedDocument) -> list[Diagnostic]:
    """Every structural finding of the schema on ``document``, in the domain's words."""
    translator = _Translator(document)
    found: list[Diagnostic] = []
    for error in customer_validator().iter_errors(document.data):
        found.extend(translator.translate(error))
    return found
