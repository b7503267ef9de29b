"""Which source fields a typed transform makes each target field from, read from its Python code.

A typed transform declares its source and target models (`def f(source: Source.Customer) ->
Bronze.Customer`); what it does in between is Python. Its body is read (never run) with `ast`: the
fields of the returned model (`Bronze.Customer(customer_id=source.customer_id, ...)`, or a returned
dict literal) are followed back through local variables to the attributes of the argument they read.
`x=source.x` is copied, `y=source.x` renamed, anything else transformed. What the code does not
let us follow (the whole row handed to a helper, `**kwargs`, a return built elsewhere) is unknown.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from datakit.lineage.model import How

UNKNOWN: frozenset[str] = frozenset({"*"})
"""The fields read by an expression that reads the whole row (or something we cannot follow)."""


@dataclass(frozen=True)
class FieldSource:
    """A target field: the source fields it reads (empty: a constant), and how; `unknown` when unreadable."""

    reads: frozenset[str]
    how: How
    expression: str

    @property
    def unknown(self) -> bool:
        return "*" in self.reads


def transform_fields(func: Callable[..., Any], fields: Collection[str]) -> dict[str, FieldSource] | None:
    """Each target field the transform's returns set, or None when its code cannot be read or followed.

    `fields` are the source model's: any other attribute of the row (`source.model_dump()`) reads it whole.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None)
    if function is None or not function.args.args:
        return None
    reader = _Reader(function.args.args[0].arg, frozenset(fields))
    found: dict[str, FieldSource] = {}
    for statement in _statements(function.body):
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            reader.assign(statement)
        elif isinstance(statement, ast.Return) and statement.value is not None:
            returned = reader.returned(statement.value)
            if returned is None:
                return None
            for name, source in returned.items():
                found[name] = _union(found[name], source) if name in found else source
    return found or None


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements in order, those inside if/for/with/try blocks too (a return may sit in a branch)."""
    out: list[ast.stmt] = []
    for statement in body:
        out.append(statement)
        for block in ("body", "orelse", "finalbody"):
            inner = getattr(statement, block, None)
            if isinstance(inner, list) and not isinstance(statement, ast.FunctionDef | ast.ClassDef):
                out.extend(_statements(inner))
        for handler in getattr(statement, "handlers", []):
            out.extend(_statements(handler.body))
    return out


class _Reader:
    def __init__(self, argument: str, fields: frozenset[str]) -> None:
        self.argument = argument
        self.fields = fields
        self.locals: dict[str, frozenset[str]] = {}

    def assign(self, statement: ast.Assign | ast.AnnAssign) -> None:
        if statement.value is None:
            return
        reads = self.reads(statement.value)
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    previous = self.locals.get(name.id, frozenset())
                    augmented = previous if isinstance(statement, ast.AnnAssign) else frozenset()
                    self.locals[name.id] = reads | augmented

    def returned(self, value: ast.expr) -> dict[str, FieldSource] | None:
        """The fields a return statement sets: a model call with keywords, or a dict literal."""
        if isinstance(value, ast.Call) and all(k.arg is not None for k in value.keywords) and not value.args:
            return {k.arg: self.field(k.arg, k.value) for k in value.keywords if k.arg is not None}
        if isinstance(value, ast.Dict) and all(isinstance(k, ast.Constant) for k in value.keys):
            return {
                str(k.value): self.field(str(k.value), v)
                for k, v in zip(value.keys, value.values, strict=True)
                if isinstance(k, ast.Constant)
            }
        return None

    def field(self, name: str, value: ast.expr) -> FieldSource:
        reads = self.reads(value)
        text = ast.unparse(value)
        if self._is_attribute(value):
            assert isinstance(value, ast.Attribute)
            return FieldSource(reads, How.COPIED if value.attr == name else How.RENAMED, text)
        return FieldSource(reads, How.TRANSFORMED, text)

    def reads(self, value: ast.expr) -> frozenset[str]:
        """The argument's fields `value` reads (through local variables too); UNKNOWN for the whole row."""
        found: set[str] = set()
        attributes = {id(n.value) for n in ast.walk(value) if isinstance(n, ast.Attribute)}
        for node in ast.walk(value):
            if self._is_attribute(node):
                assert isinstance(node, ast.Attribute)
                if node.attr not in self.fields:
                    return UNKNOWN
                found.add(node.attr)
            elif isinstance(node, ast.Name):
                if node.id == self.argument and id(node) not in attributes:
                    return UNKNOWN  # the row itself goes somewhere: any field may be read
                found |= self.locals.get(node.id, frozenset())
        return frozenset(found)

    def _is_attribute(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == self.argument
        )


def _union(a: FieldSource, b: FieldSource) -> FieldSource:
    how = a.how if a.how == b.how else How.TRANSFORMED
    return FieldSource(a.reads | b.reads, how, f"{a.expression} | {b.expression}")
