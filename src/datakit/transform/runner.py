"""Run one dbt command for a job step: profile and sources generated, dbt invoked in-process, results typed.

dbt runs programmatically (`dbt.cli.main.dbtRunner`), not as a `dbt` subprocess: the step already runs
in a child process of its own (timeouts kill it, a crash stays there), so a second process would only
add another Python start-up and import of dbt (~1.3 s) per step and hand results back as JSON files
to re-read; `dbtRunner` returns the `RunResult` objects directly, and its event callback gives us the
log lines and whether partial parsing was used without scraping text. dbt's global state is per
process, so invocations are serialised with a lock (one dbt invocation per step anyway), and across
processes a file lock per work folder — one per (dbt project, warehouse, destination) — keeps two
steps from sharing dbt's state files at once (see `files.exclusive`), while two tenants, each with
a folder of its own, build at the same time.

dbt runs in a workspace (`transform.workspace`): the user's dbt project through symlinks plus the
generated sources, so nothing is written into the user's project. For a tenant with a schema prefix,
dbt first parses the project as it is, then every node it would create is moved into the tenant's
schemas (`transform.retarget`) and the command runs on that manifest.

Partial parsing: every path dbt keys its state on is stable — `profiles.yml`, the workspace,
`target/` and `logs/` live in `.datakit/dbt/<dbt project>/<warehouse>/<destination>/` (see
`dbt_project.work_dir`), the profile and the generated files are rewritten only when their content
changes, and `--profile`/`--target`/`--vars` are passed the same way every time (dbt hashes them into
the partial-parse state).

Secrets: the PostgreSQL password is only in the process environment, for the duration of the call,
under a `DBT_ENV_SECRET_` name (dbt scrubs those raw values from what it logs); datakit masks every
form of every secret (`datakit.log.redact`) in the log tail, messages and details it returns, and in
dbt's own `logs/dbt.log` (a redacting filter on dbt's file logger).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.log import RedactingFilter, get_logger, redact
from datakit.transform.dbt_project import DbtProject, read_dbt_project, work_dir
from datakit.transform.errors import DbtFailed
from datakit.transform.files import exclusive
from datakit.transform.invocation import FULL_REFRESH_COMMANDS, DbtInvocation, DbtNodeResult, DbtResult
from datakit.transform.profiles import Profile, write_profile
from datakit.transform.references import referenced_sources
from datakit.transform.results import failure_message, file_in, node_result
from datakit.transform.retarget import retarget
from datakit.transform.sources import write_sources
from datakit.transform.workspace import generated_dir, prepare_workspace

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.connectors.engine import Engine

LOCK_FILE = ".lock"  # in a work folder: one dbt invocation per (dbt project, warehouse, destination)
LOG_LINES = 2000
LOG_CHARS = 64 * 1024
_PARTIAL = frozenset({"PartialParsingEnabled", "PartialParsingSkipParsing"})
_FULL = frozenset({"UnableToPartialParse", "PartialParsingNotEnabled", "PartialParsingError"})
_SKIP_EVENTS = frozenset({"Formatting"})  # dbt's blank separator lines
_LEVELS = {"warn": logging.WARNING, "error": logging.ERROR}
_DBT_LOGGERS = ("file_log", "stdout_log")  # the Python loggers dbt writes logs/dbt.log and stdout with
_lock = threading.Lock()
logger = get_logger("datakit.transform.dbt")


def run_dbt(
    project: Project,
    invocation: DbtInvocation,
    *,
    destination: str,
    full_refresh: bool = False,
    vars: dict[str, object] | None = None,
    tenant: Tenant | None = None,
) -> DbtResult:
    """Run `invocation` against `destination`; its result, or DbtFailed naming what failed and why.

    `vars` are the step's. With `tenant` (a warehouse: `datakit.config.tenancy`), dbt runs in the
    tenant's stand-in for `destination` with the tenant's password, its vars gain the tenant's
    variables, `tenant` and `schema_prefix`, the generated sources point at the tenant's bronze
    schemas, and every relation dbt creates is moved into the tenant's schemas. The generated sources
    and the profile are refreshed first. A manifest `parse_ahead` left for this work folder (in the
    warm process this one was forked from) is used instead of parsing again.
    """
    setup = _resolve(project, invocation, destination, vars, tenant)
    with _lock, exclusive(setup.folder / LOCK_FILE):
        ready = _prepare(project, setup, invocation, full_refresh)
        events = _Events(ready.profile.secrets)
        _mask_dbt_logs()
        started = time.perf_counter()
        ahead = _PARSED.pop(setup.folder, None)
        with _environment(ready.profile.env):
            outcome = _invoke(ready, events, ahead)
        elapsed = time.perf_counter() - started
    results = getattr(outcome.result, "results", None) or ()
    nodes = tuple(node_result(result) for result in results)
    error = None
    if outcome.exception is not None:
        error = events.mask(f"{outcome.exception}").strip()
    elif not outcome.success and not any(node.failed for node in nodes):
        error = "dbt reported a failure without a failing node; see the log"
    result = DbtResult(
        invocation=invocation,
        destination=setup.destination,
        success=bool(outcome.success),
        nodes=tuple(_masked(node, events) for node in nodes),
        elapsed=elapsed,
        partial_parse=events.partial_parse and not events.full_parse,
        parsed_ahead=ahead is not None,
        log=events.tail(),
        work_dir=str(setup.folder),
        error=error,
        full_refresh=full_refresh and invocation.command in FULL_REFRESH_COMMANDS,
    )
    if not result.success:
        raise _failure(result, invocation, ready.profile.engine)
    return result


def parse_ahead(
    project: Project,
    invocation: DbtInvocation,
    *,
    destination: str,
    vars: dict[str, object] | None = None,
    tenant: Tenant | None = None,
) -> bool:
    """Prepare `invocation`'s work folder and parse its dbt project now, keeping the manifest in this
    process for the `run_dbt` of a process forked from it later (the step server does this while the
    run's loads go on, so a dbt step starts without parsing). True when a manifest is kept (parsed now,
    or already, for another step on the same work folder: same project, destination and vars); False
    when another process holds the folder (nothing is waited for) or the parse failed (the step will
    parse and report it)."""
    setup = _resolve(project, invocation, destination, vars, tenant)
    if setup.folder in _PARSED:
        return True
    with _lock, exclusive(setup.folder / LOCK_FILE, wait=False) as locked:
        if not locked:
            return False
        ready = _prepare(project, setup, invocation, full_refresh=False)
        with _environment(ready.profile.env):
            from dbt.cli.main import dbtRunner

            parsed = dbtRunner().invoke(["parse", *ready.shared])
    if not parsed.success or parsed.result is None:
        return False
    _PARSED[setup.folder] = parsed.result
    return True


_PARSED: dict[Path, Any] = {}
"""Manifests `parse_ahead` kept, by work folder. A step forked from the process that keeps them takes
its own copy (and may change it): the kept one serves every step forked later."""


@dataclass(frozen=True)
class _Setup:
    """Where an invocation runs: its destination, vars, tenant (None for the project) and work folder."""

    dbt: DbtProject
    destination: str
    vars: dict[str, object] | None
    tenant: Tenant | None
    folder: Path


@dataclass(frozen=True)
class _Ready:
    """A work folder written for one invocation: the profile, the command line and the shared part."""

    profile: Profile
    args: list[str]
    shared: list[str]
    prefix: str
    folder: Path


def _resolve(
    project: Project,
    invocation: DbtInvocation,
    destination: str,
    vars: dict[str, object] | None,
    tenant: Tenant | None,
) -> _Setup:
    destination = project.resolve_name("destination", destination) or destination
    project.destination(destination)  # an unknown name fails here, with a suggestion
    if tenant is not None and tenant.name is None:
        tenant = None  # the project itself: nothing to re-target
    if tenant is not None:
        destination = tenant.destination_for(destination)
        vars = tenant.dbt_vars(vars)
    dbt = read_dbt_project(project, invocation.project_dir)
    folder = work_dir(project, dbt, destination, vars, tenant.name if tenant is not None else None)
    return _Setup(dbt, destination, vars, tenant, folder)


def _prepare(project: Project, setup: _Setup, invocation: DbtInvocation, full_refresh: bool) -> _Ready:
    """(Under the folder's lock.) The profile, workspace and generated sources, and the arguments."""
    dbt, tenant, folder = setup.dbt, setup.tenant, setup.folder
    profile = write_profile(project, dbt, setup.destination, folder, tenant.secrets if tenant else None)
    workspace = prepare_workspace(dbt, folder)
    write_sources(
        project,
        generated_dir(workspace),
        setup.destination,
        tenant=tenant,
        referenced=referenced_sources(dbt),
    )
    target, name = profile.target, profile.profile
    return _Ready(
        profile=profile,
        args=_arguments(invocation, workspace, folder, name, target, full_refresh, setup.vars),
        shared=_shared_arguments(workspace, folder, name, target, setup.vars),
        prefix=tenant.schema_prefix if tenant is not None else "",
        folder=folder,
    )


def _invoke(ready: _Ready, events: _Events, manifest: Any) -> Any:
    """dbt's outcome for the invocation. With a tenant's schema `prefix`, on a manifest (the one parsed
    ahead, else parsed now with the shared arguments: same project, profile and vars) re-targeted into
    the tenant's schemas (see the module's docstring)."""
    from dbt.cli.main import dbtRunner

    if manifest is None and not ready.prefix:
        return dbtRunner(callbacks=[events]).invoke(ready.args)
    if manifest is None:
        parsed = dbtRunner(callbacks=[events]).invoke(["parse", *ready.shared])
        if not parsed.success or parsed.result is None:
            return parsed
        manifest = parsed.result  # a `parse` returns the Manifest
    else:
        events.partial_parse = True  # parsed ahead, from the same warm state
    if ready.prefix:
        retarget(manifest, ready.prefix)
        # The manifest on disk is the one the command runs with (lineage and docs read it).
        manifest.writable_manifest().write(str(ready.folder / "target" / "manifest.json"))
    return dbtRunner(manifest=manifest, callbacks=[events]).invoke(ready.args)


def _arguments(
    invocation: DbtInvocation,
    dbt_dir: Path,
    folder: Path,
    profile: str,
    target: str,
    full_refresh: bool,
    vars: dict[str, object] | None,
) -> list[str]:
    """The whole command line of `invocation`: the shared arguments, then the command's own options."""
    args = [invocation.command, *_shared_arguments(dbt_dir, folder, profile, target, vars)]
    if full_refresh and invocation.command in FULL_REFRESH_COMMANDS:
        args.append("--full-refresh")
    if invocation.select:
        args += ["--select", *invocation.select.split()]
    if invocation.exclude:
        args += ["--exclude", *invocation.exclude.split()]
    if invocation.command in ("build", "test"):
        args += ["--indirect-selection", invocation.indirect_selection]
    return args


def _shared_arguments(
    dbt_dir: Path, folder: Path, profile: str, target: str, vars: dict[str, object] | None
) -> list[str]:
    """What every invocation on this work folder passes (a `parse` too): dbt keys partial parsing on it."""
    args = [
        "--project-dir", str(dbt_dir),
        "--profiles-dir", str(folder),
        "--profile", profile,
        "--target", target,
        "--target-path", str(folder / "target"),
        "--log-path", str(folder / "logs"),
        "--log-level", "none",  # nothing on stdout: lines reach the step log through the callback
        "--log-level-file", "info",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        "--partial-parse",
    ]  # fmt: skip
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True, default=str)]
    return args


