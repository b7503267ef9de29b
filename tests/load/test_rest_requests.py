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
from tests.http_api import FakeApi, running_api
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
