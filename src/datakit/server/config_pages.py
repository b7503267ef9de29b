"""The configuration, seen: a page per kind of object — what `datakit list` knows, where each object is
written (file:line, from the project root), and the links between them (job -> pipelines -> source and
destination, trigger -> job, warehouse -> destinations and jobs, check suite -> destination) — and the
problems of the project as it is on disk now, found by the rules of `datakit validate`.

On disk now, not as loaded: each request validates the files afresh, so a page shows an edit (and its
mistakes) at once; the daemon itself runs the configuration it loaded at start, until restarted, and the
page says so when the two differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datakit.config.listing import describe_project
from datakit.config.loader import validate_project
from datakit.config.project import Project
from datakit.errors import Problem
from datakit.server.render import Renderer

KINDS: dict[str, tuple[str, str]] = {
    # page -> (key in `describe_project`, origin kind)
    "sources": ("sources", "source"),
    "destinations": ("destinations", "destination"),
    "pipelines": ("pipelines", "pipeline"),
    "jobs": ("jobs", "job"),
    "triggers": ("triggers", "trigger"),
    "warehouses": ("warehouses", "warehouse"),
    "checks": ("check_suites", "checks"),
}
LINKS: dict[str, str] = {
    # a field of an object -> the page of the kind it names
    "source": "sources",
    "destination": "destinations",
    "destinations": "destinations",
    "pipelines": "pipelines",
    "job": "jobs",
    "jobs": "jobs",
}


def config_routes(project: Project, renderer: Renderer) -> list[Route]:
    pages = _ConfigPages(project, renderer)
    return [
        Route("/config", pages.overview, methods=["GET"], name="config"),
        Route("/config/{kind}", pages.kind, methods=["GET"], name="config_kind"),
    ]


@dataclass(frozen=True)
class Shown:
    """A problem as the page shows it: where (from the project root), what, and what to do."""

    location: str
    subject: str
    message: str
    suggestion: str | None
    severity: str


@dataclass(frozen=True)
class OnDisk:
    """The project as its files are now: described (as `datakit list`), with every problem."""

    description: dict[str, Any]
    problems: list[Shown]
    lines: dict[tuple[str, str], str]
    """(origin kind, name) -> `path:line` of the object's `name:` key."""


def read_on_disk(served: Project) -> OnDisk:
    """Validate the served project's folder afresh (same environment, same rules as `datakit validate`)."""
    result = validate_project(served.root, environment=served.environment, check_warehouses=True)
    project = result.project or served
    if result.ok:  # datakits are Python: imported only once the YAML is sound
        from datakit.datakits.checks import check_datakit_references

        result.problems.extend(check_datakit_references(project))
    lines = {
        key: f"{_relative(origin.file, project.root)}:{origin.doc.key_position(('name',))[0]}"
        for key, origin in project.origins.items()
    }
    problems = [_shown(p, project.root) for p in sorted(result.problems, key=Problem.sort_key)]
    return OnDisk(describe_project(project), problems, lines)


def _shown(problem: Problem, root: Path) -> Shown:
    location = ""
    if problem.file is not None:
        location = _relative(problem.file, root)
        if problem.line is not None:
            location += f":{problem.line}" + (f":{problem.column}" if problem.column is not None else "")
    return Shown(location, problem.subject, problem.message, problem.suggestion, problem.severity)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


class _ConfigPages:
    def __init__(self, project: Project, renderer: Renderer) -> None:
        self.project = project
        self.renderer = renderer

    async def overview(self, request: Request) -> Response:
        disk = await run_in_threadpool(read_on_disk, self.project)
        counts = {page: len(disk.description[key]) for page, (key, _) in KINDS.items()}
        return self.renderer.render(request, "config.html", disk=disk, counts=counts, kinds=KINDS)

    async def kind(self, request: Request) -> Response:
        page: str = request.path_params["kind"]
        if page not in KINDS:
            from datakit.errors import did_you_mean

            hint = did_you_mean(page, KINDS) or f"one of {', '.join(KINDS)}"
            return self.renderer.error(request, 404, "Not found", f"no configuration page {page!r}: {hint}")
        disk = await run_in_threadpool(read_on_disk, self.project)
        key, origin_kind = KINDS[page]
        objects = disk.description[key]
        at = {obj["name"]: disk.lines.get((origin_kind, obj["name"]), obj.get("file", "")) for obj in objects}
        mine = [p for p in disk.problems if p.subject.split(".")[0] == origin_kind]
        return self.renderer.render(
            request,
            "config_kind.html",
            page=page,
            objects=objects,
            at=at,
            links=LINKS,
            kinds=KINDS,
            problems=mine,
            all_problems=len(disk.problems),
        )
