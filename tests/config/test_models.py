"""Model rules that are not about one file's shape: durations, name patterns, union dispatch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from datakit.config.models import KINDS
from datakit.config.models.common import Duration, format_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(300, 300), (0.5, 0.5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25),
     ("1w", 604800), ("PT5M", 300), ("45", 45)],
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert TypeAdapter(Duration).validate_python(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["soon", "-5", "5 minutes", True, "1x"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(text)


def test_format_duration_round_trips_the_short_form() -> None:
    assert format_duration(timedelta(seconds=5400)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(timedelta(days=1, seconds=5)) == "1d5s"


def test_every_kind_has_a_registry_entry_with_a_schema() -> None:
    assert list(KINDS) == [
        "source", "destination", "pipeline", "job", "trigger", "warehouse", "checks", "target", "secrets",
    ]  # fmt: skip
    source_types = set(KINDS["source"].adapter.json_schema()["discriminator"]["mapping"])
    assert source_types == {"postgres", "sqlite", "mysql", "rest_api", "files"}
    assert set(KINDS["destination"].adapter.json_schema()["discriminator"]["mapping"]) == {
        "duckdb",
        "postgres",
        "spark",
    }
    trigger_types = set(KINDS["trigger"].adapter.json_schema()["discriminator"]["mapping"])
    assert trigger_types == {"cron", "interval", "manual", "event", "webhook"}


def test_models_are_frozen() -> None:
    job = KINDS["job"].adapter.validate_python({"name": "j", "pipelines": ["p"]})
    with pytest.raises(ValidationError):
        job.name = "other"
    assert job.pipelines[0].name == "p"  # `- p` is short for `- name: p`
