"""Table versions and the commit that switches them: how a Spark load is atomic without transactions.

A table datakit writes is an external Parquet table whose location is one version folder,
`<database folder>/_dk_versions/<table>/<version>`. A transaction never changes a folder a reader may
be reading: it writes each changed table's next version into a new folder, then switches the tables.
The switch is one catalog operation per table (`ALTER TABLE ... SET LOCATION`; a type change re-creates
the table entry over the new folder), so a reader sees a table before or after, never half.

The switches of one transaction (its tables, rejected rows, history, cursor and load record) are
written first to a journal file, `<warehouse>/_datakit/journal/<transaction>.json` (written to a
temporary name and renamed: it exists whole or not at all). The journal is the commit point: a crash
before it leaves only unreferenced folders; a crash after it is finished by the next session of the
warehouse (`recover`), before it reads anything. Switching is idempotent, so finishing twice is safe.

Each table keeps its current and its previous version (a reader that began before a switch reads the
previous one to its end); older ones are removed after a commit. The price of whole versions: a load
rewrites every table it changes, so appending a few rows to a large table rewrites it (a table format
with its own log, Delta Lake, is the way out for such tables: `table_format: delta`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.connectors.engines.spark.engine import SPARK

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from datakit.connectors.engines.spark.params import SparkParams

log = logging.getLogger(__name__)
VERSIONS = "_dk_versions"
KEEP = 2


@dataclass(frozen=True)
class Switch:
    """One table's new state at commit: its columns and version folder (None: dropped)."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...] = ()  # (name, Spark type)
    location: str | None = None
    comment: str | None = None
    format: str = "parquet"

    @property
    def qualified(self) -> str:
        return SPARK.quote(self.schema, self.name)


def database_folder(params: SparkParams, schema: str) -> Path:
    """Where Spark keeps the tables of database `schema` (the warehouse itself for `default`)."""
    schema = schema.lower()
    root = Path(params.warehouse)
    return root if schema == "default" else root / f"{schema}.db"


def new_location(params: SparkParams, schema: str, name: str, transaction: str) -> Path:
    """A fresh version folder of table `schema.name` (versions sort by time)."""
    stamp = f"v{time.time_ns() // 1000:016d}_{transaction[:8]}"
    return database_folder(params, schema) / VERSIONS / name.lower() / stamp


def journal_folder(params: SparkParams) -> Path:
    return params.datakit_dir / "journal"


def commit(spark: SparkSession, params: SparkParams, transaction: str, switches: list[Switch]) -> None:
    """Write the journal (the commit point), switch every table, remove the journal and old versions."""
    if not switches:
        return
    folder = journal_folder(params)
    folder.mkdir(parents=True, exist_ok=True)
    journal = folder / f"{transaction}.json"
    partial = folder / f".{transaction}.json.tmp"
    with partial.open("w", encoding="utf-8") as handle:
        json.dump([asdict(switch) for switch in switches], handle)
        handle.flush()
        os.fsync(handle.fileno())
    partial.rename(journal)
    apply(spark, switches)
    journal.unlink()
    for switch in switches:
        prune(params, switch)


def recover(spark: SparkSession, params: SparkParams) -> None:
    """Finish the commits a crashed process left in the journal (oldest first)."""
    folder = journal_folder(params)
    if not folder.is_dir():
        return
    for journal in sorted(folder.glob("*.json"), key=lambda path: path.stat().st_mtime):
        entries = json.loads(journal.read_text(encoding="utf-8"))
        switches = [
            Switch(
                e["schema"],
                e["name"],
                tuple((str(n), str(t)) for n, t in e["columns"]),
                e["location"],
                e.get("comment"),
                e.get("format", "parquet"),
            )
            for e in entries
        ]
        log.warning("finishing the commit %s left by a stopped process", journal.stem)
        apply(spark, switches)
        journal.unlink()
    for stale in folder.glob(".*.tmp"):  # a journal never completed: that transaction did not commit
        stale.unlink()


def apply(spark: SparkSession, switches: list[Switch]) -> None:
    """Point each table at its new version (create, extend, re-create or drop the catalog entry)."""
    for switch in switches:
        exists = spark.catalog.tableExists(switch.qualified)
        if switch.location is None:
            if exists:
                spark.sql(f"DROP TABLE {switch.qualified}")
            continue
        location = SPARK.string(Path(switch.location).as_uri())
        if exists:
            live = [(c.name, c.dataType) for c in spark.catalog.listColumns(switch.qualified)]
            wanted = [(n.lower(), t.lower()) for n, t in switch.columns]
            have = [(n.lower(), t.lower()) for n, t in live]
            if have == wanted[: len(have)] and _is_ours(spark, switch):
                added = switch.columns[len(have) :]
                if added:
                    spec = ", ".join(f"{SPARK.quote(n)} {t}" for n, t in added)
                    spark.sql(f"ALTER TABLE {switch.qualified} ADD COLUMNS ({spec})")
                spark.sql(f"ALTER TABLE {switch.qualified} SET LOCATION {location}")
                spark.catalog.refreshTable(switch.qualified)
                continue
            spark.sql(f"DROP TABLE {switch.qualified}")  # a type changed: the entry is made anew
        columns = ", ".join(f"{SPARK.quote(n)} {t}" for n, t in switch.columns)
        comment = f" COMMENT {SPARK.string(switch.comment)}" if switch.comment else ""
        spark.sql(
            f"CREATE TABLE {switch.qualified} ({columns}) USING {switch.format}{comment} LOCATION {location}"
        )


def _is_ours(spark: SparkSession, switch: Switch) -> bool:
    """Whether the table is an external table of the format (one of datakit's), which can change location."""
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {switch.qualified}").collect()
    info = {str(row[0]).strip().lower(): str(row[1]).strip().lower() for row in rows}
    return info.get("provider") == switch.format and info.get("type") == "external"


def prune(params: SparkParams, switch: Switch) -> None:
    """Remove the versions of a table but the newest `KEEP` (all of them once it is dropped)."""
    import shutil

    folder = database_folder(params, switch.schema) / VERSIONS / switch.name.lower()
    if not folder.is_dir():
        return
    versions = sorted(path for path in folder.iterdir() if path.is_dir())
    keep = 0 if switch.location is None else KEEP
    for old in versions[: max(0, len(versions) - keep)]:
        if switch.location is not None and Path(switch.location) == old:
            continue
        shutil.rmtree(old, ignore_errors=True)
