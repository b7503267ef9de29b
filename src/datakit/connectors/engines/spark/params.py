"""Connection parameters of a Spark destination: the master (or Spark Connect server), the warehouse
folder, the catalog, and the Spark settings that follow from them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from datakit.connectors.params import Params

if TYPE_CHECKING:
    from datakit.config.models.destinations import SparkDestination
    from datakit.config.project import Project
    from datakit.config.secrets import Secrets

JDBC_DRIVERS = {
    "org.postgresql.Driver": "/usr/share/java/postgresql.jar",
    "org.mariadb.jdbc.Driver": "/usr/share/java/mariadb-java-client.jar",
}
JDBC_JARS = tuple(JDBC_DRIVERS.values())
"""JDBC drivers the session puts on its classpath when installed (Debian's `libpostgresql-jdbc-java`,
`libmariadb-java`): Spark's executors read those databases themselves."""


class SparkParams(Params):
    """What a Spark session needs; `warehouse` and a Derby `metastore` are absolute paths."""

    type: Literal["spark"] = "spark"
    master: str = "local[*]"
    remote: str | None = None
    warehouse: str
    metastore: str | None = Field(None, description="thrift://... of a Hive metastore; None: Derby.")
    table_format: Literal["parquet", "delta"] = "parquet"
    conf: tuple[tuple[str, str], ...] = ()
    destination: str | None = Field(None, description="The destination's name in the project, for messages.")

    def describe(self) -> str:
        return f"spark {self.remote or self.master} {self.warehouse}"

    @property
    def datakit_dir(self) -> Path:
        """The warehouse's `_datakit` folder: commit journal, staged batches, the Derby metastore."""
        return Path(self.warehouse) / "_datakit"

    def spark_conf(self) -> dict[str, str]:
        """Every Spark setting of the session (also the dbt profile's `server_side_parameters`, so that
        dbt-spark's session, if it starts first, is the same one)."""
        conf = {
            "spark.master": self.master,
            "spark.app.name": "datakit",
            "spark.sql.warehouse.dir": self.warehouse,
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "8",  # small tables by default; adaptive execution coalesces
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            "spark.sql.parquet.int96AsTimestamp": "false",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        }
        if self.metastore is None:
            derby = self.datakit_dir / "metastore_db"
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                f"jdbc:derby:;databaseName={derby};create=true"
            )
            conf["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={self.datakit_dir}"
        else:
            conf["spark.hadoop.hive.metastore.uris"] = self.metastore
        jars = [jar for jar in JDBC_JARS if Path(jar).exists()]
        if jars:
            conf["spark.jars"] = ",".join(jars)
        conf.update(dict(self.conf))
        return conf


def from_config(config: SparkDestination, project: Project, secrets: Secrets) -> SparkParams:  # noqa: ARG001
    """The warehouse relative to the project root (its folder made)."""
    connection = config.connection
    warehouse = project.path(connection.warehouse)
    warehouse.mkdir(parents=True, exist_ok=True)
    return SparkParams(
        master=connection.master,
        remote=connection.remote,
        warehouse=str(warehouse.resolve()),
        metastore=connection.metastore,
        table_format=connection.table_format,
        conf=tuple(sorted(connection.conf.items())),
        destination=config.name,
    )
