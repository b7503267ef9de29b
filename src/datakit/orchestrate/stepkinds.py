"""The kinds of plan step — load, dbt, checks — with typed parameters, and the one form they travel in.

A step leaves the process that planned it: as JSON to a child process or to a step server's fork (the
local executor), as literal data inside a compiled Airflow DAG file, into run history, and (next) into a
Prefect flow. All of them write `step_data(step)` and read it back with `step_from_data`, so a step's
parameters have one typed definition (here), one source of defaults (the job's config: the plan fills
in every parameter), and one wire format: plain JSON values, validated by pydantic on the way back in.

A step is a discriminated union keyed by `kind`, like the config's kinds; a `LoadStep` carries
`LoadParams`, a `DbtStep` `DbtParams`, a `ChecksStep` `ChecksParams`. Each parameter set names the
warehouse (tenant) it runs for: a step alone is enough to run it (`run_step_here`), whoever runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config

from datakit.config.models.jobs import DbtCommand, IndirectSelection
from datakit.config.models.warehouses import Variable
from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.models.jobs import Retries

StepKind = Literal["load", "dbt", "checks"]
_STRICT = ConfigDict(extra="forbid")


@with_config(_STRICT)
@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried and how long to wait between tries (seconds)."""

    max_attempts: int = 1
    retry_delay: float = 60.0
    exponential_backoff: bool = False
    max_retry_delay: float = 3600.0

    @classmethod
    def from_config(cls, retries: Retries) -> RetryPolicy:
        return cls(
            max_attempts=retries.max_attempts,
            retry_delay=retries.retry_delay.total_seconds(),
            exponential_backoff=retries.exponential_backoff,
            max_retry_delay=retries.max_retry_delay.total_seconds(),
        )


@with_config(_STRICT)
@dataclass(frozen=True)
class ChunkWindow:
    """One chunk of a backfill: the rows with `start <= cursor < end` (instants, or numbers)."""

    start: datetime | int
    end: datetime | int


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class LoadParams:
    """One resource of one pipeline: the loader's unit of atomicity (one destination transaction).
    With `window`, a backfill's chunk of it (`datakit.orchestrate.backfill`). With `also`, a grouped
    step (`datakit.orchestrate.grouping`): `resource`, then each of `also`, one after the other on one
    destination connection, each still its own transaction and load record."""

    pipeline: str
    resource: str
    warehouse: str | None = None
    window: ChunkWindow | None = None
    also: tuple[str, ...] = ()

    @property
    def resources(self) -> tuple[str, ...]:
        """Every resource the step loads, in order."""
        return (self.resource, *self.also)


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class DbtParams:
    """One dbt invocation, as the job's `dbt:` step says, in the destination the plan resolved."""

    project_dir: str
    command: DbtCommand
    destination: str
    select: str | None
    exclude: str | None
    indirect_selection: IndirectSelection
    full_refresh: bool
    vars: dict[str, Variable]
    warehouse: str | None = None


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class ChecksParams:
    """A check suite, run against the destination the plan resolved."""

    suite: str
    destination: str
    warehouse: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Step:
    """What every kind of step has. `id` is unique in the plan and stable across runs (resume matches
    by it)."""

    id: str
    depends_on: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    exclusive: tuple[str, ...] = ()
    """Keys of resources only one step at a time may use (e.g. a DuckDB file)."""


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class LoadStep(_Step):
    params: LoadParams
    kind: Literal["load"] = "load"


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class DbtStep(_Step):
    params: DbtParams
    kind: Literal["dbt"] = "dbt"


@with_config(_STRICT)
@dataclass(frozen=True, kw_only=True)
class ChecksStep(_Step):
    params: ChecksParams
    kind: Literal["checks"] = "checks"


Step = Annotated[LoadStep | DbtStep | ChecksStep, Field(discriminator="kind")]
"""One node of a plan."""


@cache
def _adapter() -> TypeAdapter[Step]:
    """Built on first use (a few tens of milliseconds), not when the CLI imports the plan."""
    return TypeAdapter(Step)


def step_data(step: Step) -> dict[str, Any]:
    """`step` as plain JSON values (what crosses into a child process, a DAG file, run history)."""
    data: dict[str, Any] = _adapter().dump_python(step, mode="json")
    if data["kind"] == "load" and not data["params"]["also"]:
        del data["params"]["also"]  # an ungrouped step travels as it did before grouping existed
    return {"id": data.pop("id"), "kind": data.pop("kind"), **data}  # read first, by people too


def step_from_data(data: Mapping[str, Any]) -> Step:
    """The step `step_data` wrote; a DatakitError naming the step and the field when `data` is not one
    (a DAG file compiled by another datakit version, a hand edit)."""
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        where = data.get("id", "?") if isinstance(data, Mapping) else "?"
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or 'kind'}: {error['msg']}"
            for error in exc.errors()
        )
        raise DatakitError(
            f"step {where!r} is not in the form this datakit runs: {problems}",
            hint="it was written by another datakit version: compile it again with this one "
            "(for Airflow: `datakit airflow compile`)",
        ) from None
