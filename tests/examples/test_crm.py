"""examples/crm, A + D + E -> B: a PostgreSQL app, a MariaDB shop and CSV exports, each through its own
datakit and typed transform, into the consolidated crm.customer and crm.person — on DuckDB and on
PostgreSQL, with expected counts per source, no row lost on colliding keys, loads of different sources
that neither overwrite nor wait for each other, and `validate` checking the declared collision rules.

Expected figures come from the seed rows and the CSV file, not from datakit.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests import services
from tests.conftest import EXAMPLES
from tests.matrix import scratch_database
from tests.waits import GUARD

EXAMPLE = EXAMPLES / "crm"
ENGINES = [pytest.param("duckdb"), pytest.param("postgres", marks=pytest.mark.postgres)]


def _seed_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crm_seed", EXAMPLE / "seed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED = _seed_module()


def _exports() -> list[dict[str, str]]:
    with (EXAMPLE / "data" / "exports" / "customers.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def expected() -> dict[str, Any]:
    """Rows per source, and the resolved person of each email (app first, then shop, then exports)."""
    systems = {
        "app_db": [(row[0], row[1].lower()) for row in SEED.APP_CUSTOMERS],
        "shop_db": [(row[0], row[2].lower()) for row in SEED.SHOP_CLIENTS],
        "exports": [(int(row["id"]), row["email"].lower()) for row in _exports()],
    }
    winner: dict[str, str] = {}
    for source in ("app_db", "shop_db", "exports"):
        for _, email in systems[source]:
            winner.setdefault(email, source)
    return {"per_source": {s: len(rows) for s, rows in systems.items()}, "winner": winner}


@pytest.fixture(scope="module")
def sources(pg_dsn: str) -> Iterator[dict[str, str]]:
    """The app's PostgreSQL database and the shop's MariaDB database, seeded by the example's seed.py;
    the environment the example's source configs read."""
    mysql = services.mysql_url()
    parts = urlsplit(mysql)
    shop = f"crm_shop_{uuid.uuid4().hex[:8]}"
    import pymysql

    def admin() -> Any:
        return pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            autocommit=True,
        )

    with admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{shop}`")
    try:
        with scratch_database(pg_dsn, "crm_app") as app:
            from psycopg.conninfo import conninfo_to_dict

            SEED.seed_app(app)
            SEED.seed_shop(parts._replace(path=f"/{shop}").geturl())
            info = {k: str(v) for k, v in conninfo_to_dict(app).items() if v is not None}
            yield {
                "CRM_APP_HOST": info.get("host", "127.0.0.1"),
                "CRM_APP_PORT": info.get("port", "5432"),
                "CRM_APP_DATABASE": info["dbname"],
                "CRM_APP_USER": info.get("user", "datakit"),
                "CRM_APP_PASSWORD": info.get("password", ""),
                "CRM_SHOP_HOST": parts.hostname or "127.0.0.1",
                "CRM_SHOP_PORT": str(parts.port or 3306),
                "CRM_SHOP_DATABASE": shop,
                "CRM_SHOP_USER": unquote(parts.username or "root"),
                "CRM_SHOP_PASSWORD": unquote(parts.password or ""),
            }
    finally:
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{shop}`")


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The engine under test and the environment that points the example's warehouse at it."""
    engine = request.param
    if engine == "duckdb":
        yield engine, {}
        return
    with scratch_database(services.postgres_dsn(), "crm_wh") as dsn:
        from psycopg.conninfo import conninfo_to_dict

        info = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        yield (
            engine,
            {
                "ENVIRONMENT": "prod",
                "CRM_PG_HOST": info.get("host", "127.0.0.1"),
                "CRM_PG_PORT": info.get("port", "5432"),
                "CRM_PG_DATABASE": info["dbname"],
                "CRM_PG_USER": info.get("user", "datakit"),
                "CRM_WAREHOUSE_PASSWORD": info.get("password", ""),
            },
        )


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "crm"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit", "__pycache__"))
    return root


