"""YAML syntax errors, explained to the person who has to fix the file.

ruamel reports what its parser saw (``expected <block end>, but found '<block mapping
start>'``), at the place it gave up -- often the line after the mistake. This module keeps
ruamel's words and position (they are what an editor shows) and adds how to fix the usual
causes: a key indented out of line, a value holding ``': '`` without quotes, a quote or
bracket never closed, a character YAML reserves. When the place it gave up is the start of a
line, the previous non-blank line is named too, because the cause is usually there.

ruamel has one exception class per stage, not per mistake, so its problem text is the only
thing to tell mistakes apart; this is the one place that reads it. A message may quote a key
or a mistyped secret reference, never a value: a pasted password can be on the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ruamel.yaml.error import MarkedYAMLError

from engine.config.secrets import reference_mistake

# "key: ..." or "- key: ...": the indentation (with any "- "), the key, then its colon.
_KEY_LINE = re.compile(r"^(\s*(?:-\s+)*)([^\s#'\"\-?:][^#]*?|-[^\s#:][^#]*?)\s*:(?:\s|$)")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_RESERVED = re.compile(r"found character '(.)' that cannot start any token")
_NODE_CONTENT = re.compile(r"expected the node content, but found '(.)'")
_FLOW_END = re.compile(r"expected ',' or '([\]}])'")


@dataclass(frozen=True)
class _Text:
    """The file's lines, and the helpers to talk about one of them."""

    lines: list[str]

    def line(self, index: int) -> str:
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def previous(self, index: int) -> int | None:
        """The nearest line above ``index`` holding more than blanks or a comment."""
        for candidate in range(min(index, len(self.lines)) - 1, -1, -1):
            stripped = self.lines[candidate].strip()
            if stripped and not stripped.startswith("#"):
                return candidate
        return None

    def key(self, index: int) -> tuple[int, str, int] | None:
        """Column of the key, the key, and the column of its colon, on a ``key: ...`` line."""
        match = _KEY_LINE.match(self.line(index))
        if match is None:
            return None
        return len(match.group(1)), match.group(2), match.end(2)

    def value(self, index: int) -> str:
        found = self.key(index)
        if found is None:
            return ""
        rest = self.line(index)[found[2] + 1 :]
        return re.sub(r"(^|\s)#.*$", "", rest).strip()


def _spaces(count: int) -> str:
    return f"{count} space" if count == 1 else f"{count} spaces"


def _named(key: str) -> str:
    """A key as it may appear in a message: only plain keys are quoted back."""
    return f"'{key}'" if _PLAIN_KEY.match(key) else "the key"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _mapping_values(text: _Text, line: int, column: int) -> str:
    """``mapping values are not allowed here``: a ': ' inside a value, or a key under a value."""
    found = text.key(line)
    if found is not None and found[2] < column:
        _, key, _ = found
        mistake = reference_mistake(text.value(line))
        if mistake is not None:
            return mistake
        return f"the value of {_named(key)} contains ': ': put the whole value in quotes"
    generic = "a value containing ': ' must be quoted, or a key is indented under a value"
    above = text.previous(line)
    if above is None:
        return generic
    above_key = text.key(above)
    if above_key is None and not text.line(above).lstrip().startswith("-"):
        return (
            f"line {above + 1} holds text without 'key:', so this line reads as its continuation: "
            f"write line {above + 1} as 'key: value', or remove it"
        )
    here = found[0] if found is not None else _indent(text.line(line))
    if above_key is not None and text.value(above) and here > above_key[0]:
        what = _named(found[1]) if found is not None else "this key"
        return (
            f"line {above + 1} already has a value, so this line, indented deeper, reads as part "
            f"of it: indent {what} like the key on line {above + 1} ({_spaces(above_key[0])}), "
            "or quote the value if it really continues here"
        )
    return f"{generic} (look at line {above + 1}, the line above)"


