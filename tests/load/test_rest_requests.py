"""A REST load requests each page exactly once per run, whether its contract is a datakit's or inferred.

Counted on the server side (`tests.http_api` records every request): a first run, and an incremental
second run that sends the saved cursor, each asking for every page once and nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.load.loader import load_resource
from datakit.load.plan import LoadResult
from datakit.load.reflect import reflect_source
from datakit.load.resolve import plans_for
from tests.http_api import FakeApi, Req, Resp, running_api
from tests.load.test_rest_load import Events

SOURCE = """\
source:
  name: events_api
  type: rest_api
  connection:
    base_url: {url}
    retry: {{max_attempts: 1}}
  resources:
    - name: events
      endpoint: /events
      data_path: data
      paginator: {{type: page_number}}
      primary_key: [id]
      write_disposition: merge
      incremental: {{cursor_field: updated, param: since}}
"""
PIPELINE = """\
pipeline:
  name: events_bronze
  source: {{name: events_api}}
  destination: {{name: warehouse, layer: bronze}}
{datakit}"""


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with running_api() as server:
        yield server


def requested(api: FakeApi) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """How many times each URL (path and query) was requested."""
    return Counter((r.path, tuple(sorted(r.query.items()))) for r in api.requests)


def project(root: Path, api: FakeApi) -> Path:
    init_project(root)
    (root / "config" / "sources" / "events_api.yaml").write_text(SOURCE.format(url=api.url))
    (root / "config" / "pipelines" / "events_bronze.yaml").write_text(PIPELINE.format(datakit=""))
    return root


def run(root: Path) -> LoadResult:
    destination, (plan,) = plans_for(load_project(root), "events_bronze")
    return load_resource(plan, destination)


@pytest.mark.parametrize("contract", ["inferred", "datakit"])
def test_each_page_is_requested_once_per_run(api: FakeApi, tmp_path: Path, contract: str) -> None:
    events = Events(25)  # pages of 10: 1, 2, 3 and the empty page 4 that ends them
    api.route("/events")(events)
    root = project(tmp_path / "wh", api)
    if contract == "datakit":
        reflect_source(load_project(root), "events_api", root / "datakits" / "events_api", sample=5)
        pipeline = PIPELINE.format(datakit="  datakit: events_api\n")
        (root / "config" / "pipelines" / "events_bronze.yaml").write_text(pipeline)
    api.requests.clear()

    first = run(root)
    first_requests = requested(api)
    events.add(5)
    api.requests.clear()
    second = run(root)

    assert (first.rows_loaded, first.cursor) == (25, 250)
    assert first_requests == {("/events", (("page", str(n)),)): 1 for n in (1, 2, 3, 4)}
    # the saved cursor goes with every request of the second run, the sample's included
    assert (second.rows_read, second.cursor) == (6, 300)
    assert requested(api) == {("/events", (("page", str(n)), ("since", "250"))): 1 for n in (1, 2)}


def test_reflect_samples_as_many_records_as_asked(api: FakeApi, tmp_path: Path) -> None:
    """`reflect --sample N` infers from N records (page 1 lacks a field page 2 has), ISO text as times;
    the pipeline then loads with that datakit, every row accepted."""
    import duckdb

    records = [
        {"id": i, "updated": i * 10, "at": f"2024-05-01T10:{i:02d}:00Z", **({"late": "x"} if i > 10 else {})}
        for i in range(1, 26)
    ]

    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        return Resp(200, {"data": records[(page - 1) * 10 : page * 10]})

    api.route("/events")(route)
    root = project(tmp_path / "wh", api)
    kit = root / "datakits" / "events_api"

    reflect_source(load_project(root), "events_api", kit, sample=5)
    small = (kit / "main.py").read_text()
    reflect_source(load_project(root), "events_api", kit, sample=20)
    large = (kit / "main.py").read_text()
    pipeline = PIPELINE.format(datakit="  datakit: events_api\n")
    (root / "config" / "pipelines" / "events_bronze.yaml").write_text(pipeline)
    result = run(root)

    assert "late" not in small and "late: str | None" in large
    assert "at: datetime.datetime | None" in large
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (25, 25, 0)
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'events' AND column_name = 'at'"
        ).fetchone()
    assert kind == ("TIMESTAMP WITH TIME ZONE",)
