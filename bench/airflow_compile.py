"""Airflow compile benchmark: 100 tenants x 10 jobs -> 1,010 static DAG files, and their parse time.

A synthetic project (in a temporary folder) has 10 jobs — each a pipeline of 6 resources, a checks
step after it and a cron trigger in its own time zone — and 100 warehouses that each run all 10 jobs
(one PostgreSQL destination, a schema prefix per tenant). `compile_s_100x10` times what
`datakit airflow compile --out dags/` does: load the project, compile the 1,010 (warehouse, job)
plans (every job of every warehouse, and every job as the project itself), render and write the files;
Airflow is not imported for that. `compile_cpu_s_100x10` is the CPU time of the same work, steadier than
wall time on a shared machine.

`max_dag_import_s` and `median_dag_import_s` are the slowest and the median parse of one file as Airflow
3's DAG processor does it: a parent imports the `airflow.*` modules the file names (the processor's
`parsing_pre_import_modules`), then forks one child per file, which runs `DagBag.process_file(path)`
(import the file, collect and validate its DAG) in a fresh DagBag. Wall time; a file over 0.1 s is timed
twice more and keeps its best time, so one scheduling hiccup on a shared machine is not reported as the
file's cost. `--parse-sample N` parses N files spread over all (1,010 parses take many minutes on a
loaded machine). `dagfactory_median_dag_import_s` is the same median for the same DAGs (100 of them)
written the dag-factory way — one YAML per DAG and one loader file per YAML calling `load_yaml_dags`
(dag-factory 1.1.0, installed into a temporary folder; `n/a` if it does not install) — with the ratio.

`task_overhead_s` is the time from a task's start to its step's first action (the step's first log
line): examples/jaffle_shop, acme's load of raw_customers into DuckDB, in a process forked from a
"worker" that imported Airflow and, as datakit's plugin does with DATAKIT_PRELOAD, preloaded the project
(`task_overhead_cold_s`: a worker that imported Airflow only; each the median of a few tasks). They need
an interpreter with datakit[airflow]: this one, or DATAKIT_AIRFLOW_PYTHON; without one the lines say `n/a`.

    .venv/bin/python bench/airflow_compile.py
    .venv/bin/python bench/airflow_compile.py --tenants 10 --jobs 5 --parse-sample 50
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.config import load_project  # noqa: E402
from datakit.integrations.airflow.compile import DagFile, compile_dags, write_dags  # noqa: E402

DAGFACTORY = "dag-factory==1.1.0"
SAMPLE = 100
"""Files parsed the dag-factory way, and the same files of datakit's, for the ratio."""

RESOURCES = ["customers", "orders", "items", "products", "stores", "staff"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]

PARSE = """
import json, os, sys, time
import importlib
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports

def parse(name):
    # as the dag-processor does before it forks the process that parses a file: import the airflow.*
    # modules the file names ([dag_processor] parsing_pre_import_modules, on by default)
    for module in iter_airflow_imports(name):
        try:
            importlib.import_module(module)
        except Exception:
            pass
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one file, one fresh DagBag, as a DagFileProcessorProcess does
        os.close(read)
        started = time.perf_counter()
        bag = DagBag(dag_folder="/nonexistent-empty-folder", load_op_links=False)
        found = bag.process_file(name, only_if_updated=False)
        elapsed = time.perf_counter() - started
        ok = len(found) == 1 and not bag.import_errors
        os.write(write, json.dumps([elapsed, ok]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)

seconds, errors, retried = [], 0, 0
for name in sys.argv[1:]:
    elapsed, ok = parse(name)
    if elapsed > 0.1:  # an outlier on a shared machine: best of three, as for any timing
        retried += 1
        elapsed = min(elapsed, parse(name)[0], parse(name)[0])
    seconds.append(elapsed)
    errors += not ok
mean = sum(seconds) / len(seconds)
print(json.dumps({"max": max(seconds), "mean": mean, "all": seconds, "errors": errors, "retried": retried}))
"""


