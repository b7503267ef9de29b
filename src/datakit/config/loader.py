"""Load a project: discover every YAML file, validate each, then check what ties them together.

Every problem of the whole project is collected and reported in one run; a file that fails does not
stop the others. Problems come back located (`file:line:col: kind.field: message`), sorted by file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from datakit.config.environment import TENANT_VARIABLES, current_environment, interpolate, merge_overlay
from datakit.config.models import ENVIRONMENTS, KINDS, PROJECT_KIND, Kind, ProjectConfig
from datakit.config.models.common import name_from_folder
from datakit.config.project import YAML_SUFFIXES, InactiveOverlay, Origin, Project
from datakit.config.pydantic_problems import problems_from_validation_error
from datakit.config.references import SECRETS_UNREADABLE, check_project, in_environment
from datakit.config.secrets import mask_declared_values
from datakit.config.yaml_source import YamlDocument, YamlProblem, read_yaml
from datakit.errors import DatakitError, Problem, ProblemList, UsageError, did_you_mean

PROJECT_FILE = "datakit.yaml"
OVERLAYS = "environments"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding a datakit.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise UsageError(
        f"no {PROJECT_FILE} found in {here} or any parent directory",
        hint="run inside a datakit project, pass --project DIR, or create one with `datakit init DIR`",
    )


def project_dir(path: Path | None) -> Path:
    """`--project DIR` (which may hold only config/, as seed 002 projects do) or the nearest project."""
    if path is None:
        return find_project_root()
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"project directory {path} does not exist")
    if not (root / PROJECT_FILE).is_file() and not (root / "config").is_dir():
        raise UsageError(
            f"{path} is not a datakit project (no {PROJECT_FILE} and no config/ folder)",
            hint="create one with `datakit init DIR`",
        )
    return root


@dataclass
class Validation:
    """The outcome of validating a project: the project (when usable) and every problem found."""

    project: Project | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def load_project(
    root: Path | None = None,
    *,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    warehouse: str | None = None,
) -> Project:
    """The validated project; raises ConfigError listing every problem when it is invalid.

    With `warehouse`, as that tenant sees it: `${var.NAME}` in any config is the warehouse's variable
    (its `variables:`, `tenant` and `schema_prefix`). Loaded twice: once to read the warehouse file.
    """
    if warehouse is not None:
        base = load_project(root, environment=environment, environ=environ)
        environ = tenant_environ(base, warehouse, os.environ if environ is None else environ)
    validation = validate_project(root, environment=environment, environ=environ)
    problems = ProblemList(validation.problems)
    problems.raise_if_errors()
    assert validation.project is not None
    return validation.project


def validate_project(
    root: Path | None = None,
    *,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    check_secrets: bool = False,
    check_warehouses: bool = False,
) -> Validation:
    """Validate every file of the project at `root` for one environment, collecting all problems.

    `check_warehouses` also loads the project as each warehouse sees it, when configs use `${var.NAME}`
    (what `datakit validate` does; a run loads only its own warehouse's view).
    """
    root = project_dir(root)
    env_vars: Mapping[str, str] = os.environ if environ is None else environ
    problems = ProblemList()

    origins: dict[str, Origin] = {}
    inactive: list[InactiveOverlay] = []
    config, config_file, env = _project_config(root, environment, env_vars, problems, origins, inactive)
    project = Project(
        root=root,
        environment=env,
        config=config,
        config_file=config_file,
        config_origin=origins.get("project"),
        inactive_overlays=inactive,
    )
    broken: dict[str, set[str]] = {key: set() for key in KINDS}
    for path in discover(project.config_dir):
        _load_file(project, path, env_vars, problems, broken)

    mask_declared_values(project, env_vars)
    problems.extend(check_project(project, broken, check_secrets=check_secrets, environ=env_vars))
    if check_warehouses and not problems.errors and TENANT_VARIABLES not in env_vars:
        problems.extend(_tenant_variable_problems(project, env_vars))
    project.warnings = problems.warnings
    return Validation(project=project, problems=problems.sorted())


def validate_file(
    path: Path,
    text: str | None = None,
    *,
    environment: str = "dev",
    environ: Mapping[str, str] | None = None,
) -> tuple[Kind | None, list[Problem]]:
    """One config file on its own: its kind and the problems of its syntax, model and overlays.

    The kind is the file's top-level key (`datakit.yaml` by its name). References to other files are not
    checked, so a file can be validated without its project: the examples of the documentation are.
    """
    env_vars: Mapping[str, str] = {} if environ is None else environ
    problems = ProblemList()
    try:
        doc = read_yaml(path, text)
    except YamlProblem as exc:
        return None, [exc.problem]
    kind: Kind
    if path.name == PROJECT_FILE:
        kind = PROJECT_KIND
        data = doc.data if isinstance(doc.data, dict) else {}
        body = YamlDocument(
            path=path,
            data={k: v for k, v in data.items() if k != OVERLAYS},
            key_positions=doc.key_positions,
            value_positions=doc.value_positions,
        )
    else:
        found = _kind_of(doc, problems)
        if found is None:
            return None, problems.sorted()
        kind, body = found, doc.subtree((found.key,))
    _validate_body(doc, body, kind, environment, env_vars, problems, [])
    return kind, problems.sorted()


def tenant_environ(project: Project, warehouse: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus the warehouse's variables as `var.NAME` (what `${var.NAME}` reads)."""
    from datakit.config.tenancy import tenant_context

    variables = tenant_context(project, warehouse).dbt_vars()
    return {
        **environ,
        TENANT_VARIABLES: warehouse,
        **{f"{TENANT_VARIABLES}{k}": str(v) for k, v in variables.items()},
    }


def _tenant_variable_problems(project: Project, environ: Mapping[str, str]) -> list[Problem]:
    """`${var.NAME}` a warehouse does not define, found now rather than when its run loads the project.

    Only when some config uses `${var.`: then the project is validated once per warehouse.
    """
    import dataclasses

    uses = any("${var." in path.read_text(encoding="utf-8") for path in discover(project.config_dir))
    if not uses:
        return []
    found: list[Problem] = []
    for name in project.warehouses:
        try:
            tenant = tenant_environ(project, name, environ)
        except DatakitError:
            continue  # the warehouse's own problem is reported by the checks above
        for problem in validate_project(
            project.root, environment=project.environment, environ=tenant
        ).problems:
            if problem.message.startswith("warehouse variable"):
                found.append(dataclasses.replace(problem, message=f"{problem.message} (warehouse '{name}')"))
    return found


def discover(config_dir: Path) -> list[Path]:
    """Every YAML file below config/, in a stable order; hidden files and folders are skipped."""
    if not config_dir.is_dir():
        return []
    found = [
        p
        for p in config_dir.rglob("*")
        if p.suffix in YAML_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(config_dir).parts)
    ]
    return sorted(found)


