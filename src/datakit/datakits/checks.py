"""`datakit validate`'s checks of what pipelines ask of datakits: the package, its tables, its transforms.

The config layer cannot see datakits (they are Python packages, imported here), so these checks run
after the YAML ones and report at the YAML field that names the missing thing, with a did-you-mean,
exactly as the loader would fail on it — but before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from datakit.config.environment import format_loc
from datakit.config.models.sources import Resource
from datakit.config.models.targets import Target
from datakit.config.project import Origin, Project
from datakit.config.yaml_source import PathKey
from datakit.datakits.consolidation import Binding
from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.package import Datakit, DatakitTable, datakit_names, datakits_dir, load_datakit
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
    problems.extend(check_targets(project))
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


# -- consolidated targets (`target:`) -------------------------------------------------------------------


@dataclass(frozen=True)
class _Bound:
    """A pipeline's resource and the datakit table it loads into."""

    pipeline: str
    source: str
    destination: str
    layer: str
    dataset: str | None
    binding: Binding


def check_targets(project: Project) -> list[Problem]:
    """Each target names a datakit table that fits its rule and is loaded by every pipeline it lists;
    pipelines of different sources loading one table are covered by a target."""
    bound = _bindings(project)
    problems: list[Problem] = []
    for name, target in sorted(project.targets.items()):
        problems.extend(_target_problems(project, project.origins[("target", name)], target, bound))
    problems.extend(_uncovered(project, bound))
    return problems


def _bindings(project: Project) -> list[_Bound]:
    from datakit.datakits.consolidation import resource_binding
    from datakit.datakits.targets import pipeline_datakit

    found: list[_Bound] = []
    for pipeline in project.pipelines.values():
        source_name = project.resolve_name("source", pipeline.source.ref)
        if source_name is None:
            continue
        try:
            kit = pipeline_datakit(project, pipeline, source_name)
        except DatakitError:
            continue  # reported by check_datakit_references
        wanted = set(pipeline.source.resources)
        layer = pipeline.destination.layer
        for resource in project.sources[source_name].resources:
            if wanted and resource.name not in wanted:
                continue
            binding = resource_binding(kit, resource, layer)
            if binding is not None:
                destination = project.resolve_name("destination", pipeline.destination.ref)
                found.append(
                    _Bound(
                        pipeline.name,
                        source_name,
                        destination or pipeline.destination.ref,
                        layer,
                        pipeline.destination.dataset_name,
                        binding,
                    )
                )
    return found


def _target_problems(
    project: Project, origin: Origin, target: Target, bound: list[_Bound]
) -> Iterator[Problem]:
    from datakit.datakits.consolidation import check_rule, target_table

    listed = [(i, project.resolve_name("pipeline", ref)) for i, ref in enumerate(target.pipelines)]
    pipelines = [(i, project.pipelines[name]) for i, name in listed if name is not None]
    layers = sorted({p.destination.layer for _, p in pipelines})
    if len(layers) > 1:
        yield _problem(
            origin,
            ("pipelines",),
            DatakitError(
                f"the pipelines of target {target.name!r} load different layers ({', '.join(layers)})",
                hint="a target is one table: list pipelines that load the same layer",
            ),
        )
        return
    layer = layers[0] if layers else "bronze"
    try:
        kit, table = target_table(project, target, layer)
    except DatakitError as exc:
        at = "table" if target.datakit in _known_datakits(project) else "datakit"
        error = _unknown_datakit(project, target.datakit, exc) if at == "datakit" else exc
        yield _problem(origin, (at,), error)
        return
    rule = check_rule(target, table)
    if rule is not None:
        at = "provenance" if "provenance column" in rule.detail else "key_collisions"
        yield _problem(origin, (at,), rule)
    for index, pipeline in pipelines:
        if not any(b.pipeline == pipeline.name and _same(b.binding, kit.name, table) for b in bound):
            yield _problem(
                origin,
                ("pipelines", index),
                DatakitError(
                    f"pipeline {pipeline.name!r} loads no resource into {kit.name}.{table.key}",
                    hint=f"give a resource of its source a `transform:` that returns {kit.name}'s "
                    f"{table.key} model (`requires({kit.name!r})`), or remove it from the list",
                ),
            )


def _uncovered(project: Project, bound: list[_Bound]) -> Iterator[Problem]:
    """Pipelines of different sources loading one table, not all listed by one target of that table."""
    from datakit.datakits.consolidation import target_for

    groups: dict[tuple[str, str, str | None, str, str], list[_Bound]] = {}
    for item in bound:
        key = (item.destination, item.layer, item.dataset, item.binding.kit.name, item.binding.table.key)
        groups.setdefault(key, []).append(item)
    for (destination, _, _, kit, table), items in sorted(groups.items()):
        if len({item.source for item in items}) < 2:
            continue
        for item in items:
            pipeline = project.pipelines[item.pipeline]
            if target_for(project, pipeline, item.binding) is not None:
                continue
            other = next(o for o in items if o.source != item.source)
            existing = [t for t in project.targets.values() if t.datakit == kit and t.table == table]
            hint = (
                f"add {item.pipeline!r} to the pipelines of target {existing[0].name!r}"
                if existing
                else f"declare a target (config/targets/*.yaml) with `datakit: {kit}`, `table: {table}`, "
                "`key_collisions: source_key` or `precedence`, listing these pipelines"
            )
            yield _problem(
                project.origins[("pipeline", item.pipeline)],
                ("destination",),
                DatakitError(
                    f"pipeline {item.pipeline!r} (source {item.source!r}) loads {kit}.{table} into "
                    f"destination {destination!r}, as pipeline {other.pipeline!r} does from source "
                    f"{other.source!r}: without a declared rule one source's rows would overwrite the "
                    "other's on equal keys",
                    hint=hint,
                ),
            )


def _same(binding: Binding, kit: str, table: DatakitTable) -> bool:
    return binding.kit.name == kit and binding.table.key == table.key and binding.layer == table.layer


def _known_datakits(project: Project) -> set[str]:
    return {*datakit_names(datakits_dir(project)), *project.config.datakits}
