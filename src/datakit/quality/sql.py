"""Rendering names and values from config into SQL for DuckDB and PostgreSQL.

Table and column names from YAML are identifiers, never SQL: each dotted part is double-quoted with
embedded quotes doubled, so `email"; drop table x; --` names a (strange) column instead of ending the
statement. Values (accepted values, bounds) are rendered as literals for the same reason. Only the
`expression` and `sql` checks carry user SQL, on purpose.

Checks are stored with their SQL in run history, so values are literals rather than bind parameters:
the stored query is exactly what ran and can be pasted into a SQL console.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from datakit.config.models.checks import Value, table_parts

DialectName = Literal["duckdb", "postgres"]


@dataclass(frozen=True)
class Dialect:
    """The SQL spelling of one destination type (the two agree on almost everything checks need)."""

    name: DialectName
    default_schema: str
    """Where a table named without a schema lives (the connection's default)."""

    def identifier(self, name: str) -> str:
        """One quoted identifier: `a"b` -> `"a""b"`."""
        return '"' + name.replace('"', '""') + '"'

    def table(self, ref: str) -> str:
        """`silver.customer` -> `"silver"."customer"`, each part quoted on its own."""
        return ".".join(self.identifier(part) for part in table_parts(ref))

    def literal(self, value: Value) -> str:
        """A constant from config as a SQL literal."""
        if isinstance(value, bool):  # before int: bool is an int
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return repr(value)
            return f"CAST('{value!r}' AS DOUBLE PRECISION)"  # 'nan', 'inf', '-inf': both parse these
        return self.string(value)

    def string(self, text: str) -> str:
        """A string literal. PostgreSQL gets an E'' string when backslashes occur, so that the result
        does not depend on the server's `standard_conforming_strings`; DuckDB has no escapes at all."""
        quoted = text.replace("'", "''")
        if self.name == "postgres" and "\\" in text:
            return "E'" + quoted.replace("\\", "\\\\") + "'"
        return "'" + quoted + "'"

    def older_than(self, max_age: timedelta) -> str:
        """The instant `max_age` before the database's clock (the clock that stamped the rows)."""
        seconds = max_age.total_seconds()
        amount = str(int(seconds)) if seconds.is_integer() else repr(seconds)
        return f"current_timestamp - interval '{amount} seconds'"


DUCKDB = Dialect("duckdb", "main")
POSTGRES = Dialect("postgres", "public")
DIALECTS: dict[str, Dialect] = {d.name: d for d in (DUCKDB, POSTGRES)}


def user_sql(text: str) -> str:
    """User SQL made embeddable as a subquery: trailing `;` removed, kept on lines of its own so that
    a trailing `-- comment` cannot swallow the closing parenthesis."""
    return "\n" + text.strip().rstrip(";").rstrip() + "\n"
