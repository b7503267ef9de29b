"""`datakit validate`'s checks of what pipelines ask of datakits: the package, its tables, its transforms.

The config layer cannot see datakits (they are Python packages, imported here), so these checks run
after the YAML ones and report at the YAML field that names the missing thing, with a did-you-mean,
exactly as the loader would fail on it — but before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from datakit.config.environment import format_loc
from datakit.config.models.sources import Resource
from datakit.config.project import Origin, Project
from datakit.config.yaml_source import PathKey
from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.package import Datakit, datakit_names, datakits_dir, load_datakit
from datakit.datakits.targets import unbound_datakit
from datakit.errors import DatakitError, Problem, did_you_mean


def check_datakit_references(project: Project) -> list[Problem]:
    """Problems with the datakits, tables and transforms the project's pipelines name, and its pins."""
    problems: list[Problem] = check_pins(project)
    for name, pipeline in sorted(project.pipelines.items()):
        origin = project.origins[("pipeline", name)]
        source_name = project.resolve_name("source", pipeline.source.ref)
        source = project.sources.get(source_name) if source_name else None
        kit_name = pipeline.datakit or None
        ambiguity = unbound_datakit(project, pipeline, source.name) if source is not None else None
        if ambiguity is not None:
            problems.append(_problem(origin, ("name",), ambiguity))
            continue
        kit: Datakit | None = None
        if kit_name is not None:
            try:
                kit = load_datakit(project, kit_name)
            except DatakitError as exc:
                if not _at_pin(project, exc):  # a broken pin is reported once, at the pin
                    problems.append(_problem(origin, ("datakit",), _unknown_datakit(project, kit_name, exc)))
                continue
        if source is None:
            continue
        source_origin = project.origins[("source", source.name)]
        wanted = set(pipeline.source.resources)
        layer = pipeline.destination.layer
        for index, resource in enumerate(source.resources):
            if not wanted or resource.name in wanted:
                problems.extend(_resource_problems(source_origin, index, resource, kit, layer))
    return list(dict.fromkeys(problems))  # pipelines sharing a source would repeat its problems


def _resource_problems(
    origin: Origin, index: int, resource: Resource, kit: Datakit | None, layer: str
) -> Iterator[Problem]:
    contract, transform = resource.contract, resource.transform
    at: PathKey = ("resources", index)
    if kit is None:
        if transform:
            yield _problem(
                origin,
                (*at, "transform"),
                DatakitError(
                    f"transform '{transform}' needs a datakit, and the pipeline uses none",
                    hint="set `datakit:` in the pipeline to the datakit that registers it",
                ),
            )
        return
    if contract and not kit.has_table(contract, layer) and not kit.has_table(contract, "source"):
        try:
            kit.table(contract, layer)
        except DatakitPackageError as exc:
            yield _problem(origin, (*at, "contract"), exc)
    if transform and transform not in kit.transforms:
        try:
            kit.transform(transform)
        except DatakitPackageError as exc:
            yield _problem(origin, (*at, "transform"), exc)


def check_pins(project: Project) -> list[Problem]:
    """Each pinned datakit must be installed at a version its pin accepts, and not also be a folder."""
    from datakit.datakits.pins import pinned_installed, pins

    problems: list[Problem] = []
    folders = set(datakit_names(datakits_dir(project)))
    for name, pin in pins(project).items():
        message, hint = None, None
        if name in folders:
            message = (
                f"datakit {name!r} is pinned here and is also the folder "
                f"{datakits_dir(project).name}/{name}: which one would the project use?"
            )
            hint = "remove the pin to use the folder, or the folder to use the installed package"
        else:
            try:
                pinned_installed(project, name)
            except DatakitPackageError as exc:
                message, hint = exc.detail, exc.hint
        if message is not None:
            problems.append(
                Problem(
                    message,
                    file=pin.file,
                    line=pin.line,
                    column=pin.column,
                    kind="project",
                    field=f"datakits.{name}",
                    suggestion=hint,
                )
            )
    return problems


def _at_pin(project: Project, error: DatakitError) -> bool:
    file = getattr(error, "file", None)
    return file is not None and project.config_file is not None and file == project.config_file


def _unknown_datakit(project: Project, name: str, error: DatakitError) -> DatakitError:
    known = datakit_names(datakits_dir(project))
    if name in known or "is installed" in (error.hint or ""):
        return error  # it exists but does not import (or is installed, not pinned): say why
    hint = did_you_mean(name, known) or (
        f"datakits in {datakits_dir(project).name}/: {', '.join(known)}"
        if known
        else "create one with `datakit reflect --source <name> --out datakits/<name>`"
    )
    return DatakitError(f"unknown datakit '{name}'", hint=hint)


def _problem(origin: Origin, loc: PathKey, error: DatakitError) -> Problem:
    line, column = origin.doc.position(loc)
    return Problem(
        error.message,
        file=origin.file,
        line=line,
        column=column,
        kind=origin.kind,
        field=format_loc(loc) or None,
        suggestion=error.hint,
    )