TASK = """
import importlib.util, json, logging, os, statistics, sys, time
from pathlib import Path
from types import SimpleNamespace
import airflow.sdk  # an Airflow worker has it imported before it forks a task
dag_file, step_id, project, mode = sys.argv[1:5]
samples = int(sys.argv[5])
if mode == "preloaded":  # as datakit's plugin does in the worker with DATAKIT_PRELOAD (preload.py)
    from datakit.integrations.airflow.preload import preload
    preload([Path(project)])

def task(run_id):
    # what Airflow's task runner does in the forked process: parse the DAG file, call the task
    spec = importlib.util.spec_from_file_location("dag_under_test", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = {"params": {"full_refresh": False}, "dag": SimpleNamespace(dag_id="bench"), "run_id": run_id}
    airflow.sdk.get_current_context = lambda: context
    first = []

    class FirstAction(logging.Handler):  # the step's first line says what it starts doing
        def emit(self, record):
            if record.name == "datakit.step" and not first:
                first.append(time.perf_counter())

    logging.getLogger().addHandler(FirstAction())
    logging.getLogger().setLevel(logging.INFO)
    started = time.perf_counter()
    module._run_step(step_id)
    return first[0] - started

seconds = []
for sample in range(samples + 1):  # the first one warms the bytecode cache: not counted
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(task(f"bench_{mode}_{sample}")).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if sample:
        seconds.append(json.loads(data))
print(json.dumps({"median": statistics.median(seconds), "all": seconds}))
"""


def make_project(root: Path, tenants: int, jobs: int) -> None:
    """The synthetic project: `jobs` jobs with a cron trigger each, `tenants` warehouses running all."""
    config = root / "config"
    for folder in ("sources", "destinations", "pipelines", "jobs", "triggers", "warehouses", "checks"):
        (config / folder).mkdir(parents=True)
    (root / "datakit.yaml").write_text("name: bench\ndefault_environment: dev\n")
    (config / "secrets_mapping.yaml").write_text(
        "secrets:\n  warehouse_password: {env_var: BENCH_WAREHOUSE_PASSWORD, required: false}\n"
    )
    resources = "".join(f"    - {{name: {r}, primary_key: [id]}}\n" for r in RESOURCES)
    (config / "sources/shop.yaml").write_text(
        f"source:\n  name: shop\n  type: sqlite\n  connection: {{database: data/shop.sqlite}}\n"
        f"  resources:\n{resources}"
    )
    (config / "destinations/warehouse.yaml").write_text(
        "destination:\n  name: warehouse\n  type: postgres\n"
        "  connection: {host: localhost, database: wh, user: wh, password_secret_key: warehouse_password}\n"
    )
    (config / "checks/orders_quality.yaml").write_text(
        "checks:\n  name: orders_quality\n  destination: warehouse\n"
        "  tables:\n    br__shop__main.orders:\n      - not_null: [id]\n"
    )
    for j in range(jobs):
        (config / f"pipelines/p{j:02d}.yaml").write_text(
            f"pipeline:\n  name: p{j:02d}\n  source: {{name: shop}}\n"
            f"  destination: {{name: warehouse, layer: bronze}}\n"
        )
        (config / f"jobs/job{j:02d}.yaml").write_text(
            f"job:\n  name: job{j:02d}\n  pipelines: [p{j:02d}]\n"
            f"  steps:\n    - {{name: checks, checks: orders_quality, depends_on: [p{j:02d}]}}\n"
            f"  execution: {{mode: dag, max_parallelism: 3}}\n"
            f"  retries: {{max_attempts: 3, retry_delay: 1m, exponential_backoff: true}}\n"
        )
        (config / f"triggers/t{j:02d}.yaml").write_text(
            f"trigger:\n  name: t{j:02d}\n  type: cron\n  job: job{j:02d}\n"
            f"  schedule: {{cron: '{j} 2 * * *', timezone: {ZONES[j % len(ZONES)]}}}\n"
        )
    job_list = ", ".join(f"job{j:02d}" for j in range(jobs))
    for t in range(tenants):
        (config / f"warehouses/t{t:03d}.yaml").write_text(
            f"warehouse:\n  name: t{t:03d}\n  destinations: [warehouse]\n  jobs: [{job_list}]\n"
            f"  schema_prefix: t{t:03d}_\n"
        )


