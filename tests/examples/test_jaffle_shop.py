"""The second example, examples/jaffle_shop, end to end as a stranger's project: CSV files and a REST API
into bronze, a plain dbt project (no datakit macro, dbt's own schema naming), checks, two tenants and
the project's own warehouse — on DuckDB and on PostgreSQL.

The expected figures are computed here, independently, with SQL over the raw files (the CSV exports and
the API's JSON), and every warehouse's marts must equal them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.pagila_project import scratch_database

EXAMPLE = EXAMPLES / "jaffle_shop"
TENANTS = ("acme", "globex")
TOKENS = {"default": "tok-Default-1", "acme": "tok-Acme-2", "globex": "tok-Globex-3"}
STATUSES = ("placed", "shipped", "completed", "return_pending", "returned")


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """The example's payments API (`api.py`) on a free port; its base URL."""
    env = os.environ | {f"JAFFLE_API_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "api.py"), "--port", "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # printed once it listens
    assert line.startswith("serving on "), line
    yield line.split()[-1]
    server.terminate()
    server.wait()


@dataclass
class Shop:
    root: Path
    env: dict[str, str]

    def datakit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "datakit", "-p", str(self.root), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "datakit", "-p", str(self.root), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def shop(tmp_path: Path, api: str, **extra: str) -> Shop:
    root = tmp_path / "jaffle_shop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit", "target", "logs"))
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    env |= {f"JAFFLE_API_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}
    env |= {"JAFFLE_API_URL": api, "COLUMNS": "200", **extra}
    return Shop(root, env)


def expected(tenant: str) -> dict[str, Any]:
    """The marts of `tenant`'s data, computed with DuckDB over the raw files: orders with a real date
    and a known status (others are quarantined by the contract), amounts in cents / 100."""
    import duckdb

    folder = EXAMPLE / "data" / tenant
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    con = duckdb.connect()
    con.execute(f"""
        create table orders as
            select id, user_id, try_cast(order_date as date) as order_date, status
            from read_csv('{folder / "raw_orders.csv"}', all_varchar = true)
            where try_cast(order_date as date) is not null and status in ({statuses});
        create table customers as select * from read_csv('{folder / "raw_customers.csv"}');
        create table payments as select * from read_json('{folder / "payments.json"}');
    """)
    orders = dict(
        con.execute("""
            select o.id::int, coalesce(sum(p.amount), 0) / 100.0
            from orders o left join payments p on p.order_id = o.id::int group by 1
        """).fetchall()
    )
    customers = {
        row[0]: (row[1], row[2])
        for row in con.execute("""
            select c.id,
                   (select count(*) from orders o where o.user_id::int = c.id),
                   coalesce((select sum(p.amount) from payments p join orders o on p.order_id = o.id::int
                             where o.user_id::int = c.id), 0) / 100.0
            from customers c
        """).fetchall()
    }
    rejected = con.execute(
        f"select count(*) from read_csv('{folder / 'raw_orders.csv'}', all_varchar = true)"
    ).fetchone()[0] - len(orders)  # type: ignore[index]
    return {"orders": orders, "customers": customers, "rejected": rejected}


def marts(rows_of: Any, schema: str) -> dict[str, Any]:
    """The marts in `schema`, as `expected` shapes them (`rows_of(sql)` runs a query)."""
    orders = {int(k): float(v) for k, v in rows_of(f'select order_id, amount from "{schema}".orders')}
    customers = {
        int(k): (int(n), float(v))
        for k, n, v in rows_of(
            f'select customer_id, number_of_orders, customer_lifetime_value from "{schema}".customers'
        )
    }
    return {"orders": orders, "customers": customers}


def assert_marts(rows_of: Any, schema: str, tenant: str) -> None:
    want = expected(tenant)
    got = marts(rows_of, schema)
    assert len(got["orders"]) == len(want["orders"]) and got["orders"] == want["orders"]
    assert got["customers"] == want["customers"]


def checks_of(run: Shop, run_id: int) -> list[dict[str, Any]]:
    shown = run.datakit("runs", "show", str(run_id), "--json")
    assert shown.returncode == 0, shown.stderr
    steps = {s["step_id"]: s for s in json.loads(shown.stdout)["steps"]}
    details = steps["marts_checks"]["details"]
    assert details is not None
    return list(details["checks"])


def dbt_nodes(run: Shop, run_id: int) -> list[dict[str, Any]]:
    shown = run.datakit("runs", "show", str(run_id), "--json")
    assert shown.returncode == 0, shown.stderr
    steps = {s["step_id"]: s for s in json.loads(shown.stdout)["steps"]}
    details = steps["dbt_build"]["details"]
    assert details is not None
    return list(details["nodes"])


def test_the_example_validates_as_it_is() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "-p", str(EXAMPLE), "validate"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "ENVIRONMENT"},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_duckdb_default_and_every_tenant_end_to_end(tmp_path: Path, api: str) -> None:
    import duckdb

    run = shop(tmp_path, api)
    default = run.start("run", "job", "jaffle_daily", "--json")  # the default and both tenants at once
    tenants = run.start("run", "job", "jaffle_daily", "--warehouse", "all", "--json")
    outputs = []
    for process in (default, tenants):
        out, err = process.communicate()
        assert process.returncode == 0, out[-3000:] + err[-3000:]
        outputs.append(out)
    fanned_out = outputs[1]

    files = {None: "warehouse.duckdb", "acme": "acme.duckdb", "globex": "globex.duckdb"}
    for tenant, file in files.items():
        prefix = f"{tenant}_" if tenant else ""
        with duckdb.connect(str(run.root / file), read_only=True) as con:

            def rows_of(sql: str, con: Any = con) -> list[tuple[Any, ...]]:
                return con.execute(sql).fetchall()

            assert_marts(rows_of, f"{prefix}main", tenant or "default")
            made = rows_of(  # a load that rejects nothing makes no rejected table
                "select count(*) from information_schema.tables where table_schema = "
                f"'{prefix}br__jaffle__main' and table_name = 'raw_orders__rejected'"
            )[0][0]
            table = f'"{prefix}br__jaffle__main".raw_orders__rejected'
            (rejected,) = rows_of(f"select count(*) from {table}")[0] if made else (0,)
            assert rejected == expected(tenant or "default")["rejected"]
            schemas = {s for (s,) in rows_of("select distinct table_schema from information_schema.tables")}
            assert schemas == {
                f"{prefix}{s}" for s in ("main", "br__jaffle__main", "br__payments_api__main")
            } | {f"{prefix}_datakit"}
    assert expected("acme")["rejected"] == 2  # the example's two bad rows were quarantined, not lost

    for outcome in json.loads(fanned_out)["runs"]:
        checks = checks_of(run, outcome["run"]["run_id"])
        tenant = outcome["warehouse"]
        assert {c["table"] for c in checks} == {f"{tenant}_main.customers", f"{tenant}_main.orders"}
        assert all(c["status"] == "passed" for c in checks), checks
        sql = next(c["sql"] for c in checks if c["name"] == "amount_is_what_was_paid")
        assert f'"{tenant}_main".stg_payments' in sql  # the user's SQL reads the tenant's tables

    # nothing datakit generates lands in the user's dbt project
    assert not list((run.root / "transform" / "jaffle_shop" / "models").rglob("_datakit*"))


