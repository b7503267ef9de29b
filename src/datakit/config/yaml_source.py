"""Read YAML into plain data while remembering where every key and value came from.

Pydantic reports errors by path (`('source', 'connection', 'timeout')`); users need `file:line:col`.
PyYAML's composer keeps a mark on every node, so we walk the node tree ourselves, building the data and
a path -> position map in one pass. The same walk rejects what plain `yaml.safe_load` silently accepts:
duplicate keys (the later one would win) and non-string keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's C parser is ~10x faster; the pure-Python one gives identical nodes and marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - wheels ship libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from datakit.errors import Problem

PathKey = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column


@dataclass
class YamlDocument:
    """A parsed file: its data and where each path's key and value start."""

    path: Path
    data: Any
    key_positions: dict[PathKey, Position] = field(default_factory=dict)
    value_positions: dict[PathKey, Position] = field(default_factory=dict)

    def position(self, loc: PathKey) -> Position:
        """The best position for `loc`: its value, else its key, else the nearest ancestor's."""
        probe = loc
        while True:
            if probe in self.value_positions:
                return self.value_positions[probe]
            if probe in self.key_positions:
                return self.key_positions[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def key_position(self, loc: PathKey) -> Position:
        """Where the key of `loc` is written (for unknown keys), falling back to `position`."""
        return self.key_positions.get(loc) or self.position(loc)

    def subtree(self, prefix: PathKey) -> YamlDocument:
        """The part of the document below `prefix`, with positions keyed relative to it."""
        data: Any = self.data
        for part in prefix:
            data = data[part]
        n = len(prefix)
        return YamlDocument(
            path=self.path,
            data=data,
            key_positions={k[n:]: v for k, v in self.key_positions.items() if k[:n] == prefix},
            value_positions={k[n:]: v for k, v in self.value_positions.items() if k[:n] == prefix},
        )


class YamlProblem(Exception):
    """A file that cannot be read as YAML; carries a located `Problem`."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


_scalar_constructor = yaml.constructor.SafeConstructor()


def read_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML file into data plus positions; raise `YamlProblem` with file:line:col on bad input."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            line, column = _offset_position(exc.object, exc.start)
            raise YamlProblem(
                Problem(f"file is not valid UTF-8 ({exc.reason})", file=path, line=line, column=column)
            ) from None
        except OSError as exc:
            raise YamlProblem(Problem(f"cannot read file: {exc.strerror}", file=path)) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(_syntax_problem(path, text, exc)) from None
    except yaml.reader.ReaderError as exc:
        line, column = _offset_position(text, _character_offset(text, exc))
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        message = f"invalid YAML: unacceptable character {character}: {exc.reason}"
        raise YamlProblem(Problem(message, file=path, line=line, column=column)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(f"invalid YAML: {exc}", file=path)) from None
    doc = YamlDocument(path=path, data=None)
    if node is not None:
        doc.data = _Walker(doc).build(node, ())
    return doc


_UNCLOSED = (
    "while scanning a quoted scalar",
    "while parsing a flow sequence",
    "while parsing a flow mapping",
)
_INDENTATION = (
    "did not find expected key",
    "did not find expected '-' indicator",
    "mapping values are not allowed",
)


def _offset_position(text: str | bytes, offset: int) -> Position:
    newline = b"\n" if isinstance(text, bytes) else "\n"
    before = text[:offset]
    return before.count(newline) + 1, offset - (before.rfind(newline) + 1) + 1  # type: ignore[arg-type]


def _character_offset(text: str, exc: yaml.reader.ReaderError) -> int:
    """libyaml reports a UTF-8 byte offset, the pure-Python reader a character offset: accept both."""
    offset: int = exc.position
    if offset < len(text) and isinstance(exc.character, int) and ord(text[offset]) == exc.character:
        return offset
    return len(text.encode()[:offset].decode(errors="ignore"))


def _syntax_problem(path: Path, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    # A quote or bracket that never closes is reported where the parser gave up (often the end of the
    # file); the place to fix is where it was opened.
    lines = text.splitlines()
    at_end = exc.problem_mark is not None and exc.problem_mark.line >= len(lines)
    if (
        exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.problem_mark.line > exc.context_mark.line
        and (exc.context in _UNCLOSED or at_end)
    ):
        mark = exc.context_mark
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    if line is not None and lines and line > len(lines):  # the end of the file: show its last line
        line, column = len(lines), len(lines[-1]) + 1
    if mark is not None and mark.line < len(lines):
        bad = lines[mark.line]
        indent = bad[: len(bad) - len(bad.lstrip(" \t"))]
        if "\t" in indent or (mark.column < len(bad) and bad[mark.column] == "\t"):
            return Problem(
                "tab character in indentation; YAML indents with spaces only",
                file=path,
                line=line,
                column=(indent.index("\t") + 1) if "\t" in indent else column,
                suggestion="replace the tab with spaces",
            )
    message = f"invalid YAML: {exc.problem or 'syntax error'}"
    suggestion = None
    alias = (
        re.match(r"\*([^\s,\[\]{}]+)", lines[mark.line][mark.column :])
        if mark and mark.line < len(lines)
        else None
    )
    if exc.problem == "found undefined alias" and alias:  # libyaml does not name it
        message += f" '{alias.group(1)}'"
        suggestion = "define the anchor (&name) before its first use (*name)"
    if exc.context:
        message += f" ({exc.context})"
    if any((exc.problem or "").startswith(p) for p in _INDENTATION):
        suggestion = "check the indentation of this line and the lines above it"
    return Problem(message, file=path, line=line, column=column, suggestion=suggestion)


MAX_DEPTH = 64
MAX_VALUES = 200_000
"""Far beyond any real config file; bounds what a hostile or mistaken file can make us build."""


class _Walker:
    """Builds Python data from a node tree, recording positions by path."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.depth = 0
        self.values = 0

    def build(self, node: yaml.Node, loc: PathKey) -> Any:
        self.doc.value_positions[loc] = _pos(node.start_mark)
        self.depth += 1
        self.values += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self._error(node, "nesting is too deep (a recursive alias?)")
            if self.values > MAX_VALUES:  # aliases of aliases expand exponentially ("billion laughs")
                raise self._error(node, f"the file expands to over {MAX_VALUES:,} values (nested aliases?)")
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            return self._scalar(node)
        finally:
            self.depth -= 1

    def _mapping(self, node: yaml.MappingNode, loc: PathKey) -> dict[str, Any]:
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        try:
            _scalar_constructor.flatten_mapping(node)  # resolve `<<:` merge keys as YAML 1.1 defines them
        except yaml.MarkedYAMLError as exc:
            raise YamlProblem(_syntax_problem(self.doc.path, "", exc)) from None
        merged = len(node.value) - explicit  # merged pairs come first; explicit keys may override them
        result: dict[str, Any] = {}
        seen: dict[str, Position] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else key_node
            if not isinstance(key, str) and not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, "mapping keys must be strings, got a collection")
            if not isinstance(key, str):
                raise self._error(
                    key_node,
                    f"mapping keys must be strings, got {key!r}",
                    "quote the key (for example 'on:' is read as true by YAML 1.1; write '\"on\":')",
                )
            if index < merged:
                self.doc.key_positions[(*loc, key)] = _pos(key_node.start_mark)
                result[key] = self.build(value_node, (*loc, key))
                continue
            if key in seen:
                first_line = seen[key][0]
                raise self._error(key_node, f"duplicate key '{key}' (first defined on line {first_line})")
            seen[key] = _pos(key_node.start_mark)
            child = (*loc, key)
            self.doc.key_positions[child] = seen[key]
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return _scalar_constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise YamlProblem(_syntax_problem(self.doc.path, "", exc)) from None
        except Exception as exc:
            # `!!int word`, `!!bool maybe`, an impossible unquoted date (2024-13-01).
            tag = node.tag.rsplit(":", 1)[-1]
            detail = f": {exc}" if isinstance(exc, ValueError | OverflowError) else ""
            raise self._error(
                node, f"invalid {tag} value {node.value!r}{detail}", "quote the value to keep it as text"
            ) from None

    def _error(self, node: yaml.Node, message: str, suggestion: str | None = None) -> YamlProblem:
        line, column = _pos(node.start_mark)
        return YamlProblem(
            Problem(message, file=self.doc.path, line=line, column=column, suggestion=suggestion)
        )


def _pos(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)
