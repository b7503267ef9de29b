"""datakit's Airflow plugin: preloads datakit in Airflow's processes when `DATAKIT_PRELOAD` is set.

Registered as the entry point `airflow.plugins` (pyproject.toml), so Airflow imports it with its other
plugins; it adds nothing to Airflow's UI or API. Unless `DATAKIT_PRELOAD` is set, importing it costs
nothing (see `preload`).
"""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin

from datakit.integrations.airflow.preload import PRELOAD_VAR, preload


class DatakitPlugin(AirflowPlugin):
    """Marks datakit as loaded in Airflow's plugin list (`airflow plugins`)."""

    name = "datakit"


if os.environ.get(PRELOAD_VAR):
    preload()
