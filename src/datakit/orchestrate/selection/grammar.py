"""The selection grammar, dbt's, over a whole plan: `+silver.customer`, `tag:daily,layer:gold`, `2+x`, `@x`.

A `--select` (or `--exclude`) value is a space-separated union of selectors; a selector is a
comma-separated intersection of criteria; a criterion is an optional method (`tag:`, `layer:`,
`source:`, `path:`, `state:`, `resource_type:`, `fqn:`; none: names and globs) and a value, with graph
operators around it: `+x` (x and everything upstream), `x+` (and downstream), `2+x` / `x+1` (that many
steps only), `@x` (x, everything downstream, and everything those need). Parsing is pure text; what
matches is `methods`' business, how far the operators reach `graph`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from datakit.errors import UsageError, did_you_mean

METHODS = ("tag", "layer", "source", "path", "state", "resource_type", "fqn")
_CRITERION = re.compile(
    r"^(?P<at>@)?(?:(?P<up_depth>\d*)(?P<up>\+))?(?:(?P<method>[a-z_]+):)?(?P<value>[^@+]+)"
    r"(?:(?P<down>\+)(?P<down_depth>\d*))?$"
)


@dataclass(frozen=True)
class Criterion:
    """One criterion: what it matches, and how far up and down from there it reaches.

    `upstream`/`downstream`: 0 = not at all, None = without limit, n = n edges.
    """

    text: str
    method: str | None
    value: str
    upstream: int | None = 0
    downstream: int | None = 0
    at: bool = False


@dataclass(frozen=True)
class Selector:
    """A comma-separated intersection of criteria, as written (`tag:daily,layer:gold`)."""

    text: str
    criteria: tuple[Criterion, ...]


def parse(values: Iterable[str], option: str = "--select") -> list[Selector]:
    """The selectors of every value of `option` (each value may hold several, space-separated)."""
    selectors: list[Selector] = []
    for value in values:
        for token in value.split():
            parts = token.split(",")
            if not all(parts):
                raise UsageError(f"{option} {token!r}: empty criterion around a comma")
            selectors.append(Selector(token, tuple(_criterion(part, option) for part in parts)))
    return selectors


def _criterion(text: str, option: str) -> Criterion:
    found = _CRITERION.match(text)
    if found is None:
        raise UsageError(
            f"{option} {text!r} is not a selector",
            hint="write NAME, a glob (silver.*), METHOD:VALUE (tag:daily), with +/N+/@ around it "
            "(+silver.customer, silver.customer+, 2+x, @x)",
        )
    if found["at"] and found["up"]:
        raise UsageError(f"{option} {text!r}: `@` already reaches upstream; give `@x` or `+x`, not both")
    method = found["method"]
    if method is not None and method not in METHODS:
        guess = did_you_mean(method, METHODS)
        raise UsageError(
            f"{option} {text!r}: unknown method {method!r}",
            hint=(f"{guess} " if guess else "") + f"methods: {', '.join(m + ':' for m in METHODS)}",
        )
    return Criterion(
        text=text,
        method=method,
        value=found["value"],
        upstream=_depth(found["up"], found["up_depth"]),
        downstream=_depth(found["down"], found["down_depth"]),
        at=bool(found["at"]),
    )


def _depth(plus: str | None, digits: str | None) -> int | None:
    """0 without the operator, None (no limit) for a bare `+`, else the number of edges."""
    if not plus:
        return 0
    return int(digits) if digits else None