def _block_end(found: str, text: _Text, line: int, column: int) -> str | None:
    """``expected <block end>, but found ...``: a line out of step with its block."""
    current = text.line(line)
    above = text.previous(line)
    if found in {"<block mapping start>", "<block sequence start>", "<scalar>"} and not (
        found == "<scalar>" and ("'" in current[:column] or '"' in current[:column])
    ):
        hint = "check this line's indentation against the key above it"
        if above is None:
            return hint
        here = _indent(current)
        above_key = text.key(above)
        item = current.lstrip().startswith("-")
        there = above_key[0] if above_key is not None and not item else _indent(text.line(above))
        if here == there:
            return f"{hint} (line {above + 1})"
        return (
            f"{hint}: this line is indented by {_spaces(here)}, line {above + 1} by {_spaces(there)}; "
            "the keys of one mapping, and the items of one list, line up exactly"
        )
    if found == "<scalar>":
        hint = (
            "text follows a closing quote: put the whole value inside the quotes "
            "(inside '...' write '' for an apostrophe)"
        )
        if above is not None and text.line(above).count('"') % 2 == 1:
            hint += f"; line {above + 1} opens a '\"' it does not close"
        return hint
    if found == "-":
        return (
            "a '- ' list item cannot sit among 'key: value' lines: give the list a key of its "
            "own and indent its items under it"
        )
    if found in {"]", "}", ","}:
        return f"a stray '{found}': put a value that contains '[', ']', '{{', '}}' or ',' in quotes"
    return None


def _hint(exc: MarkedYAMLError, problem: str, text: _Text, line: int, column: int) -> str | None:
    context = exc.context or ""
    opened = exc.context_mark
    if "'\\t'" in problem or "tab character" in problem:
        return "indent with spaces, not tabs"
    if problem.startswith("mapping values are not allowed"):
        return _mapping_values(text, line, column)
    if problem.startswith("expected <block end>, but found "):
        return _block_end(problem.split("but found ", 1)[1].strip("'"), text, line, column)
    if "end of stream" in problem and "quoted scalar" in context and opened is not None:
        return (
            f"the quote opened at line {opened.line + 1}, column {opened.column + 1} is never closed: "
            "add the closing quote (inside '...' write '' for an apostrophe)"
        )
    if problem.startswith("could not find expected ':'") and opened is not None:
        return (
            f"line {opened.line + 1} is neither 'key: value' nor a '- ' list item: add ': ' after "
            "its key, or indent it under the value it continues"
        )
    if (flow := _FLOW_END.match(problem)) and opened is not None:
        closer = flow.group(1)
        opener = "[" if closer == "]" else "{"
        return (
            f"the '{opener}' at line {opened.line + 1}, column {opened.column + 1} is not closed: "
            f"end it with '{closer}', and quote items that contain ',', ':' or brackets"
        )
    if problem.startswith("found undefined alias"):
        return (
            "'*' refers to an anchor ('&name') defined above: define it, or put the value in "
            "quotes if the '*' is part of it"
        )
    if (char := _RESERVED.search(problem) or _NODE_CONTENT.match(problem)) is not None:
        return f"YAML reserves '{char.group(1)}' at the start of a value: put the value in quotes"
    if problem.startswith("found unknown escape character"):
        return (
            "inside double quotes a backslash starts an escape: use single quotes for text with "
            "backslashes (e.g. Windows paths), or double each backslash"
        )
    if "scanning an anchor" in context or "scanning an alias" in context:
        return "'&' and '*' start an anchor or an alias: put a value that starts with them in quotes"
    if "block scalar" in context:
        return (
            "'|' and '>' start a block of text on the lines below: put a value that starts "
            "with them in quotes"
        )
    return None


def syntax_message(exc: MarkedYAMLError, text: str) -> str:
    """The message for a YAML syntax error at ``exc.problem_mark``: ruamel's words and a fix."""
    mark = exc.problem_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    problem = exc.problem or "invalid YAML"
    opened = exc.context_mark
    context = f" ({exc.context} at line {opened.line + 1})" if exc.context and opened is not None else ""
    if "another document" in problem:
        return (
            "YAML syntax: a second YAML document starts here: a customer file holds one document; "
            "remove the '---' and what follows"
        )
    if problem.startswith("found undefined alias"):
        problem = "found undefined alias"  # ruamel adds the name: the tail of a pasted '*secret'
    lines = _Text(text.splitlines())
    hint = _hint(exc, problem, lines, line, column)
    above = lines.previous(line)
    if hint is None and above is not None and column <= _indent(lines.line(line)):
        hint = f"the cause is often on the line before: line {above + 1}"
    return f"YAML syntax: {problem}{context}" + (f": {hint}" if hint else "")
