"""CHECK constraints <-> column rules (range, accepted values, pattern, max length).

Silver tables enforce a contract's rules with CHECK constraints, and reflection reads them back, so
deploying a contract and reflecting the table gives the same contract. PostgreSQL stores a CHECK in its
own normalised text (`(rating = ANY (ARRAY['G'::text, 'PG'::text]))`), DuckDB keeps what it was given,
and a PostgreSQL domain's check speaks of `VALUE` (`VALUE >= 1901 AND VALUE <= 2155`); this parser
understands the conjunctions of simple column-versus-literal comparisons all three produce. Anything
else (OR, two columns, functions other than length) is not a column rule and parses to None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.contracts.model import Column

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
    |(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<qid>"(?:[^"]|"")+")
    |(?P<id>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<op>::|>=|<=|<>|!=|=|<|>|~|\(|\)|\[|\]|,|-)
    )""",
    re.VERBOSE,
)
_LENGTH_FUNCTIONS = {"length", "char_length", "character_length"}
_KEYWORDS = {"and", "or", "in", "any", "array", "between", "not", "is", "null"}


@dataclass(frozen=True)
class ColumnRules:
    """The rules one CHECK (or a domain's checks) puts on one column; unset fields are None."""

    min: Any = None
    max: Any = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    accepted_values: tuple[Any, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None

    def merge(self, other: ColumnRules) -> ColumnRules:
        """Both sets of rules at once (the later one wins where both set the same rule)."""
        updates = {
            name: getattr(other, name)
            for name in ("min", "max", "accepted_values", "pattern", "max_length")
            if getattr(other, name) is not None
        }
        if other.min is not None:
            updates["min_exclusive"] = other.min_exclusive
        if other.max is not None:
            updates["max_exclusive"] = other.max_exclusive
        return replace(self, **updates)


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    pos: int = 0
    rules: dict[str, ColumnRules] = field(default_factory=dict)

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.items[index] if index < len(self.items) else ("end", "")

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        got_kind, got_text = self.peek()
        if (kind and got_kind != kind) or (text and got_text.lower() != text):
            raise _NotUnderstood
        self.pos += 1
        return got_text

    def at(self, kind: str, text: str | None = None) -> bool:
        got_kind, got_text = self.peek()
        return got_kind == kind and (text is None or got_text.lower() == text)


class _NotUnderstood(Exception):
    """The expression is not a conjunction of column rules."""


def parse_check(sql: str, *, value_name: str | None = None) -> dict[str, ColumnRules] | None:
    """The column rules a CHECK expression states, keyed by column; None if it states something else.

    `value_name` is the placeholder a domain check uses for its value (`VALUE`); its rules come back
    under that key.
    """
    tokens = _tokenize(sql)
    if tokens is None:
        return None
    stream = _Tokens(tokens)
    try:
        _conjunction(stream, value_name)
        if stream.peek()[0] != "end":
            return None
    except _NotUnderstood:
        return None
    return stream.rules or None


def _tokenize(sql: str) -> list[tuple[str, str]] | None:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = sql.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            return None
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _conjunction(stream: _Tokens, value_name: str | None) -> None:
    _condition(stream, value_name)
    while stream.at("id", "and"):
        stream.take()
        _condition(stream, value_name)


def _condition(stream: _Tokens, value_name: str | None) -> None:
    start = stream.pos
    try:
        _comparison(stream, value_name)
        return
    except _NotUnderstood:
        stream.pos = start
    stream.take("op", "(")
    _conjunction(stream, value_name)
    stream.take("op", ")")


def _comparison(stream: _Tokens, value_name: str | None) -> None:
    if stream.at("id", "regexp_matches") or stream.at("id", "regexp_full_match"):
        full = stream.take().lower() == "regexp_full_match"
        stream.take("op", "(")
        column = _column(stream, value_name)
        stream.take("op", ",")
        pattern = _literal(stream)
        stream.take("op", ")")
        if not isinstance(pattern, str):
            raise _NotUnderstood
        _add(stream, column, ColumnRules(pattern=f"^(?:{pattern})$" if full else pattern))
        return
    left = _operand(stream, value_name)
    if stream.at("id", "in"):
        stream.take()
        _add(stream, _as_column(left), ColumnRules(accepted_values=tuple(_literal_list(stream, "(", ")"))))
        return
    if stream.at("id", "between"):
        stream.take()
        low = _literal(stream)
        stream.take("id", "and")
        _add(stream, _as_column(left), ColumnRules(min=low, max=_literal(stream)))
        return
    operator = stream.take("op")
    if operator == "=" and stream.at("id", "any"):
        stream.take()
        stream.take("op", "(")
        values = _array_values(stream)
        stream.take("op", ")")
        _add(stream, _as_column(left), ColumnRules(accepted_values=tuple(values)))
        return
    right = _operand(stream, value_name)
    _add_comparison(stream, left, operator, right)


def _add_comparison(stream: _Tokens, left: Any, operator: str, right: Any) -> None:
    flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
    if isinstance(left, _Literal) and isinstance(right, _Ref):
        if operator not in flipped:
            raise _NotUnderstood
        left, right, operator = right, left, flipped[operator]
    if not isinstance(left, _Ref) or not isinstance(right, _Literal):
        raise _NotUnderstood
    value = right.value
    if left.length:  # length(col) <= n
        if not isinstance(value, int) or operator not in ("<=", "<"):
            raise _NotUnderstood
        _add(stream, left.name, ColumnRules(max_length=value if operator == "<=" else value - 1))
        return
    rules: dict[str, Callable[[], ColumnRules]] = {
        ">=": lambda: ColumnRules(min=value),
        ">": lambda: ColumnRules(min=value, min_exclusive=True),
        "<=": lambda: ColumnRules(max=value),
        "<": lambda: ColumnRules(max=value, max_exclusive=True),
        "=": lambda: ColumnRules(accepted_values=(value,)),
        "~": lambda: ColumnRules(pattern=value) if isinstance(value, str) else _fail(),
    }
    if operator not in rules:
        raise _NotUnderstood
    _add(stream, left.name, rules[operator]())


def _fail() -> ColumnRules:
    raise _NotUnderstood


def _add(stream: _Tokens, column: str, rules: ColumnRules) -> None:
    stream.rules[column] = stream.rules.get(column, ColumnRules()).merge(rules)


@dataclass(frozen=True)
class _Ref:
    name: str
    length: bool = False


@dataclass(frozen=True)
class _Literal:
    value: Any


def _as_column(operand: Any) -> str:
    if not isinstance(operand, _Ref) or operand.length:
        raise _NotUnderstood
    return operand.name


def _column(stream: _Tokens, value_name: str | None) -> str:
    return _as_column(_operand(stream, value_name))


def _operand(stream: _Tokens, value_name: str | None) -> _Ref | _Literal:
    kind, text = stream.peek()
    result: _Ref | _Literal
    if kind == "op" and text == "(":
        stream.take()
        result = _operand(stream, value_name)
        stream.take("op", ")")
    elif kind == "id" and text.lower() in _LENGTH_FUNCTIONS and stream.peek(1) == ("op", "("):
        stream.take()
        stream.take("op", "(")
        inner = _operand(stream, value_name)
        stream.take("op", ")")
        if not isinstance(inner, _Ref):
            raise _NotUnderstood
        result = _Ref(inner.name, length=True)
    elif kind == "qid":
        stream.take()
        result = _Ref(text[1:-1].replace('""', '"'))
    elif kind == "id" and text.lower() not in _KEYWORDS:
        stream.take()
        if value_name is not None and text.lower() == value_name.lower():
            result = _Ref(value_name)
        else:
            result = _Ref(text)
    else:
        result = _Literal(_literal(stream))
    _skip_casts(stream)
    return result


def _literal(stream: _Tokens) -> Any:
    negative = False
    if stream.at("op", "-"):
        stream.take()
        negative = True
    if stream.at("op", "("):  # PostgreSQL writes (-5)::numeric
        stream.take()
        value = _literal(stream)
        stream.take("op", ")")
    else:
        kind, text = stream.peek()
        if kind == "str":
            stream.take()
            value = text[1:-1].replace("''", "'")
        elif kind == "num":
            stream.take()
            value = int(text) if text.isdigit() else Decimal(text)
        else:
            raise _NotUnderstood
    _skip_casts(stream)
    if negative:
        if isinstance(value, str):
            raise _NotUnderstood
        value = -value
    return value


def _skip_casts(stream: _Tokens) -> None:
    """Skip `::type name[]` casts: the column's logical type decides how a literal is read."""
    while stream.at("op", "::"):
        stream.take()
        stream.take("id")
        while stream.at("id") and stream.peek()[1].lower() not in _KEYWORDS:
            stream.take()
        if stream.at("op", "("):  # ::character varying(10)
            stream.take()
            while not stream.at("op", ")"):
                stream.take()
            stream.take()
        while stream.at("op", "[") and stream.peek(1) == ("op", "]"):
            stream.take()
            stream.take()


def _literal_list(stream: _Tokens, open_: str, close: str) -> list[Any]:
    stream.take("op", open_)
    values = [_literal(stream)]
    while stream.at("op", ","):
        stream.take()
        values.append(_literal(stream))
    stream.take("op", close)
    return values


def _array_values(stream: _Tokens) -> list[Any]:
    if stream.at("id", "array"):
        stream.take()
        values = _literal_list(stream, "[", "]")
        _skip_casts(stream)
        return values
    text = _literal(stream)  # '{G,PG,"PG-13"}'::text[]
    if not isinstance(text, str) or not (text.startswith("{") and text.endswith("}")):
        raise _NotUnderstood
    return [item.strip().strip('"') for item in text[1:-1].split(",")] if text != "{}" else []


# -- column rules -> the comparisons of a CHECK ------------------------------------------------------------


def posix_match(ref: str, pattern: str) -> str:
    """The canonical spelling of a pattern rule (PostgreSQL's `~`, a search), which `parse_check` reads."""
    return f"{ref} ~ {pattern}"


def rule_sql(column: Column, *, match: Callable[[str, str], str] = posix_match) -> list[str]:
    """The comparisons enforcing `column`'s range, accepted values and pattern, to join with AND.

    `match(quoted column, pattern literal)` spells a pattern search in the target engine. `parse_check`
    reads these back, so a deployed contract reflects to itself.
    """
    ref = '"' + column.name.replace('"', '""') + '"'
    parts: list[str] = []
    if column.min is not None:
        parts.append(f"{ref} {'>' if column.min_exclusive else '>='} {_rule_value(column.min)}")
    if column.max is not None:
        parts.append(f"{ref} {'<' if column.max_exclusive else '<='} {_rule_value(column.max)}")
    if column.accepted_values is not None:
        parts.append(f"{ref} IN ({', '.join(_rule_value(value) for value in column.accepted_values)})")
    if column.pattern is not None:
        parts.append(match(ref, _rule_value(column.pattern)))
    return parts


def _rule_value(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError("no boolean rule values")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return _text(value.isoformat(sep=" "))
    if isinstance(value, date | time):
        return _text(value.isoformat())
    return _text(str(value))


def _text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
