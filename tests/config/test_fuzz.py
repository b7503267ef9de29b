"""Property tests: mutated versions of valid projects fail only with datakit's own, located errors.

The base projects are read once; each example lays its mutated files out as a project on disk (see
`Workspace`) and validates it. Mutations work on the text (characters, lines, indentation, tabs, explicit
tags, truncation) and on the data (drop or add keys, values of other types, renamed kinds, emptied files).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from datakit.config import load_project, validate_project
from datakit.config.models import KINDS
from datakit.errors import ConfigError, DatakitError, Problem

REPO = Path(__file__).resolve().parents[2]
BASE_DIRS = {"pagila": REPO / "examples" / "pagila", "seed002": REPO / "tests" / "fixtures" / "seed002"}
BASE_ENVIRON = {
    "pagila": {},
    "seed002": {"MY_API_TOKEN_DEV": "t", "MY_API_TOKEN_STAGE": "t", "MY_API_TOKEN_PROD": "t"},
}
ENVIRONMENTS = [None, "dev", "stage", "prod"]
# One bug at a time, and no explain phase: shrinking and explaining every distinct failure of a broken
# build takes minutes; shrinking one takes seconds.
FUZZ_SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _read_base(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*.yaml"))
        if p.is_file()
    }


BASES: dict[str, dict[str, str]] = {name: _read_base(root) for name, root in BASE_DIRS.items()}

# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------

YAML_TOKENS = [
    ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "'", '"', "#", "&a ", "*a", "!!str ", "!!python/none ",
    "|", ">", "%", "@", "`", "?", "\\", "\t", "\n", " ", "  ", "${", "${X}", "${1BAD}", "$${X}", "}",
    "~", "null", "yes", "on", "0x1F", "1e400", "é", "\u2028", "\ufeff", "\x00", "\x1b", "<<: *a", "---",
    "...", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!null ", "!!map ", "!!seq ",
]  # fmt: skip
# Explicit tags make PyYAML's constructors run on whatever scalar follows them.
TAGS = ["!!int", "!!float", "!!bool", "!!timestamp", "!!binary", "!!null", "!!str", "!!map", "!!seq", "!!set",
        "!!omap", "!!python/object", "!custom", "!<tag:yaml.org,2002:int>"]  # fmt: skip

snippets = st.one_of(
    st.sampled_from(YAML_TOKENS),
    st.lists(st.sampled_from(YAML_TOKENS), min_size=1, max_size=4).map("".join),
    st.text(max_size=8),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 10**30, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "${X}", "${X:-1}", "${1BAD}", "$${X}", "0 2 * * *", "5m", "-1s", "é✓𝔘", "\u0085"]
    ),
)
keys = st.one_of(
    st.sampled_from(["name", "type", "connection", "resources", "schedule", "environments", "prod", "x"]),
    st.text(min_size=1, max_size=10),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)),
    max_leaves=6,
)

# ---------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------

TextMutation = Callable[[st.DataObject, str], str]


def _position(data: st.DataObject, text: str) -> int:
    return data.draw(st.integers(0, len(text)))


def _line_index(data: st.DataObject, lines: list[str]) -> int:
    return data.draw(st.integers(0, max(len(lines) - 1, 0)))


def delete_chars(data: st.DataObject, text: str) -> str:
    start = data.draw(st.integers(0, max(len(text) - 1, 0)))
    return text[:start] + text[start + data.draw(st.integers(1, 12)) :]


def insert_chars(data: st.DataObject, text: str) -> str:
    at = _position(data, text)
    return text[:at] + data.draw(snippets) + text[at:]


def replace_chars(data: st.DataObject, text: str) -> str:
    start = _position(data, text)
    return text[:start] + data.draw(snippets) + text[start + data.draw(st.integers(1, 6)) :]


def swap_lines(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return text
    i, j = _line_index(data, lines), _line_index(data, lines)
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def duplicate_line(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = _line_index(data, lines)
    return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def change_indentation(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = _line_index(data, lines)
    delta = data.draw(st.integers(-4, 4).filter(bool))
    line = lines[i]
    lines[i] = " " * delta + line if delta > 0 else line[min(-delta, len(line) - len(line.lstrip(" "))) :]
    return "".join(lines)


def insert_tab(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = _line_index(data, lines)
    stripped = lines[i].lstrip(" ")
    indent = len(lines[i]) - len(stripped)
    lines[i] = data.draw(st.sampled_from(["\t" + stripped, " " * indent + "\t" + stripped, "\t" + lines[i]]))
    return "".join(lines)


def insert_tag(data: st.DataObject, text: str) -> str:
    """An explicit tag in front of an existing value (`port: !!int 5432`), or of a new one."""
    values_at = [i + 2 for i in range(len(text) - 1) if text[i : i + 2] in (": ", "- ")]
    if not values_at:
        return text
    at = data.draw(st.sampled_from(values_at))
    replacement = data.draw(st.one_of(st.just(""), snippets, st.text(max_size=6)))
    length = data.draw(st.integers(0, 3)) if replacement else 0
    return text[:at] + data.draw(st.sampled_from(TAGS)) + " " + replacement + text[at + length :]


def truncate(data: st.DataObject, text: str) -> str:
    return text[: _position(data, text)]


TEXT_MUTATIONS: list[TextMutation] = [
    delete_chars,
    insert_chars,
    replace_chars,
    swap_lines,
    duplicate_line,
    change_indentation,
    insert_tab,
    insert_tag,
    truncate,
]


def _containers(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every mapping and list of the data, each once (aliases can make the data recursive)."""
    seen = set() if seen is None else seen
    if not isinstance(value, dict | list) or id(value) in seen:
        return
    seen.add(id(value))
    yield value
    for child in value.values() if isinstance(value, dict) else value:
        yield from _containers(child, seen)


