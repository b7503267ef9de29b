"""Names and values from config rendered into a destination's SQL (its `Engine` spells them).

Table and column names from YAML are identifiers, never SQL: each dotted part is double-quoted with
embedded quotes doubled, so `email"; drop table x; --` names a (strange) column instead of ending the
statement. Values (accepted values, bounds) are rendered as literals for the same reason. Only the
`expression` and `sql` checks carry user SQL, on purpose.

Checks are stored with their SQL in run history, so values are literals rather than bind parameters:
the stored query is exactly what ran and can be pasted into a SQL console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.config.models.checks import table_parts

if TYPE_CHECKING:
    from datakit.connectors import Engine


def relation(engine: Engine, ref: str) -> str:
    """`silver.customer` -> `"silver"."customer"`, each part quoted on its own."""
    return engine.quote(*table_parts(ref))


def user_sql(text: str) -> str:
    """User SQL made embeddable as a subquery: trailing `;` removed, kept on lines of its own so that
    a trailing `-- comment` cannot swallow the closing parenthesis."""
    return "\n" + text.strip().rstrip(";").rstrip() + "\n"