def airflow_python() -> str | None:
    if importlib.util.find_spec("airflow") is not None:
        return sys.executable
    candidate = os.environ.get("DATAKIT_AIRFLOW_PYTHON")
    return candidate if candidate and Path(candidate).exists() else None


def parse_all(
    python: str, files: list[Path], home: Path, workers: int = 1, pythonpath: str | None = None
) -> dict[str, float]:
    """Parse every file with Airflow's DagBag in `workers` processes; the max, mean and median seconds."""
    env = {
        **os.environ,
        **({"PYTHONPATH": pythonpath} if pythonpath else {}),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    chunks = [[str(f) for f in files[i::workers]] for i in range(workers)]
    procs = [
        subprocess.Popen(
            [python, "-c", PARSE, *chunk],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for chunk in chunks
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"parsing failed (exit {proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if any(r["errors"] for r in results):
        raise SystemExit(f"import errors while parsing: {results}")
    every = sorted(x for r in results for x in r["all"])
    return {
        "max": max(r["max"] for r in results),
        "mean": sum(r["mean"] for r in results) / len(results),
        "median": statistics.median(every),
        "retried": sum(r["retried"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument(
        "--parse-sample",
        type=int,
        default=0,
        help="parse only this many files, spread over all (default: every file; on a loaded machine "
        "1,010 parses take many minutes)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_project(root, args.tenants, args.jobs)
        out = Path(tmp) / "dags"
        started, cpu_started = time.perf_counter(), time.process_time()
        files = compile_dags(load_project(root, environment="dev"), out=out)
        written = write_dags(files, out, project="bench", prune=True)
        compile_s = time.perf_counter() - started
        compile_cpu_s = time.process_time() - cpu_started
        assert len(written) == (args.tenants + 1) * args.jobs, len(written)
        print(f"compiled {len(written)} DAG files ({sum(p.stat().st_size for p in written) / 1e6:.1f} MB)")

        python = airflow_python()
        parsed = baseline = ours = cold = warm = None
        if python is not None:
            home = Path(tmp) / "airflow-home"
            chosen = written
            if args.parse_sample and args.parse_sample < len(written):
                chosen = written[:: len(written) // args.parse_sample][: args.parse_sample]
                print(f"parsing {len(chosen)} of the {len(written)} files (--parse-sample)")
            parsed = parse_all(python, chosen, home)
            print(
                f"parsed every file with Airflow's DagBag, one forked process per file: "
                f"mean {parsed['mean'] * 1000:.1f} ms, {parsed['retried']:g} outliers re-timed (best of 3)"
            )
            sample = chosen[:: max(1, len(chosen) // SAMPLE)][:SAMPLE]
            loaders = dagfactory_baseline(python, Path(tmp), [f for f in files if out / f.filename in sample])
            if loaders is not None:
                baseline = parse_all(
                    python, sorted(loaders.glob("*.py")), home, pythonpath=str(Path(tmp) / "dagfactory")
                )
                ours = parsed if sample == chosen else parse_all(python, sample, home)
                print(
                    f"the same {len(sample)} DAGs the dag-factory way ({DAGFACTORY}, one loader per YAML): "
                    f"median {baseline['median'] * 1000:.1f} ms vs datakit's {ours['median'] * 1000:.1f} ms "
                    f"(ratio {ours['median'] / baseline['median']:.2f})"
                )
            else:
                print(f"{DAGFACTORY} did not install: no baseline")
            cold = task_overhead(python, Path(tmp), "cold", samples=3)
            warm = task_overhead(python, Path(tmp), "preloaded", samples=5)
            print(
                "task overhead (start of the task to the step's first action, median): "
                f"{cold['median']:.3f} s in a task forked from a worker that imported Airflow only, "
                f"{warm['median']:.3f} s from one datakit's plugin preloaded (DATAKIT_PRELOAD) "
                f"(ratio {warm['median'] / cold['median']:.2f})"
            )
        else:
            print(
                "Airflow not installed (datakit[airflow]) and DATAKIT_AIRFLOW_PYTHON not set: no parse figure"
            )
    print(f"compile_cpu_s_{args.tenants}x{args.jobs}: {compile_cpu_s:.2f}")
    print(
        f"dagfactory_median_dag_import_s: {baseline['median']:.3f}"
        if baseline
        else "dagfactory_median_dag_import_s: n/a"
    )
    print(f"task_overhead_cold_s: {cold['median']:.3f}" if cold else "task_overhead_cold_s: n/a")
    print(f"task_overhead_s: {warm['median']:.3f}" if warm else "task_overhead_s: n/a")
    print(f"median_dag_import_s: {parsed['median']:.3f}" if parsed else "median_dag_import_s: n/a")
    print(f"max_dag_import_s: {parsed['max']:.3f}" if parsed else "max_dag_import_s: n/a")
    print(f"compile_s_{args.tenants}x{args.jobs}: {compile_s:.2f}")


def task_overhead(python: str, tmp: Path, mode: str, samples: int) -> dict[str, float]:
    """Seconds from a task's start to its step's first action (examples/jaffle_shop, acme's load of
    raw_customers into DuckDB), in processes forked from a worker as Airflow 3 forks tasks: `cold`
    (the worker imported Airflow only) or `preloaded` (datakit's plugin preloaded the project)."""
    project = tmp / f"task-{mode}" / "jaffle_shop"
    shutil.copytree(
        REPO / "examples" / "jaffle_shop", project, ignore=shutil.ignore_patterns("*.duckdb", ".datakit")
    )
    dags = tmp / f"task-{mode}" / "dags"
    files = compile_dags(load_project(project, environment="dev"), out=dags, warehouse="acme")
    write_dags(files, dags, project="jaffle_shop")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {
        "AIRFLOW_HOME": str(tmp / "airflow-home"),
        "DATAKIT_HOME": str(tmp / "datakit-home"),
        "PYTHONPYCACHEPREFIX": str(tmp / "bytecode"),  # as an installed package has its bytecode
        "ENVIRONMENT": "dev",
    }
    args = [str(dags / "datakit__acme__jaffle_daily.py"), "jaffle_files.raw_customers", str(project), mode]
    done = subprocess.run(
        [python, "-c", TASK, *args, str(samples)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"task overhead ({mode}) failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def dagfactory_baseline(python: str, tmp: Path, files: list[DagFile]) -> Path | None:
    """The same DAGs the dag-factory way (one YAML per DAG, one loader file per YAML calling
    `load_yaml_dags`), if dag-factory installs; the folder of loader files."""
    target = tmp / "dagfactory"
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), DAGFACTORY],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    folder = tmp / "dagfactory-dags"
    folder.mkdir()
    for dag_file in files:
        steps = _steps_of(dag_file.source)
        tasks = {
            step["id"].replace(".", "__"): {
                "operator": "airflow.providers.standard.operators.bash.BashOperator",
                "bash_command": "echo " + step["id"],
                "retries": step["retry"]["max_attempts"] - 1,
                **(
                    {"dependencies": [d.replace(".", "__") for d in step["depends_on"]]}
                    if step["depends_on"]
                    else {}
                ),
            }
            for step in steps
        }
        config = {
            dag_file.dag_id: {
                "default_args": {"owner": "datakit", "start_date": "2024-01-01"},
                "schedule": "0 2 * * *",
                "catchup": False,
                "max_active_runs": 1,
                "tasks": tasks,
            }
        }
        yaml_path = folder / f"{dag_file.dag_id}.yml"
        yaml_path.write_text(json.dumps(config))  # JSON is YAML
        (folder / f"{dag_file.dag_id}.py").write_text(
            "# airflow DAG: (Airflow's safe mode parses files that say both words)\n"
            "from dagfactory import load_yaml_dags\n"
            f"load_yaml_dags(globals_dict=globals(), config_filepath={str(yaml_path)!r})\n"
        )
    return folder


def _steps_of(source: str) -> list[dict[str, Any]]:
    import ast

    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "STEPS":
            steps: list[dict[str, Any]] = ast.literal_eval(node.value)
            return steps
    raise ValueError("no STEPS in a compiled file")


if __name__ == "__main__":
    main()
