"""Reading a customer file's bytes into plain data, remembering where every node was.

Validation must point at a line and column, so the YAML is composed into ruamel's node tree
(which keeps marks) and converted here, by hand, into dicts, lists and scalars plus a map
from document path to position. Doing the conversion ourselves is also what makes loading
safe: only the plain YAML types exist (no Python or custom tags), duplicate keys are
findings naming both lines instead of a silent overwrite, aliases are expanded against a
small budget (a "billion laughs" file stops early), and files over 1 MiB or not UTF-8 are
refused before the parser sees them.

This module must never construct arbitrary objects, execute anything, or raise on a bad
file: every problem becomes a ``Diagnostic`` and loading goes on where it can.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from engine.config.diagnostics import Diagnostic, DocPath, format_path
from engine.config.yaml_syntax import syntax_message

MAX_FILE_BYTES = 1024 * 1024
#: Nodes that aliases may add on top of the nodes written in the file.
ALIAS_EXPANSION_BUDGET = 10_000
MAX_DEPTH = 64

_CORE = "tag:yaml.org,2002:"
_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


@dataclass(frozen=True)
class Position:
    """1-based line and column of a node's key (if it has one) and of its value."""

    key_line: int
    key_column: int
    line: int
    column: int


@dataclass
class LoadedDocument:
    """Plain data (dicts, lists, str, int, float, bool, None) and where each path came from."""

    name: str
    data: Any
    positions: dict[DocPath, Position] = field(default_factory=dict)

    def locate(self, path: DocPath, *, at_key: bool = False) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest ancestor that has a position."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos is not None:
                if at_key or end < len(path):
                    return pos.key_line, pos.key_column
                return pos.line, pos.column
        return 1, 1

    def diagnostic(self, path: DocPath, message: str, *, code: str, at_key: bool = False) -> Diagnostic:
        line, column = self.locate(path, at_key=at_key)
        return Diagnostic(self.name, line, column, format_path(path), message, code=code)


