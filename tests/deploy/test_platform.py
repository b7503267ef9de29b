"""`make platform-up` and `make platform-down` against this machine's real PostgreSQL, twice each.

Each test has its own prefix (so parallel sessions never collide), its own state folder, and a Redis on a
free port of its own: platform-up finds nothing answering there and starts one, so its start and stop are
exercised without touching the Redis and PostgreSQL that other users of the machine rely on — those answer
already, so platform-up must neither record nor stop them.
"""

from __future__ import annotations

import os
import socket
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.tools import run, tool

pytestmark = pytest.mark.postgres

KINDS = ("airflow", "app", "test")
DATABASES = ("airflow", "state", "warehouse", "test")


class Platform:
    """One prefix's make targets, with the admin connection and state folder the test chose."""

    def __init__(self, pg_dsn: str, state_dir: Path) -> None:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(pg_dsn)
        with socket.socket() as sock:  # a port nothing listens on, for this test's own Redis
            sock.bind(("127.0.0.1", 0))
            self.redis_port = sock.getsockname()[1]
        self.prefix = f"dk_{uuid.uuid4().hex[:10]}"
        self.pg_dsn = pg_dsn
        self.state_dir = state_dir
        libpq = {
            "host": "PGHOST",
            "port": "PGPORT",
            "user": "PGUSER",
            "password": "PGPASSWORD",
            "dbname": "PGDATABASE",
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
            **{libpq[k]: str(v) for k, v in params.items() if k in libpq and v is not None},
            "PLATFORM_PREFIX": self.prefix,
            "PLATFORM_STATE_DIR": str(state_dir),
            "REDIS_PORT": str(self.redis_port),
        }

    def make(self, target: str) -> str:
        done = run([tool("make"), "--no-print-directory", target], env=self.env)
        assert done.returncode == 0, f"make {target} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    @property
    def state(self) -> Path:
        return self.state_dir / f"{self.prefix}.state"

    @property
    def env_file(self) -> Path:
        return self.state_dir / f"{self.prefix}.env"

    def existing(self) -> tuple[set[str], set[str]]:
        """The roles and databases on the server whose names start with this prefix."""
        import psycopg

        with psycopg.connect(self.pg_dsn) as conn:
            like = f"{self.prefix}\\_%"
            roles = {
                r for (r,) in conn.execute("select rolname from pg_roles where rolname like %s", (like,))
            }
            dbs = {
                d for (d,) in conn.execute("select datname from pg_database where datname like %s", (like,))
            }
        return roles, dbs

    def redis_answers(self) -> bool:
        done = run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "ping"])
        return done.stdout.strip() == "PONG"


@pytest.fixture
def platform(pg_dsn: str, tmp_path: Path) -> Iterator[Platform]:
    for name in ("psql", "redis-server"):
        tool(name)
    made = Platform(pg_dsn, tmp_path / "state")
    try:
        yield made
    finally:  # whatever the test left: platform-down is idempotent
        run([tool("make"), "platform-down"], env=made.env)


def _env_settings(path: Path) -> dict[str, str]:
    """What a shell that sources the env file has in its environment."""
    done = run(["sh", "-c", '. "$1" && env -0', "sh", str(path)], env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)


def test_up_twice_then_down_twice(platform: Platform, pg_dsn: str) -> None:
    import psycopg

    p = platform.prefix
    out = platform.make("platform-up")
    assert f"started Redis on port {platform.redis_port}" in out
    assert "started PostgreSQL" not in out  # it answered: not ours to start, nor to stop
    roles, dbs = platform.existing()
    assert roles == {f"{p}_{kind}" for kind in KINDS}
    assert dbs == {f"{p}_{name}" for name in DATABASES}
    recorded = platform.state.read_text(encoding="utf-8").splitlines()
    assert recorded[0].startswith(f"started redis {platform.redis_port} ")
    assert sorted(recorded[1:]) == sorted([*(f"role {r}" for r in roles), *(f"database {d}" for d in dbs)])
    assert stat.S_IMODE(platform.env_file.stat().st_mode) == 0o600
    assert platform.redis_answers()

    settings = _env_settings(platform.env_file)
    for dsn, user, database in [
        (settings["DATAKIT_STATE_DSN"], f"{p}_app", f"{p}_state"),
        (settings["DATAKIT_WAREHOUSE_DSN"], f"{p}_app", f"{p}_warehouse"),
        (settings["DATAKIT_TEST_PG_DSN"], f"{p}_test", f"{p}_test"),
    ]:
        with psycopg.connect(dsn) as conn:
            conn.execute("create table made_here (id int)")  # the role owns its database: it may create
            assert conn.execute("select current_user, current_database()").fetchone() == (user, database)
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith(f"/{p}_airflow")
    assert settings["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:{platform.redis_port}/0"

    state_before, env_before = platform.state.read_bytes(), platform.env_file.read_bytes()
    again = platform.make("platform-up")
    assert "created" not in again and "started" not in again, again
    assert (platform.state.read_bytes(), platform.env_file.read_bytes()) == (state_before, env_before)
    assert platform.existing() == (roles, dbs)

    down = platform.make("platform-down")
    assert f"stopped Redis on port {platform.redis_port}" in down
    assert platform.existing() == (set(), set())
    assert not platform.state.exists() and not platform.env_file.exists()
    assert not platform.redis_answers()
    with psycopg.connect(pg_dsn) as conn:  # the shared server still serves everyone else
        assert conn.execute("select 1").fetchone() == (1,)

    assert "nothing recorded" in platform.make("platform-down")


def test_down_drops_only_what_up_created(platform: Platform, pg_dsn: str) -> None:
    """A role and a database that were there before platform-up (someone else's) survive platform-down."""
    import psycopg
    from psycopg import sql

    theirs_role, theirs_db = f"{platform.prefix}_app", f"{platform.prefix}_warehouse"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("create role {} login").format(sql.Identifier(theirs_role)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(theirs_db)))
    try:
        out = platform.make("platform-up")
        assert f"role {theirs_role} exists already (not created here): left as it is" in out
        recorded = platform.state.read_text(encoding="utf-8").splitlines()
        assert f"role {theirs_role}" not in recorded and f"database {theirs_db}" not in recorded
        assert f"role {platform.prefix}_airflow" in recorded

        platform.make("platform-down")
        assert platform.existing() == ({theirs_role}, {theirs_db})
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(theirs_db)))
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(theirs_role)))


def test_a_bad_prefix_is_refused_before_anything_runs(platform: Platform) -> None:
    done = run([tool("make"), "platform-up"], env={**platform.env, "PLATFORM_PREFIX": "Robert'); DROP"})
    assert done.returncode != 0
    assert "PLATFORM_PREFIX 'Robert'); DROP': use lower-case letters, digits and _" in done.stderr
    assert not platform.state_dir.exists()