def _project_config(
    root: Path,
    environment: str | None,
    environ: Mapping[str, str],
    problems: ProblemList,
    origins: dict[str, Origin],
    inactive: list[InactiveOverlay],
) -> tuple[ProjectConfig, Path | None, str]:
    path = root / PROJECT_FILE
    fallback = ProjectConfig(name=name_from_folder(root.name, "project"))
    if not path.is_file():
        return fallback, None, current_environment("dev", environ, environment)
    try:
        doc = read_yaml(path)
    except YamlProblem as exc:
        problems.add(exc.problem)
        return fallback, path, current_environment("dev", environ, environment)
    default = doc.data.get("default_environment") if isinstance(doc.data, dict) else None
    env = current_environment(default if default in ENVIRONMENTS else "dev", environ, environment)
    if not isinstance(doc.data, dict):
        problems.add(
            Problem("expected a mapping of project settings (name: ...)", file=path, line=1, column=1)
        )
        return fallback, path, env
    body = YamlDocument(
        path=path,
        data={k: v for k, v in doc.data.items() if k != OVERLAYS},
        key_positions=doc.key_positions,
        value_positions=doc.value_positions,
    )
    model, merged = _validate_body(doc, body, PROJECT_KIND, env, environ, problems, inactive)
    origins[PROJECT_KIND.key] = Origin(PROJECT_KIND.key, merged)
    return (model if isinstance(model, ProjectConfig) else fallback), path, env


