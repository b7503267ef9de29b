"""What a load does when the source's columns differ from the target table's (see `datakit.load.drift`)."""

from __future__ import annotations

from enum import StrEnum


class DriftMode(StrEnum):
    """`evolve` (bronze default) adds new columns, keeps dropped ones (nullable, so old rows keep their
    values) and widens retyped ones where that is lossless, and reports each change; `freeze` (silver
    default) stops before loading anything, listing every difference.
    """

    EVOLVE = "evolve"
    FREEZE = "freeze"