def _mask_dbt_logs() -> None:
    """Put the redacting filter on dbt's own loggers (dbt replaces their handlers, not their filters)."""
    for name in _DBT_LOGGERS:
        dbt_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in dbt_logger.filters):
            dbt_logger.addFilter(RedactingFilter())


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block only (dbt's `env_var()` reads the process environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class _Events:
    """dbt's event callback: keeps the log tail (info and up) and notes how the project was parsed."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.partial_parse = False
        self.full_parse = False

    def __call__(self, event: Any) -> None:
        info = event.info
        name = info.name
        if name in _PARTIAL:
            self.partial_parse = True
        elif name in _FULL:
            self.full_parse = True
        if info.level in ("debug", "") or name in _SKIP_EVENTS or not info.msg:
            return
        stamp = info.ts.ToDatetime().strftime("%H:%M:%S")
        line = self.mask(f"{stamp} {info.msg}")
        self.lines.append(line)
        logger.log(_LEVELS.get(info.level, logging.INFO), "%s", line)

    def mask(self, text: str) -> str:
        """`text` without the profile's password, nor any other secret the process has resolved."""
        return redact(text, self.secrets)

    def tail(self) -> str:
        text = "\n".join(self.lines)
        return text if len(text) <= LOG_CHARS else "…" + text[-LOG_CHARS:]


def _masked(node: DbtNodeResult, events: _Events) -> DbtNodeResult:
    if node.message is None:
        return node
    from dataclasses import replace

    return replace(node, message=events.mask(node.message))


def _failure(result: DbtResult, invocation: DbtInvocation, engine: Engine) -> DbtFailed:
    """The DbtFailed for a failed invocation: failing nodes first, else the whole-invocation error."""
    what = f"dbt {invocation.command} of {invocation.project_dir} on {result.destination}"
    failed = result.failed_nodes
    if failed:
        message = failure_message(failed)
        text = message
        file = failed[0].file
        skipped = sum(1 for node in result.nodes if node.status == "skipped")
        hint = f"{what}: {len(failed)} failed" + (f", {skipped} skipped downstream" if skipped else "")
    else:
        text = result.error or "unknown error"
        file = file_in(text)
        message = f"{what} failed" + (f" in {file}" if file else "") + f": {text}"
        hint = None
    return DbtFailed(
        message,
        details=result.details(),
        log=result.log,
        transient=engine.transient_message(text),
        file=file,
        hint=hint,
    )


def release_dbt() -> None:
    """Drop dbt's adapters (and their connections) in a process that is about to end.

    dbt's adapters hold multiprocessing locks, named semaphores watched by Python's resource tracker; a
    process that ends without running finalizers — an Airflow task process ends with `os._exit` — leaves
    them to the tracker, which then prints a "leaked semaphore" warning on stderr (shown by Airflow as
    an error). Garbage-collecting the adapters first unlinks the semaphores. No-op when dbt never ran.
    """
    import gc
    import sys

    if "dbt.adapters.factory" not in sys.modules:
        return
    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # type: ignore[no-untyped-call]
    gc.collect()