def _load_file(
    project: Project,
    path: Path,
    environ: Mapping[str, str],
    problems: ProblemList,
    broken: dict[str, set[str]],
) -> None:
    try:
        doc = read_yaml(path)
    except YamlProblem as exc:
        problems.add(exc.problem)
        _mark_broken(broken, path)
        return
    kind = _kind_of(doc, problems)
    if kind is None:
        _mark_broken(broken, path)
        return
    _check_folder(project, path, kind, problems)
    body = doc.subtree((kind.key,))
    inactive = project.inactive_overlays
    model, merged = _validate_body(doc, body, kind, project.environment, environ, problems, inactive)
    if model is None:
        name = body.data.get("name") if isinstance(body.data, dict) else None
        if isinstance(name, str):
            broken[kind.key].add(name)
        broken[kind.key].update((path.name, path.stem))
        if not kind.named:
            broken["secrets"].add(SECRETS_UNREADABLE)
        return
    if kind.named:
        _add_named(project, kind, model, Origin(kind.key, merged), problems)
    else:
        _add_secrets(project, model, Origin(kind.key, merged), problems)


def _mark_broken(broken: dict[str, set[str]], path: Path) -> None:
    """A file we could not read may define anything: references to its name or file are not re-reported."""
    for names in broken.values():
        names.update((path.name, path.stem))
    if path.name.startswith("secrets") or path.parent.name not in {k.folder for k in KINDS.values()}:
        broken["secrets"].add(SECRETS_UNREADABLE)


def _kind_of(doc: YamlDocument, problems: ProblemList) -> Kind | None:
    expected = ", ".join(KINDS)
    if doc.data is None:
        problems.add(
            Problem(f"empty file: expected one top-level key ({expected})", file=doc.path, line=1, column=1)
        )
        return None
    if not isinstance(doc.data, dict):
        line, column = doc.position(())
        problems.add(
            Problem(
                f"expected a mapping with one top-level key ({expected})",
                file=doc.path,
                line=line,
                column=column,
            )
        )
        return None
    kinds: list[Kind] = []
    for key in doc.data:
        if key in KINDS:
            kinds.append(KINDS[key])
        elif key != OVERLAYS:
            line, column = doc.key_position((key,))
            hint = did_you_mean(key, [*KINDS, OVERLAYS]) or f"expected one of: {expected}, {OVERLAYS}"
            problems.add(
                Problem(
                    f"unknown top-level key '{key}'", file=doc.path, line=line, column=column, suggestion=hint
                )
            )
    if len(kinds) > 1:
        line, column = doc.key_position((kinds[1].key,))
        problems.add(
            Problem(
                f"one object per file: found both '{kinds[0].key}' and '{kinds[1].key}'",
                file=doc.path,
                line=line,
                column=column,
                suggestion=f"move the {kinds[1].key} to its own file in config/{kinds[1].folder}/",
            )
        )
        return None
    if not kinds:
        if all(key == OVERLAYS for key in doc.data):
            problems.add(
                Problem(
                    f"no object in this file: expected one of {expected}", file=doc.path, line=1, column=1
                )
            )
        return None
    if OVERLAYS in doc.data and not kinds[0].named:
        line, column = doc.key_position((OVERLAYS,))
        problems.add(
            Problem(
                f"'{OVERLAYS}' overlays are not used in the secrets mapping",
                file=doc.path,
                line=line,
                column=column,
                suggestion="declare env_var_dev/env_var_stage/env_var_prod per secret instead",
            )
        )
    return kinds[0]


def _check_folder(project: Project, path: Path, kind: Kind, problems: ProblemList) -> None:
    """Kinds are read from the top-level key; a file in another kind's folder is probably misplaced."""
    folders = {k.folder: k for k in KINDS.values() if k.folder}
    try:
        first = path.relative_to(project.config_dir).parts[0]
    except (ValueError, IndexError):
        return
    if first in folders and folders[first] is not kind:
        problems.add(
            Problem(
                f"a {kind.key} in config/{first}/",
                file=path,
                line=1,
                column=1,
                kind=kind.key,
                suggestion=f"move it to config/{kind.folder}/",
                severity="warning",
            )
        )


def _validate_body(
    doc: YamlDocument,
    body: YamlDocument,
    kind: Kind,
    env: str,
    environ: Mapping[str, str],
    problems: ProblemList,
    inactive: list[InactiveOverlay],
) -> tuple[Any | None, YamlDocument]:
    """Overlay the active environment, interpolate `${VAR}`, and validate against the kind's model.

    Other environments' overlays that validate are appended to `inactive` for the cross-file checks.
    """
    overlays = _overlays(doc, kind, problems) if kind.named or kind is PROJECT_KIND else {}
    merged = merge_overlay(body, overlays[env]) if env in overlays else body
    data, interpolation_problems = interpolate(merged, environ, kind.key)
    merged = YamlDocument(merged.path, data, merged.key_positions, merged.value_positions)
    problems.extend(interpolation_problems)
    model = None
    try:
        model = kind.adapter.validate_python(data)
    except ValidationError as exc:
        # An unset ${VAR} already has its problem; the placeholder failing validation is no news.
        unset = {(p.line, p.column) for p in interpolation_problems}
        found = problems_from_validation_error(exc, merged, kind)
        problems.extend(p for p in found if (p.line, p.column) not in unset)
    for other, overlay in overlays.items():
        if other != env and model is not None:  # while the base is invalid, overlay errors are noise
            problems.extend(_overlay_problems(body, overlay, kind, other, environ, inactive))
    return (None if interpolation_problems else model), merged


