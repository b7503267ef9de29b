"""Building blocks shared by every config kind: the strict base model, names, durations, references.

Models are strict about shape (`extra="forbid"`: an unknown key is an error, never ignored) and frozen
(a loaded project is a value). Field types carry markers (`SecretRef`, `Reference`) so that later passes
find every secret and every cross-file reference by walking the models, not by keeping lists by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

SUGGESTED = "suggested"
"""Error type for validators whose did-you-mean belongs in the problem's own suggestion field:
`PydanticCustomError(SUGGESTED, message, {"suggestion": ...})`."""


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors; loaded values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"

Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN, max_length=63),
    Field(description="Unique name of this object within its kind: letters, digits, '_' and '-'."),
]


def name_from_folder(folder: str, fallback: str) -> str:
    """A valid `Name` made from a folder name (for projects that do not name themselves)."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in folder).lstrip("_-0123456789")
    return cleaned[:63] or fallback


@dataclass(frozen=True)
class SecretRefMarker:
    """Marks a field whose value names a key of `secrets_mapping.yaml` (never the secret itself)."""


SecretRef = Annotated[
    str,
    SecretRefMarker(),
    Field(
        min_length=1,
        description=(
            "Key of a secret in config/secrets_mapping.yaml. The key may also be written with a "
            "'_secret_key' suffix (seed convention): 'my_api_token_secret_key' -> 'my_api_token'."
        ),
    ),
]


@dataclass(frozen=True)
class ReferenceMarker:
    """Marks a field that names another config object: `kind` is the kind it must resolve to."""

    kind: str


_REF_HELP = "By the object's name, or by its file name (e.g. my_api.yaml)."

SourceRef = Annotated[
    str, ReferenceMarker("source"), Field(min_length=1, description=f"A source. {_REF_HELP}")
]
DestinationRef = Annotated[
    str, ReferenceMarker("destination"), Field(min_length=1, description=f"A destination. {_REF_HELP}")
]
PipelineRef = Annotated[
    str, ReferenceMarker("pipeline"), Field(min_length=1, description=f"A pipeline. {_REF_HELP}")
]
JobRef = Annotated[str, ReferenceMarker("job"), Field(min_length=1, description=f"A job. {_REF_HELP}")]
TriggerRef = Annotated[
    str, ReferenceMarker("trigger"), Field(min_length=1, description=f"A trigger. {_REF_HELP}")
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """Accept seconds (`300`) or short forms (`90s`, `5m`, `1h30m`, `2d`); leave the rest to pydantic."""
    try:
        return _parse_duration(value)
    except OverflowError:
        raise ValueError(f"duration {value!r} is too long") from None


def _parse_duration(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use seconds (300) or a form like 90s, 5m, 1h30m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text and _DURATION_PART.sub("", text).strip() == "":
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
            return timedelta(seconds=seconds)
        if text.replace(".", "", 1).isdigit():
            return timedelta(seconds=float(text))
        if not text.startswith("p"):  # ISO 8601 (`PT5M`) is left to pydantic
            raise ValueError(
                f"invalid duration '{value}': use seconds (300) or a form like 90s, 5m, 1h30m, 2d"
            )
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*)+$"},
                {"type": "string", "format": "duration"},
            ],
            "description": "Seconds, or a duration such as 90s, 5m, 1h30m, 2d.",
        }
    ),
]


def format_duration(value: timedelta) -> str:
    """`timedelta(seconds=5400)` -> `1h30m`: the short form users write."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


PositiveInt = Annotated[int, Field(ge=1)]
Tags = Annotated[list[str], Field(default_factory=list, description="Free-form labels.")]
Description = Annotated[str | None, Field(default=None, description="What this is for.")]