def dbt_lock(root: Path, tenant: str) -> Path:
    """The lock file of `tenant`'s dbt work folder for the job's dbt step, as `run_dbt` finds it (the
    folder's name carries a digest of the tenant's dbt vars)."""
    from datakit.config import load_project
    from datakit.config.tenancy import tenant_context
    from datakit.transform import read_dbt_project, work_dir
    from datakit.transform.runner import LOCK_FILE

    project = load_project(root)
    context = tenant_context(project, tenant)
    dbt = read_dbt_project(project, "transform/jaffle_shop")
    folder = work_dir(project, dbt, context.destination_for("warehouse"), context.dbt_vars(), tenant)
    return folder / LOCK_FILE


def test_a_tenants_dbt_step_does_not_wait_for_another_tenant(
    tmp_path: Path, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each (warehouse, destination) has its own dbt folder and lock: with acme's lock held, globex's
    whole job, dbt included, runs to the end. The lock held is the one acme's dbt takes: globex's run
    takes the lock found the same way, and no dbt lock is shared by warehouses."""
    import fcntl

    monkeypatch.delenv("ENVIRONMENT", raising=False)
    run = shop(tmp_path, api)
    lock = dbt_lock(run.root, "acme")
    lock.parent.mkdir(parents=True)
    with lock.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        done = run.datakit("run", "job", "jaffle_daily", "--warehouse", "globex")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    locks = set((run.root / ".datakit" / "dbt").rglob(lock.name))
    assert locks == {lock, dbt_lock(run.root, "globex")}, locks


@pytest.mark.postgres
def test_postgres_tenants_and_the_default_in_parallel_never_touch_each_other(
    tmp_path: Path, api: str, pg_dsn: str
) -> None:
    """One PostgreSQL database for all three: the default's and both tenants' runs at once, each equal
    to its own data; then a sentinel row in the default's marts survives the tenants' next runs, and
    another pipeline's bronze tables on the database do not disturb a tenant's unselected dbt build
    (with key tests asked for every declared source: a source of another pipeline would be tested in
    each tenant's schemas, where its table does not exist)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with scratch_database(pg_dsn) as dsn:
        info = conninfo_to_dict(dsn)
        run = shop(
            tmp_path,
            api,
            ENVIRONMENT="prod",
            JAFFLE_PG_HOST=str(info.get("host", "127.0.0.1")),
            JAFFLE_PG_PORT=str(info.get("port", 5432)),
            JAFFLE_PG_DATABASE=str(info["dbname"]),
            JAFFLE_PG_USER=str(info.get("user", "datakit")),
            JAFFLE_PG_PASSWORD=str(info.get("password", "")),
            JAFFLE_PG_PASSWORD_ACME=str(info.get("password", "")),
            JAFFLE_PG_PASSWORD_GLOBEX=str(info.get("password", "")),
        )
        with (run.root / "datakit.yaml").open("a") as config:  # key tests on every declared source
            config.write("dbt:\n  source_tests: keys\n")
        (run.root / "config" / "pipelines" / "archive.yaml").write_text(
            "pipeline:\n  name: archive\n  source: {name: jaffle, resources: [raw_orders]}\n"
            "  destination: {name: warehouse, layer: bronze, dataset_name: br__archive}\n"
            "  datakit: jaffle\n"
        )
        assert run.datakit("run", "pipeline", "archive").returncode == 0

        default = run.start("run", "job", "jaffle_daily")
        tenants = run.start("run", "job", "jaffle_daily", "--warehouse", "all", "--max-parallelism", "2")
        for process in (default, tenants):
            out, err = process.communicate()
            assert process.returncode == 0, out[-3000:] + err[-3000:]

        with psycopg.connect(dsn, autocommit=True) as con:

            def rows_of(sql: str) -> list[tuple[Any, ...]]:
                return con.execute(sql).fetchall()

            assert_marts(rows_of, "public", "default")
            for tenant in TENANTS:
                assert_marts(rows_of, f"{tenant}_public", tenant)
            con.execute(
                "insert into public.customers (customer_id, first_name, number_of_orders, "
                "customer_lifetime_value) values (-1, 'sentinel', 0, 0)"
            )
            again = run.datakit("run", "job", "jaffle_daily", "--warehouse", "all", "--json")
            assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
            for outcome in json.loads(again.stdout)["runs"]:  # the key tests ran, on its own sources only
                tested = {
                    n["name"] for n in dbt_nodes(run, outcome["run"]["run_id"]) if "source_" in n["name"]
                }
                assert "source_unique_br__jaffle__main_raw_orders_id" in tested, tested
                assert not any("archive" in name for name in tested), tested
            assert rows_of("select first_name from public.customers where customer_id = -1") == [
                ("sentinel",)
            ]
            for tenant in TENANTS:
                assert_marts(rows_of, f"{tenant}_public", tenant)
            schemas = {
                s
                for (s,) in rows_of(
                    "select nspname from pg_namespace where nspname !~ '^(pg_|information_schema)'"
                )
            }
            mine = {"public", "_datakit", "br__jaffle__main", "br__payments_api__main", "br__archive"}
            assert schemas == mine | {
                f"{t}_{s}"
                for t in TENANTS
                for s in ("public", "_datakit", "br__jaffle__main", "br__payments_api__main")
            }
