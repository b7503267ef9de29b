"""The validated project: every config object by kind and name, where each came from, and lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.config.models import (
    KINDS,
    CheckSuite,
    Destination,
    Job,
    Pipeline,
    ProjectConfig,
    SecretSpec,
    Source,
    Target,
    Trigger,
    Warehouse,
)
from datakit.config.yaml_source import YamlDocument
from datakit.errors import Problem, not_found

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Origin:
    """Where an object was defined: its file and its (overlaid) body with positions."""

    kind: str
    doc: YamlDocument

    @property
    def file(self) -> Path:
        return self.doc.path


@dataclass(frozen=True)
class InactiveOverlay:
    """An object as another environment would see it, kept so its references are checked too."""

    environment: str
    model: Any
    origin: Origin
    positions: frozenset[tuple[int | None, int | None]]
    """Positions written in the overlay itself: only problems there are the overlay's own."""


@dataclass
class Project:
    """A loaded, validated datakit project for one environment."""

    root: Path
    environment: str
    config: ProjectConfig
    config_file: Path | None
    config_origin: Origin | None = None
    objects: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {k: {} for k in KINDS if KINDS[k].named}
    )
    secrets: dict[str, SecretSpec] = field(default_factory=dict)
    secrets_origin: dict[str, Origin] = field(default_factory=dict)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    inactive_overlays: list[InactiveOverlay] = field(default_factory=list)

    @property
    def sources(self) -> dict[str, Source]:
        return self.objects["source"]

    @property
    def destinations(self) -> dict[str, Destination]:
        return self.objects["destination"]

    @property
    def pipelines(self) -> dict[str, Pipeline]:
        return self.objects["pipeline"]

    @property
    def jobs(self) -> dict[str, Job]:
        return self.objects["job"]

    @property
    def triggers(self) -> dict[str, Trigger]:
        return self.objects["trigger"]

    @property
    def warehouses(self) -> dict[str, Warehouse]:
        return self.objects["warehouse"]

    @property
    def check_suites(self) -> dict[str, CheckSuite]:
        return self.objects["checks"]

    @property
    def targets(self) -> dict[str, Target]:
        return self.objects["target"]

    @property
    def config_dir(self) -> Path:
        return self.root / self.config.paths.config

    def path(self, relative: str | Path) -> Path:
        """A path from the YAML (relative to the project root) made absolute."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    def resolve_name(self, kind: str, ref: str) -> str | None:
        """The name a reference points at: an object's name, or the file it is defined in (`x.yaml`)."""
        objects = self.objects[kind]
        if ref in objects:
            return ref
        if ref.endswith(YAML_SUFFIXES):
            for name in objects:
                origin = self.origins[(kind, name)]
                if origin.file.name == ref or origin.file.as_posix().endswith("/" + ref.lstrip("./")):
                    return name
        return None

    def get(self, kind: str, ref: str) -> Any:
        """The object `ref` names; a NotFoundError with a suggestion when there is none."""
        name = self.resolve_name(kind, ref)
        if name is None:
            raise not_found(kind, ref, self.objects[kind])
        return self.objects[kind][name]

    def source(self, ref: str) -> Source:
        return self.get("source", ref)  # type: ignore[no-any-return]

    def destination(self, ref: str) -> Destination:
        return self.get("destination", ref)  # type: ignore[no-any-return]

    def pipeline(self, ref: str) -> Pipeline:
        return self.get("pipeline", ref)  # type: ignore[no-any-return]

    def job(self, ref: str) -> Job:
        return self.get("job", ref)  # type: ignore[no-any-return]

    def trigger(self, ref: str) -> Trigger:
        return self.get("trigger", ref)  # type: ignore[no-any-return]

    def warehouse(self, ref: str) -> Warehouse:
        return self.get("warehouse", ref)  # type: ignore[no-any-return]

    def check_suite(self, ref: str) -> CheckSuite:
        """The check suite `ref` names (the kind's key is `checks`; messages say `check suite`)."""
        name = self.resolve_name("checks", ref)
        if name is None:
            raise not_found("check suite", ref, self.check_suites)
        return self.check_suites[name]
