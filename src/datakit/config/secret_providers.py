"""Secrets providers: where a secret's value is read — the environment, a `.env` file, Airflow.

One interface (`SecretProvider`): `lookup` returns the value or None, `where` says in words where it
looked (for the error of a required secret that is unset). `Secrets` picks each secret's provider
(its `provider:` in secrets_mapping.yaml, else datakit.yaml's `secrets.provider`, else `env`) and
handles what every provider shares: required vs optional, tenants' keys, registering each revealed
value for masking.

- `env` (today's behaviour): the secret's variable for the environment, from the process environment.
- `dotenv`: the same variable, from the project's `.env` file (datakit.yaml `secrets.dotenv`); a
  variable exported in the environment wins, as with docker compose and python-dotenv. The file is
  parsed once, with python-dotenv's parser; a line it cannot parse is an error naming file:line.
- `airflow`: an Airflow Connection's field or an Airflow Variable, through Airflow's own secrets
  backends (environment `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*`, a configured backend such as Vault, the
  metadata database). It lives with the Airflow integration, the only place that may import Airflow,
  and is found by name here (`_PLUGINS`), so importing datakit never imports Airflow.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from datakit.errors import SecretError

if TYPE_CHECKING:
    from datakit.config.models.secrets import ProviderName, SecretSpec

DEFAULT: ProviderName = "env"


class SecretProvider(Protocol):
    """Reads secret values from one place."""

    @property
    def name(self) -> str:
        """`env`, `dotenv`, `airflow`."""
        ...

    def lookup(self, key: str, spec: SecretSpec, environment: str) -> str | None:
        """The value of secret `key` (`spec`: its mapping entry) in `environment`; None when unset."""
        ...

    def where(self, key: str, spec: SecretSpec, environment: str) -> str:
        """What to set for the secret to have a value (`set PAGILA_PASSWORD_DEV`)."""
        ...


@dataclass(frozen=True)
class EnvProvider:
    """The process environment: the secret's variable for the environment."""

    environ: Mapping[str, str]
    name: str = "env"

    def lookup(self, key: str, spec: SecretSpec, environment: str) -> str | None:  # noqa: ARG002
        var = spec.env_var_for(environment)
        return (self.environ.get(var) or None) if var else None

    def where(self, key: str, spec: SecretSpec, environment: str) -> str:  # noqa: ARG002
        var = spec.env_var_for(environment)
        if var is None:
            return f"add env_var_{environment} for it in config/secrets_mapping.yaml"
        return f"set {var}"


@dataclass
class DotenvProvider:
    """A `.env` file (`NAME=value` lines), with the process environment taking precedence."""

    path: Path
    environ: Mapping[str, str]
    name: str = "dotenv"

    @cached_property
    def values(self) -> dict[str, str]:
        """Every assignment in the file (parsed once); SecretError naming file:line for a bad line."""
        from dotenv.parser import parse_stream

        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretError(
                f"{self.path}: no such .env file",
                hint="create it, or point `secrets.dotenv` in datakit.yaml at yours",
            ) from None
        except OSError as exc:
            raise SecretError(f"{self.path}: cannot read the .env file: {exc.strerror}") from None
        found: dict[str, str] = {}
        for binding in parse_stream(io.StringIO(text)):
            if binding.error:
                raise SecretError(
                    f"{self.path}:{binding.original.line}: cannot parse this line of the .env file",
                    hint="write NAME=value (quote values with spaces or #; `export NAME=value` works too)",
                )
            if binding.key is not None and binding.value is not None:
                found[binding.key] = binding.value
        return found

    def lookup(self, key: str, spec: SecretSpec, environment: str) -> str | None:  # noqa: ARG002
        var = spec.env_var_for(environment)
        if var is None:
            return None
        return self.environ.get(var) or self.values.get(var) or None

    def where(self, key: str, spec: SecretSpec, environment: str) -> str:  # noqa: ARG002
        var = spec.env_var_for(environment)
        if var is None:
            return f"add env_var_{environment} for it in config/secrets_mapping.yaml"
        return f"set {var} in {self.path} (or in the environment)"


_PLUGINS = {"airflow": "datakit.integrations.airflow.secrets:AirflowProvider"}
"""Providers that live with an integration: imported on first use, by name (see the docstring)."""


@dataclass
class Providers:
    """The providers of one project and environment, each made once, on first use."""

    environ: Mapping[str, str]
    default: ProviderName = DEFAULT
    dotenv: Path = Path(".env")
    _made: dict[str, SecretProvider] = field(default_factory=dict, repr=False)

    def for_spec(self, spec: SecretSpec) -> SecretProvider:
        """The provider of a secret: its own `provider:`, else the project's default."""
        name = spec.provider or self.default
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = self._make(name)
        return made

    def _make(self, name: str) -> SecretProvider:
        if name == "env":
            return EnvProvider(self.environ)
        if name == "dotenv":
            return DotenvProvider(self.dotenv, self.environ)
        module, _, attribute = _PLUGINS[name].partition(":")
        try:
            factory = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:
            raise SecretError(
                f"the {name} secrets provider cannot be loaded: {exc}",
                hint=f"install the extra: pip install 'datakit[{name}]'",
            ) from None
        provider: SecretProvider = factory(self.environ)
        return provider
