"""A tenant's dbt nodes in the tenant's schemas, whatever the dbt project's own schema naming says.

A tenant run must never write a relation of the project without tenants, nor of another tenant, and
the dbt project is written once with plain names: no `var('schema_prefix')`, no datakit macro, any
`generate_schema_name` (dbt's default `<target schema>_<custom schema>`, the common "custom schema
as is" override, or the user's own logic). So datakit does not ask the project to name schemas for
tenants. It lets dbt parse the project exactly as for the project without tenants, then prefixes the
schema of every node that dbt would create (models, seeds, snapshots, stored test failures) with the
tenant's `schema_prefix`, and runs the command on that manifest (`dbtRunner(manifest=...)`, dbt's
programmatic API). The rule is the one the loader and checks already follow: a tenant's relation is
the project's relation with its schema prefixed (`main_marts.orders` -> `acme_main_marts.orders`).

Sources are not touched: the generated sources already point at the tenant's bronze schemas.
What dbt renders inside SQL from `target.schema` is the project's, not the tenant's; use `ref()`
and `source()` for relations (as dbt recommends anyway).
"""

from __future__ import annotations

from typing import Any

RETARGETED_TYPES = frozenset({"model", "seed", "snapshot", "test", "unit_test"})


def retarget(manifest: Any, prefix: str) -> int:
    """Prefix the schema of every node of `manifest` that dbt creates relations for; how many moved.

    `manifest` is the `dbt.contracts.graph.manifest.Manifest` a `parse` invocation returned (typed
    `Any` here: dbt ships no type stubs). Idempotent only in the sense that the caller retargets a
    fresh parse each time.
    """
    if not prefix:
        return 0
    from dbt.adapters.factory import FACTORY

    relation: Any = FACTORY.get_relation_class_by_name(manifest.metadata.adapter_type)
    moved = 0
    for node in manifest.nodes.values():
        if str(node.resource_type) not in RETARGETED_TYPES or not getattr(node, "schema", None):
            continue
        node.schema = prefix + node.schema
        if getattr(node, "relation_name", None):
            node.relation_name = relation.create(
                database=node.database, schema=node.schema, identifier=node.alias
            ).render()
        moved += 1
    return moved