def datakit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | {"COLUMNS": "200"} | env
    return subprocess.run(
        [sys.executable, "-m", "datakit", "-p", str(root), *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def rows_of(engine: str, root: Path, env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    if engine == "duckdb":
        import duckdb

        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()
    import psycopg

    dsn = (
        f"host={env['CRM_PG_HOST']} port={env['CRM_PG_PORT']} dbname={env['CRM_PG_DATABASE']} "
        f"user={env['CRM_PG_USER']} password={env['CRM_WAREHOUSE_PASSWORD']}"
    )
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_the_example_validates_as_it_is() -> None:
    done = datakit(EXAMPLE, {}, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 pipelines" in done.stdout and "2 targets" in done.stdout


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ENGINES, indirect=True)
def test_three_sources_load_one_target_with_every_row_kept(
    tmp_path: Path, sources: dict[str, str], warehouse: tuple[str, dict[str, str]]
) -> None:
    engine, target_env = warehouse
    root, env = copy_example(tmp_path), sources | target_env
    want = expected()
    for attempt in (1, 2):  # the second run changes nothing: no row duplicated, none lost
        done = datakit(root, env, "run", "job", "crm_daily", "--json")
        assert done.returncode == 0, f"run {attempt}: " + done.stdout[-3000:] + done.stderr[-3000:]

        def q(sql: str) -> list[tuple[Any, ...]]:
            return rows_of(engine, root, env, sql)

        per_source = dict(q("select source_system, count(*) from sv__crm__main.customer group by 1"))
        assert per_source == want["per_source"]
        ids = q("select source_system, customer_id from sv__crm__main.customer")
        assert len(ids) == len(set(ids)) == sum(want["per_source"].values())
        assert {i for s, i in ids if s == "app_db"} & {i for s, i in ids if s == "shop_db"}  # ids collide
        provenance = dict(  # each row's load record names where it came from
            q(
                "select distinct c.source_system, l.source from sv__crm__main.customer as c "
                "join _datakit.loads as l on l.id = c._dk_load_id"
            )
        )
        assert provenance["app_db"].startswith("app_db.public.customers")
        assert provenance["exports"] == "exports.customers"

        people = q("select source_system, email from sv__crm__main.person")
        assert len(people) == sum(want["per_source"].values())  # every source's version of a person
        resolved = dict(q("select email, source_system from sv__crm__main.person__resolved"))
        assert resolved == want["winner"]
    assert resolved["ann@example.com"] == "app_db"  # the shop has Ann too: the app wins
    assert resolved["hal@example.com"] == "shop_db"  # the shop and the exports have Hal: the shop wins

    # a full refresh of one source replaces that source's rows only: the others' stay
    refreshed = datakit(root, env, "run", "pipeline", "crm_exports", "--full-refresh", "--yes", "--json")
    assert refreshed.returncode == 0, refreshed.stdout[-3000:] + refreshed.stderr[-3000:]
    assert "replaced the rows of source exports" in refreshed.stdout
    assert (
        dict(q("select source_system, count(*) from sv__crm__main.customer group by 1")) == want["per_source"]
    )
    assert dict(q("select email, source_system from sv__crm__main.person__resolved")) == want["winner"]


def test_validate_checks_the_declared_collision_rules(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    targets = root / "config" / "targets"

    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    edit(
        targets / "crm_customer.yaml",
        "pipelines: [crm_app, crm_shop, crm_exports]",
        "pipelines: [crm_app, crm_shop]",
    )
    edit(targets / "crm_person.yaml", "key_collisions: precedence", "key_collisions: source_key")
    done = datakit(root, {}, "validate", "--json")
    assert done.returncode == 1
    problems = {
        (Path(p["file"]).name, p["field"], p["message"]): p for p in json.loads(done.stdout)["problems"]
    }
    uncovered = problems[
        (
            "crm_exports.yaml",
            "destination",
            "pipeline 'crm_exports' (source 'exports') loads crm.customer into destination 'warehouse', as "
            "pipeline 'crm_app' does from source 'app_db': without a declared rule one source's rows would "
            "overwrite the other's on equal keys",
        )
    ]
    assert uncovered["suggestion"] == "add 'crm_exports' to the pipelines of target 'crm_customer'"
    assert uncovered["line"] == 5
    rule = problems[
        (
            "crm_person.yaml",
            "key_collisions",
            "key_collisions: source_key, but the primary key of 'person' (email) does not include "
            "'source_system'",
        )
    ]
    assert rule["line"] == 10

    edit(targets / "crm_person.yaml", "key_collisions: source_key", "key_collisions: precedence")
    edit(targets / "crm_person.yaml", "table: person", "table: persons")
    edit(targets / "crm_customer.yaml", "provenance: source_system", "provenance: source_sytem")
    done = datakit(root, {}, "validate", "--json")
    found = {(p["field"], p["message"], p["suggestion"]) for p in json.loads(done.stdout)["problems"]}
    assert ("table", "datakit 'crm' has no silver table 'persons'", "did you mean 'person'?") in {
        (f, m.split(": ", 1)[-1], s) for f, m, s in found
    }
    assert (
        "provenance",
        "the provenance column 'source_sytem' is not a column of 'customer'",
        "did you mean 'source_system'?",
    ) in found


@pytest.mark.postgres
@pytest.mark.mysql
def test_loads_of_two_sources_neither_wait_for_nor_overwrite_each_other(
    tmp_path: Path, sources: dict[str, str], pg_dsn: str
) -> None:
    """The app's full refresh (DELETE of its rows, then COPY) holds its transaction open while the
    shop's merge into the same table runs to its commit; then both sources' rows are there."""
    from datakit.config import load_project
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions
    from datakit.load.resolve import plans_for

    root = copy_example(tmp_path)
    with scratch_database(pg_dsn, "crm_wh") as dsn:
        from psycopg.conninfo import conninfo_to_dict

        info = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        env = sources | {
            "CRM_PG_DATABASE": info["dbname"],
            "CRM_PG_HOST": info.get("host", "127.0.0.1"),
            "CRM_WAREHOUSE_PASSWORD": info.get("password", ""),
        }
        project = load_project(root, environment="prod", environ=os.environ | env)
        app_dest, (app_plan,) = plans_for(project, "crm_app", resources=["customers"])
        shop_dest, (shop_plan,) = plans_for(project, "crm_shop", resources=["clients"])
        for destination, plan in ((app_dest, app_plan), (shop_dest, shop_plan)):
            assert load_resource(plan, destination).rows_loaded > 0  # first loads: the table exists

        _rename_client(sources, 2, "Ann Lee-Park")  # the shop's merge must UPDATE a row of its own
        holding, shop_done = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}

        def hold(_: object) -> None:  # called inside the app's data transaction, after its rows are written
            holding.set()
            outcome["shop_finished_while_held"] = shop_done.wait(GUARD)

        def app_refresh() -> None:
            outcome["app"] = load_resource(app_plan, app_dest, RunOptions(full_refresh=True, progress=hold))

        thread = threading.Thread(target=app_refresh)
        thread.start()
        try:
            assert holding.wait(GUARD), "the app's load never reached its rows"
            outcome["shop"] = load_resource(shop_plan, shop_dest)  # waits on the app's locks if it blocks
        finally:
            shop_done.set()
            thread.join(GUARD)
            _rename_client(sources, 2, "Ann Lee")
        assert outcome["shop_finished_while_held"] is True
        assert outcome["app"].status == outcome["shop"].status == "succeeded"

        import psycopg

        with psycopg.connect(dsn) as conn:
            counts = dict(
                conn.execute(
                    "select source_system, count(*) from sv__crm__main.customer group by 1"
                ).fetchall()
            )
            (name,) = conn.execute(
                "select full_name from sv__crm__main.customer "
                "where source_system = 'shop_db' and customer_id = 2"
            ).fetchone() or (None,)
        assert counts == {"app_db": len(SEED.APP_CUSTOMERS), "shop_db": len(SEED.SHOP_CLIENTS)}
        assert name == "Ann Lee-Park"


def _rename_client(sources: dict[str, str], client_id: int, name: str) -> None:
    import pymysql

    conn = pymysql.connect(
        host=sources["CRM_SHOP_HOST"],
        port=int(sources["CRM_SHOP_PORT"]),
        user=sources["CRM_SHOP_USER"],
        password=sources["CRM_SHOP_PASSWORD"],
        database=sources["CRM_SHOP_DATABASE"],
        autocommit=True,
    )
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE clients SET name = %s WHERE client_id = %s", (name, client_id))