class _AliasMarkingComposer(Composer):
    """Composes an alias as a copy of its target carrying the alias's own position.

    ruamel returns the anchored node itself for an alias, so an error found through the alias
    would point at the anchor. The copy keeps the alias's mark; ``alias_targets`` maps it back
    to the shared node so expansion and recursion are still counted on the real node.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.alias_targets: dict[int, Node] = {}
        self.warn_double_anchors = False  # a reused anchor name is legal YAML, not a warning

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.parser.check_event(AliasEvent):
            return super().compose_node(parent, index)
        mark = self.parser.peek_event().start_mark
        target = super().compose_node(parent, index)
        alias = copy.copy(target)
        alias.start_mark = mark
        self.alias_targets[id(alias)] = self.alias_targets.get(id(target), target)
        return alias


class _StopError(Exception):
    """Conversion cannot go on (alias budget spent, nesting too deep)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _short_tag(tag: str | None) -> str:
    tag = tag or "?"
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Converter:
    """Turns a composed node tree into plain data, positions and diagnostics."""

    def __init__(self, name: str, alias_targets: dict[int, Node]) -> None:
        self.name = name
        self.alias_targets = alias_targets
        self.positions: dict[DocPath, Position] = {}
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self._expanded = 0
        self._expansion: tuple[Node, DocPath] | None = None

    def problem(self, node: Node, path: DocPath, message: str, code: str) -> Diagnostic:
        line, column = _mark(node)
        return Diagnostic(self.name, line, column, format_path(path), message, code=code)

    def convert(self, node: Node, path: DocPath, key_mark: tuple[int, int]) -> Any:
        line, column = _mark(node)
        self.positions[path] = Position(key_mark[0], key_mark[1], line, column)
        # Aliases are copies (for their position); expansion is tracked on the shared target.
        identity = id(self.alias_targets.get(id(node), node))
        if identity in self._active:
            raise _StopError(
                self.problem(
                    node,
                    path,
                    "an alias refers to a node that contains it (recursive anchor): write the value out",
                    "yaml-alias",
                )
            )
        outermost = identity in self._seen and self._expansion is None
        if outermost:
            self._expansion = (node, path)
        try:
            return self._convert_seen(node, path, identity)
        finally:
            if outermost:
                self._expansion = None

    def _convert_seen(self, node: Node, path: DocPath, identity: int) -> Any:
        if self._expansion is not None:
            self._expanded += 1
            if self._expanded > ALIAS_EXPANSION_BUDGET:
                alias, alias_path = self._expansion
                raise _StopError(
                    self.problem(
                        alias,
                        alias_path,
                        f"aliases expand to more than {ALIAS_EXPANSION_BUDGET} nodes: refusing to expand "
                        "(a 'billion laughs' file?); write the values out instead of nesting aliases",
                        "yaml-alias-budget",
                    )
                )
        self._seen.add(identity)
        if len(path) > MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep"
            raise _StopError(self.problem(node, path, message, "yaml-depth"))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self._active.add(identity)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                if node.tag != _CORE + "seq":
                    self.diagnostics.append(self._tag_problem(node, path))
                return [self.convert(item, (*path, i), _mark(item)) for i, item in enumerate(node.value)]
        finally:
            self._active.discard(identity)
        raise _StopError(self.problem(node, path, "unsupported YAML node", "yaml-syntax"))

    def _tag_problem(self, node: Node, path: DocPath) -> Diagnostic:
        return self.problem(
            node,
            path,
            f"tag '{_short_tag(node.tag)}' is not allowed: customer files hold plain YAML only "
            "(remove the tag)",
            "yaml-tag",
        )

    def _scalar(self, node: ScalarNode, path: DocPath) -> Any:
        tag, text = node.tag, node.value
        if tag == _CORE + "str":
            return text
        if tag == _CORE + "null":
            return None
        if tag == _CORE + "bool":
            return text.lower() == "true"
        if tag == _CORE + "int":
            digits = text.replace("_", "")
            try:
                base = 0 if digits.lstrip("+-")[:2].lower() in {"0x", "0o", "0b"} else 10
                return int(digits, base)
            except ValueError:
                return text
        if tag == _CORE + "float":
            lowered = text.lower()
            return _FLOATS[lowered] if lowered in _FLOATS else float(text.replace("_", ""))
        if tag == _CORE + "timestamp":
            # Dates and times are strings in this format (e.g. hire dates are YYYY-MM-DD text).
            return text
        self.diagnostics.append(self._tag_problem(node, path))
        return text

    def _key(self, node: Node, path: DocPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self.diagnostics.append(
                self.problem(node, path, "a key must be a plain word, not a list or mapping", "yaml-key")
            )
            return None
        if node.tag not in {
            _CORE + "str",
            _CORE + "int",
            _CORE + "bool",
            _CORE + "null",
            _CORE + "float",
            _CORE + "timestamp",
        }:
            self.diagnostics.append(self._tag_problem(node, path))
        return str(node.value)

    def _mapping(self, node: MappingNode, path: DocPath) -> dict[str, Any]:
        if node.tag != _CORE + "map":
            self.diagnostics.append(self._tag_problem(node, path))
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge":
                merges.append((key_node, value_node))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in first_line:
                self.diagnostics.append(
                    self.problem(
                        key_node,
                        child,
                        f"duplicate key '{key}': first at line {first_line[key]}, again at line "
                        f"{_mark(key_node)[0]} (keep one)",
                        "duplicate-key",
                    )
                )
                continue
            first_line[key] = _mark(key_node)[0]
            result[key] = self.convert(value_node, child, _mark(key_node))
        for key_node, value_node in merges:
            self._merge(key_node, value_node, path, result)
        return result

    def _merge(self, key_node: Node, value_node: Node, path: DocPath, result: dict[str, Any]) -> None:
        # '<<: *defaults' keeps explicit keys and adds the others, as YAML 1.1 merge keys do.
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.diagnostics.append(
                    self.problem(
                        key_node, path, "'<<' must merge a mapping or a list of mappings", "yaml-merge"
                    )
                )
                continue
            merged = self.convert(source, (*path, "<<"), _mark(key_node))
            for key, value in merged.items():
                if key not in result:
                    result[key] = value
                    self.positions.setdefault((*path, key), self.positions[(*path, "<<")])


def _offset_to_line_column(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def decode(raw: bytes, name: str) -> tuple[str | None, list[Diagnostic]]:
    """The file's text, or a diagnostic saying why it cannot be read as a customer file."""
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Diagnostic(
                name,
                1,
                1,
                "",
                f"file is {len(raw)} bytes, over the 1 MiB limit for "
                "a customer file: is this the right file?",
                code="too-large",
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line, column = _offset_to_line_column(raw, offset)
        return None, [
            Diagnostic(
                name,
                line,
                column,
                "",
                f"invalid UTF-8 at byte {offset} (0x{raw[offset]:02x}): save the file as UTF-8",
                code="encoding",
            )
        ]
    return text, []


def _yaml_error(name: str, text: str, exc: YAMLError) -> Diagnostic:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        message = syntax_message(exc, text)
        return Diagnostic(name, mark.line + 1, mark.column + 1, "", message, code="yaml-syntax")
    if isinstance(exc, ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        return Diagnostic(
            name,
            line,
            column,
            "",
            f"unacceptable character #x{ord(exc.character):04x} in a YAML file: remove it",
            code="encoding",
        )
    return Diagnostic(name, 1, 1, "", f"YAML syntax: {exc}", code="yaml-syntax")


def load_document(text: str, name: str) -> tuple[LoadedDocument | None, list[Diagnostic]]:
    """Compose ``text`` and convert it; the document is None when nothing usable was read."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _AliasMarkingComposer
    yaml.max_depth = MAX_DEPTH * 2
    try:
        root = yaml.compose(text)
    except YAMLError as exc:
        return None, [_yaml_error(name, text, exc)]
    except AssertionError as exc:  # ruamel asserts on some directives (e.g. '%YAML 1.3')
        message = f"YAML syntax: {exc}: remove the '%' directive lines, customer files need none"
        return None, [Diagnostic(name, 1, 1, "", message, code="yaml-syntax")]
    except RecursionError:
        return None, [Diagnostic(name, 1, 1, "", "YAML nested too deeply to read", code="yaml-depth")]
    if root is None:
        return None, [
            Diagnostic(
                name, 1, 1, "", "file is empty: a customer file starts with 'version: 1'", code="empty"
            )
        ]
    converter = _Converter(name, yaml.composer.alias_targets)
    try:
        data = converter.convert(root, (), _mark(root))
    except _StopError as stop:
        return None, [*converter.diagnostics, stop.diagnostic]
    document = LoadedDocument(name, data, converter.positions)
    if not isinstance(data, dict):
        converter.diagnostics.append(
            Diagnostic(
                name,
                *_mark(root),
                "",
                "a customer file is a mapping of keys ('version: 1', 'customer: ...')",
                code="type",
            )
        )
        return None, converter.diagnostics
    return document, converter.diagnostics
