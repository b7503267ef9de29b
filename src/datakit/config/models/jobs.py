"""`job:` files — pipelines, dbt invocations and check suites, with an execution mode, retries,
notifications and an SLA.

`pipelines:` keeps seed 002's vocabulary (a list of pipeline names); `steps:` adds what runs after or
between loads — `dbt:` invocations and `checks:` suites — with the same `order`/`depends_on` rules, and
`depends_on` may name pipelines and steps alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from datakit.config.models.airflow import AirflowTasks
from datakit.config.models.checks import CheckSuiteRef
from datakit.config.models.common import (
    Description,
    DestinationRef,
    Duration,
    Name,
    PipelineRef,
    SecretRef,
    StrictModel,
    Tags,
)
from datakit.config.models.retention import JobRetention
from datakit.config.models.warehouses import Variable


def _name_shorthand(value: Any) -> Any:
    """`- my_pipeline` is short for `- name: my_pipeline`."""
    return {"name": value} if isinstance(value, str) else value


class _OrName:
    """Tells editors (JSON Schema) that the shorthand string is accepted too."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [handler(schema), {"type": "string", "description": "Short for `name: <pipeline>`."}]
        }


class JobPipeline(StrictModel):
    name: PipelineRef
    order: int = Field(0, description="Position in sequential mode (lower runs first; ties keep file order).")
    enabled: bool = True
    depends_on: list[str] = Field(
        default_factory=list, description="Pipelines of this job that must succeed first (dag mode)."
    )
    group_resources: bool | None = Field(
        None,
        description="Load all of the pipeline's resources in one step (one process, one destination "
        "connection), each still its own transaction and load record: for many small tables. Unset: "
        "grouped when the loads share a single-writer destination (DuckDB), which runs them one at a "
        "time anyway; false keeps a step per resource.",
    )


class Execution(StrictModel):
    mode: Literal["sequential", "parallel", "dag"] = "sequential"
    max_parallelism: Annotated[int, Field(ge=1, le=256)] = 4
    continue_on_failure: bool = False


class Retries(StrictModel):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    retry_delay: Duration = timedelta(seconds=60)
    exponential_backoff: bool = False
    max_retry_delay: Duration = timedelta(hours=1)


class WebhookChannel(StrictModel):
    type: Literal["webhook"]
    url_secret_key: SecretRef


class EmailChannel(StrictModel):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)


Channel = Annotated[
    Literal["log", "email", "webhook"]
    | Annotated[WebhookChannel | EmailChannel, Field(discriminator="type")],
    Field(description="`log`, `email`, `webhook` (settings in datakit.yaml), or an inline channel."),
]


def _log_only() -> list[Channel]:
    return ["log"]


class Notifications(StrictModel):
    on_failure: bool = True
    on_success: bool = False
    channels: list[Channel] = Field(default_factory=_log_only)


class Sla(StrictModel):
    duration: Duration = Field(description="A run taking longer than this fires `sla_missed`.")


DbtCommand = Literal["build", "run", "test", "seed", "snapshot"]
IndirectSelection = Literal["eager", "cautious", "buildable", "empty"]


class DbtInvocation(StrictModel):
    """One dbt command on one dbt project, against one destination (profiles.yml is generated)."""

    project: str = Field(min_length=1, description="The dbt project's folder, relative to the project root.")
    command: DbtCommand = "build"
    select: str | None = Field(None, description="dbt node selection, e.g. `silver+` or `tag:daily`.")
    exclude: str | None = None
    indirect_selection: IndirectSelection = Field(
        "buildable",
        description="Which tests run with the selected models (dbt's default is `eager`; `buildable` "
        "keeps a silver step from running tests that also read gold).",
    )
    destination: DestinationRef | None = Field(
        None,
        description="Where dbt builds (default: the destination of the job's pipelines, or the only one).",
    )
    full_refresh: bool = False
    vars: dict[str, Variable] = Field(default_factory=dict, description="dbt `--vars` (see also warehouses).")


class JobStep(StrictModel):
    """A dbt invocation or a check suite, placed among the job's pipelines by `order`/`depends_on`."""

    name: Name | None = Field(None, description="Step name (default: `dbt_<command>` or the suite's name).")
    description: Description
    order: int = Field(0, description="Position in sequential mode (lower runs first; ties keep file order).")
    enabled: bool = True
    depends_on: list[str] = Field(
        default_factory=list, description="Pipelines or steps of this job this one waits for (dag mode)."
    )
    dbt: DbtInvocation | None = None
    checks: CheckSuiteRef | None = Field(None, description="A check suite (`config/checks/`) to run.")
    timeout: Duration | None = Field(None, description="Overrides the job's step timeout.")

    @model_validator(mode="after")
    def _one_action(self) -> JobStep:
        if (self.dbt is None) == (self.checks is None):
            raise ValueError("a step runs exactly one thing: give either `dbt:` or `checks:`")
        return self

    @property
    def step_name(self) -> str:
        if self.name is not None:
            return self.name
        if self.dbt is not None:
            return f"dbt_{self.dbt.command}"
        assert self.checks is not None
        return self.checks


class Job(StrictModel):
    """Steps run together as one run, in the execution mode given."""

    name: Name
    description: Description
    tags: Tags
    owner: str | None = Field(
        None, min_length=1, description="Who answers for this job (a team or a person); Airflow's `owner`."
    )
    pipelines: list[Annotated[JobPipeline, BeforeValidator(_name_shorthand), _OrName()]] = Field(
        default_factory=list
    )
    steps: list[JobStep] = Field(default_factory=list, description="dbt invocations and check suites.")
    execution: Execution = Field(default_factory=Execution)
    retries: Retries = Field(default_factory=Retries)
    notifications: Notifications = Field(default_factory=Notifications)
    sla: Sla | None = None
    timeout: Duration | None = Field(None, description="Default timeout of each step.")
    retention: JobRetention | None = Field(
        None, description="This job's run-history limits (default: `retention` in datakit.yaml)."
    )
    airflow: AirflowTasks = Field(
        default_factory=AirflowTasks, description="priority_weight and queue of its compiled Airflow tasks."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Job:
        if not self.pipelines and not self.steps:
            raise ValueError("a job needs at least one pipeline or step")
        return self

    @property
    def enabled_pipelines(self) -> list[JobPipeline]:
        return [p for p in self.pipelines if p.enabled]

    @property
    def enabled_steps(self) -> list[JobStep]:
        return [s for s in self.steps if s.enabled]
