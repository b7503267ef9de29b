"""The first pages of a read, read ahead: the sample its schemas are inferred from, replayed by the read.

A REST API has no catalog: a table's schema is known only from its records. It is inferred from the pages
that hold the read's first `batch_size` rows of the table, that is its first batch: what the read gathers
before it hands anything out, so reading that far ahead costs no time and no memory the read would not
spend anyway. The pages are kept (`Sample`) and replayed by the read that follows (`drain`): asking for a
schema, then reading, requests every page once.

Pages are inferred one at a time, so the sample's pages are unified into one schema per table (`unify`):
every field any page has, in the order first seen; a field null in some pages takes the type of the
others, integers mixed with floats become floats, any other disagreement becomes text (the JSON's own
rendering). A field that first appears after the sample still fails the read, naming the field: the
table was made without it.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from datakit.connectors.rest.records import align

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors.rest.params import RestResourceParams

Tables = dict[str, "pa.RecordBatch"]


class Sample:
    """The pages read ahead from one stream of pages, with the stream, for the read that follows."""

    def __init__(self, key: str, stream: Generator[Tables, None, None]) -> None:
        self.key = key
        self._stream = stream  # a generator: closing it closes the HTTP client
        self._pages: list[Tables] = []
        self._ended = False

    @staticmethod
    def key_of(resource: RestResourceParams, params: dict[str, Any]) -> str:
        """What identifies the requests of a read: the resource and its query parameters."""
        return resource.name + "?" + json.dumps(params, sort_keys=True, default=str)

    def schemas(self, table: str, rows: int) -> dict[str, pa.Schema]:
        """One schema per table of the pages read until `table` has `rows` rows (or the pages end)."""
        while not self._ended and sum(p[table].num_rows for p in self._pages if table in p) < rows:
            try:
                self._pages.append(next(self._stream))
            except StopIteration:
                self._ended = True
        seen: dict[str, list[pa.Schema]] = {}
        for tables in self._pages:
            for name, batch in tables.items():
                seen.setdefault(name, []).append(batch.schema)
        return {name: unify(schemas) for name, schemas in seen.items()}

    def rows(self, table: str, schema: pa.Schema) -> pa.RecordBatch:
        """The sampled rows of `table`, in `schema` (one of `schemas`)."""
        import pyarrow as pa

        pages = [p[table] for p in self._pages if table in p]
        return pa.concat_batches([align(page, schema, strict=False, label=table) for page in pages])

    def drain(self) -> Iterator[Tables]:
        """Every page once: the sampled ones (let go as they are handed out), then the rest."""
        while self._pages:
            yield self._pages.pop(0)
        if not self._ended:
            yield from self._stream

    def close(self) -> None:
        self._pages.clear()
        self._stream.close()


def unify(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for pages inferred apart (see the module docstring)."""
    import pyarrow as pa

    types: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            types.setdefault(field.name, []).append(field.type)
    fields = []
    for name, seen in types.items():
        known = list(dict.fromkeys(t for t in seen if not pa.types.is_null(t)))
        if not known:
            kind = pa.string()  # null in every page: text takes whatever comes
        elif len(known) == 1:
            kind = known[0]
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)
