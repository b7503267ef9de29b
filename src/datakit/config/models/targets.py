"""`target:` files — one consolidated table that several sources' pipelines load (A + D + E -> B).

    target:
      name: crm_customer
      datakit: crm                      # the datakit holding the consolidated contract
      table: customer                   # its table, at the layer the pipelines load
      provenance: source_system         # the contract column each row's source name is written to
      key_collisions: source_key        # source_key | precedence
      pipelines: [crm_app, crm_shop, crm_exports]   # who loads it; for precedence, the first wins

Every source keeps its own rows: each load writes, replaces and deletes only rows of its own source
(the provenance column is part of the merge key), so loads of different sources never overwrite one
another. `source_key` means the table's primary key includes the provenance column: every source's row
is a row of the table. `precedence` means the key does not: the table still keeps every source's row,
and the view `<table>__resolved` holds one row per key, the one of the first source in `pipelines`
order that has it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from datakit.config.models.common import Description, Name, PipelineRef, StrictModel, Tags

KeyCollisions = Literal["source_key", "precedence"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Target(StrictModel):
    """A consolidated table loaded from several sources, and what happens when their keys collide."""

    name: Name
    description: Description
    tags: Tags
    datakit: Identifier = Field(description="The datakit that holds the consolidated contract.")
    table: str = Field(min_length=1, description="Its table (or schema.table), at the pipelines' layer.")
    provenance: Identifier = Field(
        "source_system",
        description="Contract column the loader fills with the name of each row's source (a string column).",
    )
    key_collisions: KeyCollisions = Field(
        description="source_key: the primary key includes the provenance column, every source's rows are "
        "rows of the table. precedence: one row per key in `<table>__resolved`, from the first source (in "
        "`pipelines` order) that has it; the table keeps every source's rows."
    )
    pipelines: list[PipelineRef] = Field(
        min_length=1, description="The pipelines that load this table; for precedence, highest first."
    )