def _pick_container(data: st.DataObject, tree: Any, *, kind: type | tuple[type, ...]) -> Any | None:
    found = [c for c in _containers(tree) if isinstance(c, kind) and c]
    return data.draw(st.sampled_from(found)) if found else None


def drop_key(data: st.DataObject, tree: Any) -> Any:
    mapping = _pick_container(data, tree, kind=dict)
    if mapping is not None:
        del mapping[data.draw(st.sampled_from(sorted(mapping, key=repr)))]
    return tree


def add_unknown_key(data: st.DataObject, tree: Any) -> Any:
    mapping = _pick_container(data, tree, kind=dict)
    if mapping is not None:
        mapping[data.draw(keys)] = data.draw(values)
    return tree


def replace_value(data: st.DataObject, tree: Any) -> Any:
    container = _pick_container(data, tree, kind=(dict, list))
    if isinstance(container, dict):
        container[data.draw(st.sampled_from(sorted(container, key=repr)))] = data.draw(values)
    elif isinstance(container, list):
        container[data.draw(st.integers(0, len(container) - 1))] = data.draw(values)
    return tree


def rename_kind(data: st.DataObject, tree: Any) -> Any:
    if not isinstance(tree, dict) or not tree:
        return tree
    old = data.draw(st.sampled_from(sorted(tree, key=repr)))
    new = data.draw(st.one_of(st.sampled_from([*KINDS, "environments", "sources", "Source"]), keys))
    return {(new if k == old else k): v for k, v in tree.items()}


def replace_whole(data: st.DataObject, tree: Any) -> Any:
    return data.draw(values)


DataMutation = Callable[[st.DataObject, Any], Any]
DATA_MUTATIONS: list[DataMutation] = [drop_key, add_unknown_key, replace_value, rename_kind, replace_whole]


def mutate_data(data: st.DataObject, text: str) -> str:
    """A data-level mutation, when an earlier text mutation left the file parseable."""
    try:
        tree = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, KeyError, AttributeError, TypeError):
        return text  # PyYAML's own constructors raise plain errors on values like `!!int x`
    mutation = data.draw(st.sampled_from(DATA_MUTATIONS))
    tree = mutation(data, tree)
    try:
        return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False, width=10_000)
    except yaml.YAMLError:  # e.g. a value the safe dumper does not represent
        return text


def empty_file(data: st.DataObject, text: str) -> str:
    return data.draw(st.sampled_from(["", "\n", "# only a comment\n", "---\n", "~\n"]))


ALL_MUTATIONS: list[TextMutation] = [*TEXT_MUTATIONS, mutate_data, mutate_data, empty_file]


# ---------------------------------------------------------------------------------------------------
# One example: a mutated project on disk
# ---------------------------------------------------------------------------------------------------


@dataclass
class Mutated:
    base: str
    files: dict[str, str]
    environment: str | None
    environ: dict[str, str]
    check_secrets: bool

    def write(self, root: Path) -> None:
        for relative, text in self.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            # surrogates cannot be encoded; write them as replacement characters like an editor would
            path.write_bytes(text.encode("utf-8", errors="replace"))


