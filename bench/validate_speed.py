"""Validation speed: generate a 500-file project, validate it, report files per second.

Also measures the start-up time of `datakit --help` (which must import no database driver, Arrow or
dbt). Prints its figures last, one `name: value` a line; the final line is `validate_files_per_s: N`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from datakit.config import validate_project
from datakit.config.loader import discover

SOURCES, DESTINATIONS, PIPELINES, JOBS, TRIGGERS = 100, 20, 200, 100, 79  # + secrets_mapping = 500 files


def generate(root: Path) -> int:
    """A valid project of exactly 500 config files with cross references everywhere."""
    config = root / "config"
    for folder in ("sources", "destinations", "pipelines", "jobs", "triggers"):
        (config / folder).mkdir(parents=True)
    (root / "datakit.yaml").write_text("name: bench\n")
    secrets = ["secrets:"]
    for i in range(SOURCES):
        secrets += [f"  src_{i}_password:", f"    env_var_dev: SRC_{i}_PASSWORD", "    required: false"]
        resources = "\n".join(
            f"    - name: table_{j}\n      primary_key: [id]\n      write_disposition: merge\n"
            f"      incremental:\n        cursor_field: updated_at\n        initial_value: '2024-01-01'"
            for j in range(5)
        )
        (config / "sources" / f"src_{i}.yaml").write_text(
            f"source:\n  name: src_{i}\n  type: postgres\n  connection:\n    host: db{i}.internal\n"
            f"    database: app_{i}\n    user: loader\n    password_secret_key: src_{i}_password\n"
            f"  resources:\n{resources}\n"
            f"environments:\n  prod:\n    connection:\n      sslmode: require\n"
        )
    (config / "secrets_mapping.yaml").write_text("\n".join(secrets) + "\n")
    for i in range(DESTINATIONS):
        (config / "destinations" / f"dest_{i}.yaml").write_text(
            f"destination:\n  name: dest_{i}\n  type: duckdb\n  connection:\n    database: wh_{i}.duckdb\n"
        )
    for i in range(PIPELINES):
        (config / "pipelines" / f"pipe_{i}.yaml").write_text(
            f"pipeline:\n  name: pipe_{i}\n  source:\n    config_file: src_{i % SOURCES}.yaml\n"
            f"    resources: [table_0, table_1]\n  destination:\n    name: dest_{i % DESTINATIONS}\n"
            f"    layer: bronze\n  retry:\n    max_attempts: 3\n    initial_delay: 30s\n"
        )
    for i in range(JOBS):
        a, b = 2 * i, 2 * i + 1
        (config / "jobs" / f"job_{i}.yaml").write_text(
            f"job:\n  name: job_{i}\n  pipelines:\n    - name: pipe_{a}\n    - name: pipe_{b}\n"
            f"      depends_on: [pipe_{a}]\n  execution:\n    mode: dag\n    max_parallelism: 2\n"
            f"  retries:\n    max_attempts: 3\n    retry_delay: 1m\n    exponential_backoff: true\n"
        )
    for i in range(TRIGGERS):
        (config / "triggers" / f"trigger_{i}.yaml").write_text(
            f"trigger:\n  name: trigger_{i}\n  type: cron\n  job: job_{i % JOBS}\n"
            f"  schedule:\n    cron: '{i % 60} {i % 24} * * *'\n    timezone: Europe/Paris\n"
        )
    return len(discover(config))


def startup_ms(runs: int = 7) -> float:
    """Median wall time of `python -m datakit --help` in a fresh interpreter."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "datakit", "--help"], capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = generate(root)
        assert files == 500, files
        validate_project(root, environ={})  # warm up: model schemas are built once per process
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            result = validate_project(root, environ={}, check_secrets=True)
            timings.append(time.perf_counter() - start)
        assert result.ok, [p.render() for p in result.errors[:5]]
        best = min(timings)
    baseline = startup_ms()
    python_ms = statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(7))
    print(f"files: {files}")
    print(f"validate_seconds: {best:.3f}")
    print(f"python_startup_ms: {python_ms:.0f}")
    print(f"cli_help_startup_ms: {baseline:.0f}")
    print(f"validate_files_per_s: {files / best:.0f}")


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    main()