def _overlays(doc: YamlDocument, kind: Kind, problems: ProblemList) -> dict[str, YamlDocument]:
    if not isinstance(doc.data, dict) or OVERLAYS not in doc.data:
        return {}
    raw = doc.data[OVERLAYS]
    if not isinstance(raw, dict):
        line, column = doc.position((OVERLAYS,))
        problems.add(
            Problem(
                "expected a mapping of environment name -> overrides",
                file=doc.path,
                line=line,
                column=column,
                kind=OVERLAYS,
            )
        )
        return {}
    overlays: dict[str, YamlDocument] = {}
    for env, overlay in raw.items():
        line, column = doc.key_position((OVERLAYS, env))
        if env not in ENVIRONMENTS:
            hint = did_you_mean(env, ENVIRONMENTS) or f"environments are: {', '.join(ENVIRONMENTS)}"
            problems.add(
                Problem(
                    f"unknown environment '{env}'",
                    file=doc.path,
                    line=line,
                    column=column,
                    kind=OVERLAYS,
                    field=env,
                    suggestion=hint,
                )
            )
        elif not isinstance(overlay, dict):
            problems.add(
                Problem(
                    f"overrides for '{env}' must be a mapping like the {kind.key} itself",
                    file=doc.path,
                    line=line,
                    column=column,
                    kind=OVERLAYS,
                    field=env,
                )
            )
        else:
            overlays[env] = doc.subtree((OVERLAYS, env))
    return overlays


def _overlay_problems(
    body: YamlDocument,
    overlay: YamlDocument,
    kind: Kind,
    env: str,
    environ: Mapping[str, str],
    inactive: list[InactiveOverlay],
) -> list[Problem]:
    """Problems an inactive environment's overlay introduces (so a prod typo is caught in dev).

    Shape problems are reported here; an overlay that validates is kept on the project so that the
    cross-file checks (references, secrets) see it too, once every file is loaded.
    """
    merged = merge_overlay(body, overlay)
    data, _ = interpolate(merged, environ, kind.key, report_missing=False)
    inside = frozenset(overlay.key_positions.values()) | frozenset(overlay.value_positions.values())
    merged = YamlDocument(merged.path, data, merged.key_positions, merged.value_positions)
    try:
        model = kind.adapter.validate_python(data)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, merged, kind)
        return [in_environment(p, env) for p in found if (p.line, p.column) in inside]
    inactive.append(InactiveOverlay(env, model, Origin(kind.key, merged), inside))
    return []


def _add_named(project: Project, kind: Kind, model: Any, origin: Origin, problems: ProblemList) -> None:
    name: str = model.name
    objects = project.objects[kind.key]
    if name in objects:
        first = project.origins[(kind.key, name)]
        line, column = origin.doc.position(("name",))
        first_line = first.doc.position(("name",))[0]
        problems.add(
            Problem(
                f"duplicate {kind.key} name '{name}' (also defined in {first.file.name}:{first_line})",
                file=origin.file,
                line=line,
                column=column,
                kind=kind.key,
                field="name",
                suggestion=f"names are unique per kind; rename one of the {kind.key}s",
            )
        )
        return
    objects[name] = model
    project.origins[(kind.key, name)] = origin


def _add_secrets(project: Project, model: Any, origin: Origin, problems: ProblemList) -> None:
    for key, spec in model.items():
        if key in project.secrets:
            first = project.secrets_origin[key]
            first_line = first.doc.key_position((key,))[0]
            line, column = origin.doc.key_position((key,))
            problems.add(
                Problem(
                    f"secret '{key}' is declared twice (also in {first.file.name}:{first_line})",
                    file=origin.file,
                    line=line,
                    column=column,
                    kind="secrets",
                    field=key,
                )
            )
            continue
        project.secrets[key] = spec
        project.secrets_origin[key] = origin
