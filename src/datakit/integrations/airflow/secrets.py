"""The `airflow` secrets provider: a secret is an Airflow Connection's field or an Airflow Variable.

So tasks read their database passwords where Airflow operators keep them: `AIRFLOW_CONN_<ID>` /
`AIRFLOW_VAR_<KEY>` in the environment, a secrets backend configured for Airflow (Vault, AWS Secrets
Manager, ...), or the metadata database — in Airflow's own order, through Airflow's own API:

* in a task (Airflow 3's task runner: it talks to the API server), `airflow.sdk`'s `Variable.get` and
  `Connection.get`, the only way a task may read them;
* anywhere else (`datakit validate --check-secrets`, `datakit run` on an Airflow host), the core models
  (`airflow.models.Variable`, `Connection.get_connection_from_secrets`), which read the metadata
  database directly; AIRFLOW_HOME must point at the deployment's configuration, as for `airflow` itself.

Found by name from `datakit.config.secret_providers` (the only place that may import Airflow is this
package), and imported the first time a secret it reads is resolved. A secret's `airflow:` block says
where it is (`connection:` + `field:`, or `variable:`); without one, it is the Variable named like the
secret's mapping key. The value is masked by datakit like every secret (and Airflow masks connection
passwords and sensitive variables in task logs too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datakit.config.models.secrets import AirflowSecret
from datakit.errors import SecretError

if TYPE_CHECKING:
    from datakit.config.models.secrets import SecretSpec


@dataclass(frozen=True)
class AirflowProvider:
    """Reads secrets through Airflow (see the module docstring)."""

    environ: Mapping[str, str]
    """Unused: Airflow reads its own environment (`AIRFLOW_CONN_*`, `AIRFLOW_VAR_*`) itself."""
    name: str = "airflow"

    def lookup(self, key: str, spec: SecretSpec, environment: str) -> str | None:  # noqa: ARG002
        where = _where(key, spec)
        if where.variable is not None:
            return _variable(where.variable)
        assert where.connection is not None
        connection = _connection(where.connection)
        if connection is None:
            return None
        return _field(connection, where)

    def where(self, key: str, spec: SecretSpec, environment: str) -> str:  # noqa: ARG002
        where = _where(key, spec)
        if where.variable is not None:
            return (
                f"set the Airflow variable {where.variable!r} (airflow variables set, or "
                f"AIRFLOW_VAR_{where.variable.upper()})"
            )
        what = f"extra key {where.extra_key!r}" if where.field == "extra" else f"its {where.field}"
        return (
            f"add the Airflow connection {where.connection!r} with {what} (airflow connections add, or "
            f"AIRFLOW_CONN_{(where.connection or '').upper()})"
        )


def _where(key: str, spec: SecretSpec) -> AirflowSecret:
    return spec.airflow if spec.airflow is not None else AirflowSecret(variable=key)


def _in_task() -> bool:
    """Whether this process is an Airflow 3 task (its runner talks to the API server for it)."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def _variable(key: str) -> str | None:
    if _in_task():
        from airflow.sdk import Variable

        value: Any = Variable.get(key, default=None)
    else:
        from airflow.models import Variable as CoreVariable

        value = CoreVariable.get(key, default_var=None)
    return None if value is None else str(value)


def _connection(conn_id: str) -> Any:
    """The connection, or None when Airflow has none of that id."""
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        if _in_task():
            from airflow.sdk import Connection

            return Connection.get(conn_id)
        from airflow.models import Connection as CoreConnection

        return CoreConnection.get_connection_from_secrets(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):
        return None


def _field(connection: Any, where: AirflowSecret) -> str | None:
    if where.field == "uri":
        return str(connection.get_uri())
    if where.field == "extra":
        extra = connection.extra_dejson
        if not isinstance(extra, dict):
            raise SecretError(f"the extra of Airflow connection {where.connection!r} is not a JSON object")
        value = extra.get(where.extra_key)
    else:
        value = getattr(connection, where.field, None)
    return None if value is None or value == "" else str(value)
