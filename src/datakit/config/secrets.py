"""Secrets: declared in `secrets_mapping.yaml`, referenced by key, read by a provider (`secret_providers`:
environment variables by default, a `.env` file, Airflow Connections/Variables).

A resolved secret is a `pydantic.SecretStr`: it shows as `**********` in repr, str, logs and JSON,
and only `.get_secret_value()` reveals it, at the last moment, to a driver. Every revealed value is
also registered with `datakit.log` so a value that escapes into a log line is masked there too, in
every form it may take (`datakit.masking`).

Reference rule (documented for seed 002 users): a reference names a mapping key exactly; when no key
matches and the reference ends with `_secret_key`, the suffix is dropped — seed 002's
`credentials_secret_key: my_api_token_secret_key` finds the key `my_api_token`. Anything else is an
unresolved secret, reported with the closest key.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from datakit.config.introspect import iter_marked
from datakit.config.models.common import SecretRefMarker
from datakit.config.models.secrets import SecretSpec
from datakit.config.secret_providers import DotenvProvider, Providers
from datakit.config.yaml_source import PathKey
from datakit.errors import SecretError, did_you_mean
from datakit.log import register_secret
from datakit.masking import is_weak

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.secret_providers import SecretProvider

SUFFIX = "_secret_key"


def mapping_key(reference: str, keys: Collection[str]) -> str | None:
    """The mapping key a reference names under the rule above, or None."""
    if reference in keys:
        return reference
    if reference.endswith(SUFFIX) and reference[: -len(SUFFIX)] in keys:
        return reference[: -len(SUFFIX)]
    return None


def unresolved_hint(reference: str, keys: Collection[str]) -> str:
    """The suggestion for a reference that names no key."""
    stem = reference[: -len(SUFFIX)] if reference.endswith(SUFFIX) else reference
    return (
        did_you_mean(stem, keys)
        or did_you_mean(reference, keys)
        or f"add '{stem}' to config/secrets_mapping.yaml with env_var_dev/env_var_stage/env_var_prod"
    )


def project_providers(project: Project, environ: Mapping[str, str] | None = None) -> Providers:
    """The providers `project` reads its secrets with (datakit.yaml `secrets:`), over `environ`."""
    settings = project.config.secrets
    return Providers(
        os.environ if environ is None else environ, settings.provider, project.path(settings.dotenv)
    )


def mask_declared_values(project: Project, environ: Mapping[str, str]) -> None:
    """Mask, in all output from now on, the value of every variable the mapping declares.

    Nothing is revealed by this; it only means a value that reached a message by another road (pasted
    into a YAML file, echoed in a driver error or by an API) is printed as `***`, in all its forms: the
    HTTP Basic form too, for the user names configured next to the secret, and only as a whole token
    when the value is weak or one of the project's own names.
    """
    values = {
        key: found
        for key, spec in project.secrets.items()
        if (found := [environ[var] for var in declared_variables(spec) if environ.get(var)])
    }
    for key, value in _dotenv_values(project, environ).items():  # known now, like the environment's
        values.setdefault(key, []).append(value)
    if not values:
        return
    words = project_words(project)
    users = credential_users(project)
    for key, key_values in values.items():
        for value in key_values:
            register_secret(value, whole_token=is_weak(value, words))
            for user in users.get(key, ()):
                register_secret(value, user=user)


def _dotenv_values(project: Project, environ: Mapping[str, str]) -> dict[str, str]:
    """The values the `.env` file holds for the secrets read from it (a file that cannot be read
    holds none here: resolving such a secret reports why)."""
    providers = project_providers(project, environ)
    found: dict[str, str] = {}
    for key, spec in project.secrets.items():
        provider = providers.for_spec(spec) if (spec.provider or providers.default) == "dotenv" else None
        if isinstance(provider, DotenvProvider):
            try:
                file_values = provider.values
            except SecretError:
                return {}
            for var in declared_variables(spec):
                if file_values.get(var):
                    found[key] = file_values[var]
    return found


def declared_variables(spec: SecretSpec) -> list[str]:
    """Every environment variable a mapping entry names, whatever the environment."""
    variables = (spec.env_var_dev, spec.env_var_stage, spec.env_var_prod, spec.env_var)
    return [var for var in variables if var]


def project_words(project: Project) -> set[str]:
    """The names a project uses (its own, its objects'): a secret equal to one is weak."""
    return {project.config.name, *(name for objects in project.objects.values() for name in objects)}


def credential_users(project: Project) -> dict[str, set[str]]:
    """Mapping key -> the user names configured next to it (`user`/`username` beside a `*_secret_key`)."""
    found: dict[str, set[str]] = {}
    connected = (*project.objects["source"].values(), *project.objects["destination"].values())
    models = [project.config, *connected]  # where connections (and SMTP logins) are configured
    for model in models:
        for loc, reference, _ in iter_marked(model, SecretRefMarker):
            user = _user_beside(model, loc)
            key = mapping_key(reference, project.secrets)
            if user and key is not None:
                found.setdefault(key, set()).add(user)
    return found


def _user_beside(model: object, loc: PathKey) -> str | None:
    """The `user` or `username` of the object that holds the field at `loc` (inside `model`)."""
    holder = model
    for part in loc[:-1]:
        if isinstance(holder, BaseModel):
            names = {info.alias or name: name for name, info in type(holder).model_fields.items()}
            holder = getattr(holder, names[str(part)])
        else:
            holder = holder[part]  # type: ignore[index]
    user = getattr(holder, "user", None) or getattr(holder, "username", None)
    return user if isinstance(user, str) else None


@dataclass(frozen=True)
class Secrets:
    """Resolves secret references for one environment, optionally limited to a tenant's own keys."""

    mapping: Mapping[str, SecretSpec]
    environment: str
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    allowed: frozenset[str] | None = None  # None: every key; otherwise only these (tenant isolation)
    aliases: Mapping[str, str] | None = None  # reference key -> the key actually used (tenant's own)
    scope: str | None = None  # who is limited by `allowed` ("warehouse 'acme'"), for messages
    providers: Providers | None = None  # None: every secret from `environ` (the env provider)

    def provider(self, key: str) -> SecretProvider:
        """The provider that reads mapping key `key`."""
        providers = self.providers if self.providers is not None else Providers(self.environ)
        return providers.for_spec(self.mapping[key])

    def key_for(self, reference: str) -> str:
        """The mapping key behind `reference`, after tenant aliasing; SecretError when there is none."""
        key = mapping_key(reference, self.mapping.keys())
        if key is None:
            raise SecretError(f"unknown secret '{reference}'", hint=unresolved_hint(reference, self.mapping))
        if self.aliases and key in self.aliases:
            key = self.aliases[key]
            if key not in self.mapping:
                raise SecretError(f"unknown secret '{key}'", hint=unresolved_hint(key, self.mapping))
        if self.allowed is not None and key not in self.allowed:
            where = f"to {self.scope}" if self.scope else "here"
            raise SecretError(
                f"secret '{key}' is not available {where}",
                hint="a warehouse (tenant) can use only its own secrets and the shared ones",
            )
        return key

    def env_var(self, reference: str) -> str | None:
        """The environment variable that holds the secret in the current environment."""
        return self.mapping[self.key_for(reference)].env_var_for(self.environment)

    def resolve(self, reference: str, *, user: str | None = None) -> SecretStr | None:
        """The secret as a redacting value; None if optional and unset; SecretError if required and unset.

        `user`: the user name the secret is the password of, so that its HTTP Basic form is masked too.
        """
        key = self.key_for(reference)
        spec = self.mapping[key]
        provider = self.provider(key)
        value = provider.lookup(key, spec, self.environment)
        if not value:
            if not spec.required:
                return None
            raise SecretError(
                f"secret '{key}' is not set for environment '{self.environment}'",
                hint=provider.where(key, spec, self.environment),
            )
        register_secret(value, user=user)
        return SecretStr(value)

    def value(self, key: str) -> str | None:
        """The raw value of mapping key `key` (for checks that never show it), None when unset."""
        return self.provider(key).lookup(key, self.mapping[key], self.environment)

    def missing(self, key: str) -> str | None:
        """Why a required secret cannot be resolved now (None when it can, or is optional)."""
        spec = self.mapping[key]
        if not spec.required:
            return None
        provider = self.provider(key)
        try:
            if provider.lookup(key, spec, self.environment):
                return None
        except SecretError as exc:
            return f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        var = spec.env_var_for(self.environment)
        if provider.name == "env":
            if var is None:
                return f"no environment variable is declared for environment '{self.environment}'"
            return f"environment variable {var} is not set (ENVIRONMENT={self.environment})"
        return f"{provider.name} has no value for it: {provider.where(key, spec, self.environment)}"
