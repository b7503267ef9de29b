"""`secrets_mapping.yaml` — secret key -> environment variable per environment (seed 002 format)."""

from __future__ import annotations

from pydantic import Field

from datakit.config.models.common import StrictModel

ENVIRONMENTS = ("dev", "stage", "prod")


class SecretSpec(StrictModel):
    env_var_dev: str | None = None
    env_var_stage: str | None = None
    env_var_prod: str | None = None
    env_var: str | None = Field(None, description="Variable used in every environment without its own.")
    description: str | None = None
    required: bool = True

    def env_var_for(self, environment: str) -> str | None:
        """The variable that holds this secret in `environment`."""
        specific: str | None = getattr(self, f"env_var_{environment}", None)
        return specific or self.env_var
