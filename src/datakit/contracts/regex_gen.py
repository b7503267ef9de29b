"""Strings that match a regular expression, for test factories.

A small generator over Python's own regex parser, deterministic for a given `random.Random`. It covers
what contract patterns use in practice: literals, `.`, classes (`[a-z0-9_]`, negated ones), `\\d \\w \\s`,
groups, alternation, repeats (`* + ? {m,n}`; open repeats stop 3 past their minimum), anchors and
backreferences. Lookarounds cannot be generated and raise ValueError. Classes draw from ASCII, so
`\\d` and `\\w` mean what RE2 (the validator's engine) means by them.
"""

from __future__ import annotations

import importlib
import random
import string
from typing import Any

# The regex parser is private to `re` (no stubs), but stable and the only one that parses Python's syntax.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

_PRINTABLE = [c for c in string.printable if c not in "\n\r\x0b\x0c\t"]
_CATEGORIES = {
    sre.CATEGORY_DIGIT: string.digits,
    sre.CATEGORY_NOT_DIGIT: string.ascii_letters + "_-",
    sre.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre.CATEGORY_NOT_WORD: " -.,;:!",
    sre.CATEGORY_SPACE: " ",
    sre.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
OPEN_REPEAT_EXTRA = 3


def generate(pattern: str, rng: random.Random) -> str:
    """One string that `pattern` matches in full."""
    parsed = sre_parse.parse(pattern)
    groups: dict[int, str] = {}
    return _sequence(list(parsed), rng, groups)


def _sequence(items: list[tuple[Any, Any]], rng: random.Random, groups: dict[int, str]) -> str:
    return "".join(_item(op, av, rng, groups) for op, av in items)


def _item(op: Any, av: Any, rng: random.Random, groups: dict[int, str]) -> str:
    if op is sre.LITERAL:
        return chr(av)
    if op is sre.NOT_LITERAL:
        return rng.choice([c for c in _PRINTABLE if ord(c) != av])
    if op is sre.ANY:
        return rng.choice(_PRINTABLE)
    if op is sre.IN:
        return rng.choice(_class_members(av))
    if op is sre.AT:
        return ""
    if op is sre.BRANCH:
        return _sequence(list(rng.choice(av[1])), rng, groups)
    if op is sre.SUBPATTERN:
        group, _add_flags, _del_flags, body = av
        text = _sequence(list(body), rng, groups)
        if group is not None:
            groups[group] = text
        return text
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
        low, high, body = av
        high = low + OPEN_REPEAT_EXTRA if high is sre.MAXREPEAT else high
        return "".join(_sequence(list(body), rng, groups) for _ in range(rng.randint(low, high)))
    if op is sre.GROUPREF:
        return groups.get(av, "")
    if op is sre.ATOMIC_GROUP:
        return _sequence(list(av), rng, groups)
    if op is sre.CATEGORY:
        return rng.choice(_CATEGORIES[av])
    raise ValueError(f"cannot generate strings for regex construct {op}")


def _class_members(items: list[tuple[Any, Any]]) -> list[str]:
    negate = bool(items) and items[0][0] is sre.NEGATE
    members: set[str] = set()
    for op, av in items[1:] if negate else items:
        if op is sre.LITERAL:
            members.add(chr(av))
        elif op is sre.RANGE:
            members.update(chr(code) for code in range(av[0], av[1] + 1) if code < 0x250)
        elif op is sre.CATEGORY:
            members.update(_CATEGORIES[av])
        else:
            raise ValueError(f"cannot generate strings for class member {op}")
    if negate:
        members = {c for c in _PRINTABLE if c not in members}
    if not members:
        raise ValueError("a character class that matches nothing")
    return sorted(members)