class Workspace:
    """One project directory per base, rewritten for every example.

    Every example of a base has the same set of files (mutations change contents, never names), so
    writing the files that differ from the previous example gives exactly the mutated project, without
    creating and deleting a directory tree per example (a fifth of the run time on a slow disk).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.on_disk: dict[str, dict[str, str]] = {}

    def project(self, mutated: Mutated) -> Path:
        root = self.root / mutated.base
        written = self.on_disk.setdefault(mutated.base, {})
        assert set(written) <= set(mutated.files)
        changed = {k: v for k, v in mutated.files.items() if written.get(k) != v}
        Mutated(mutated.base, changed, None, {}, check_secrets=False).write(root)
        written.update(changed)
        return root


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("fuzz"))


def draw_project(data: st.DataObject) -> Mutated:
    base = data.draw(st.sampled_from(sorted(BASES)), label="base")
    files = dict(BASES[base])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        relative = data.draw(st.sampled_from(sorted(files)), label="file")
        mutation = data.draw(st.sampled_from(ALL_MUTATIONS), label="mutation")
        files[relative] = mutation(data, files[relative])
    return Mutated(
        base=base,
        files=files,
        environment=data.draw(st.sampled_from(ENVIRONMENTS), label="environment"),
        environ=dict(BASE_ENVIRON[base]),
        check_secrets=data.draw(st.booleans(), label="check_secrets"),
    )


def _line_count(path: Path) -> int:
    text = path.read_bytes().decode("utf-8", errors="replace")
    return max(len(text.splitlines()), 1)


def assert_located(problem: Problem) -> None:
    """A problem names a file of the project and a line of it."""
    assert problem.file is not None, problem.render()
    assert problem.line is not None, problem.render()
    assert problem.line >= 1, problem.render()
    assert problem.column is None or problem.column >= 1, problem.render()


def assert_inside_file(problem: Problem, root: Path) -> None:
    """The problem's file exists in the project and its line is one of the file's lines."""
    assert problem.file is not None, problem.render()
    assert problem.file.is_file(), problem.render()
    assert problem.file.resolve().is_relative_to(root.resolve()), problem.render()
    if problem.line is not None:
        assert 1 <= problem.line <= _line_count(problem.file), problem.render()


# ---------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(data=st.data())
def test_validate_reports_located_problems_inside_existing_files(
    data: st.DataObject, workspace: Workspace
) -> None:
    """validate_project on any mutation returns problems that name a line of a file of the project.

    Both properties are checked on the same examples: each problem has a file and a line (and raises
    nothing but a DatakitError), and that file exists in the project and has that line.
    """
    mutated = draw_project(data)
    root = workspace.project(mutated)
    try:
        validation = validate_project(
            root,
            environment=mutated.environment,
            environ=mutated.environ,
            check_secrets=mutated.check_secrets,
        )
    except DatakitError:
        return
    assert validation.project is not None
    for problem in validation.problems:
        assert_located(problem)
        assert_inside_file(problem, root)


@settings(FUZZ_SETTINGS, max_examples=250)
@given(data=st.data())
def test_load_returns_a_project_or_raises_config_error(data: st.DataObject, workspace: Workspace) -> None:
    """load_project succeeds (errors-free) or raises a ConfigError listing located problems."""
    mutated = draw_project(data)
    root = workspace.project(mutated)
    try:
        project = load_project(root, environment=mutated.environment, environ=mutated.environ)
    except ConfigError as exc:
        problems = exc.problems
        assert [p for p in problems if p.severity == "error"]
    except DatakitError:
        return
    else:
        problems = project.warnings
        assert all(p.severity == "warning" for p in problems)
    for problem in problems:
        assert_located(problem)
        assert_inside_file(problem, root)


def test_mutations_change_the_text() -> None:
    """Sanity check of the helpers the properties rely on (a mutation that does nothing tests nothing)."""
    text = BASES["seed002"]["config/pipelines/my_pipeline.yaml"]

    @settings(max_examples=50, deadline=None)
    @given(st.data(), st.sampled_from([delete_chars, duplicate_line, insert_tab, insert_tag, empty_file]))
    def changes(data: st.DataObject, mutation: TextMutation) -> None:
        assert mutation(data, text) != text

    changes()


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 10**30, None, [], {}])
def test_odd_values_are_reported_not_raised(value: Any, tmp_path: Path) -> None:
    """Values YAML can express but no model expects end up as problems, never as crashes."""
    files = dict(BASES["seed002"])
    tree = yaml.safe_load(files["config/jobs/daily_ingestion.yaml"])
    tree["job"]["execution"]["max_parallelism"] = value
    text = yaml.safe_dump(tree, sort_keys=False)
    files["config/jobs/daily_ingestion.yaml"] = text
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.lstrip().startswith("max_parallelism:"))
    Mutated("seed002", files, None, {}, check_secrets=False).write(tmp_path)
    validation = validate_project(tmp_path, environ={})
    assert [(p.file, p.line, p.column, p.field) for p in validation.errors] == [
        (
            tmp_path.resolve() / "config" / "jobs" / "daily_ingestion.yaml",
            line,
            22,
            "execution.max_parallelism",
        )
    ]
