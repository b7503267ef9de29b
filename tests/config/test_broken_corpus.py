"""The broken-project corpus: every folder of `tests/config/broken/` is one project with one defect.

A case folder holds only the files that differ from its base project (same relative paths) and an
`expected.txt`: optional `# directive` lines first, then the exact rendered error lines, with paths
relative to the project root. Directives:

    # base: seed002          base project (default: examples/pagila)
    # env: prod              validate this environment (default: the project's default)
    # delete: config/x.yaml  remove a file of the base project
    # check-secrets          validate with check_secrets=True
    # set: VAR=value         an environment variable (repeatable)
    # unset: VAR             drop a variable the base's default environment sets (repeatable)

Errors are compared exactly (same lines, same count); warnings are not part of the comparison.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datakit.config import Secrets, validate_project

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = HERE / "broken"
BASES: dict[str, Path] = {
    "pagila": REPO / "examples" / "pagila",
    "seed002": REPO / "tests" / "fixtures" / "seed002",
}
# Variables every case of a base starts with (seed 002 declares one required secret).
BASE_ENVIRON: dict[str, dict[str, str]] = {
    "pagila": {},
    "seed002": {
        "MY_API_TOKEN_DEV": "token-dev",
        "MY_API_TOKEN_STAGE": "token-stage",
        "MY_API_TOKEN_PROD": "token-prod",
    },
}
EXPECTED = "expected.txt"
MIN_CASES = 45


@dataclass
class Case:
    """One corpus folder, parsed."""

    folder: Path
    base: str = "pagila"
    environment: str | None = None
    check_secrets: bool = False
    delete: list[str] = field(default_factory=list)
    set_vars: dict[str, str] = field(default_factory=dict)
    unset_vars: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    @property
    def environ(self) -> dict[str, str]:
        environ = {**BASE_ENVIRON[self.base], **self.set_vars}
        for name in self.unset_vars:
            environ.pop(name, None)
        return environ

    def overlay_files(self) -> list[Path]:
        """The case's project files (everything but expected.txt), relative to the case folder."""
        return sorted(
            p.relative_to(self.folder) for p in self.folder.rglob("*") if p.is_file() and p.name != EXPECTED
        )


def parse_case(folder: Path) -> Case:
    case = Case(folder=folder)
    for raw in (folder / EXPECTED).read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if not line.startswith("# "):
            case.expected.append(line)
            continue
        directive, _, value = line[2:].partition(":")
        value = value.strip()
        if directive == "base":
            assert value in BASES, f"{folder.name}: unknown base {value!r}"
            case.base = value
        elif directive == "env":
            case.environment = value
        elif directive == "delete":
            case.delete.append(value)
        elif directive == "check-secrets":
            case.check_secrets = True
        elif directive == "set":
            name, _, var_value = value.partition("=")
            case.set_vars[name] = var_value
        elif directive == "unset":
            case.unset_vars.append(value)
        else:
            raise AssertionError(f"{folder.name}: unknown directive {line!r}")
    return case


def build_project(case: Case, target: Path) -> Path:
    """The base project copied to `target` with the case's files laid over it."""
    shutil.copytree(BASES[case.base], target, ignore=shutil.ignore_patterns(".gitignore"))
    for deleted in case.delete:
        path = target / deleted
        assert path.is_file(), f"{case.folder.name}: '# delete: {deleted}' names no file of the base"
        path.unlink()
    for relative in case.overlay_files():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case.folder / relative, destination)
    return target


def rendered_errors(case: Case, project: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The errors of the built project, rendered with paths relative to its root."""
    monkeypatch.chdir(project)
    validation = validate_project(
        project, environment=case.environment, environ=case.environ, check_secrets=case.check_secrets
    )
    return [p.render() for p in validation.errors]


CASE_DIRS = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def test_corpus_is_large_enough() -> None:
    assert len(CASE_DIRS) >= MIN_CASES


def test_every_case_is_well_formed() -> None:
    """Each case has expected errors (a case without any belongs in the unit tests) and changes its base."""
    names = [d.name for d in CASE_DIRS]
    numbers = [name.split("_", 1)[0] for name in names]
    assert len(set(numbers)) == len(numbers)
    for folder in CASE_DIRS:
        case = parse_case(folder)
        assert case.expected, f"{folder.name}: no expected error line"
        changes = case.overlay_files() or case.delete or case.set_vars or case.unset_vars
        assert changes, f"{folder.name}: changes nothing in its base"


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[d.name for d in CASE_DIRS])
def test_broken_case(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = parse_case(folder)
    project = build_project(case, tmp_path / "project")
    actual = rendered_errors(case, project, monkeypatch)
    assert Counter(actual) == Counter(case.expected), "\n".join(["actual:", *actual])


@pytest.mark.parametrize("base", sorted(BASES))
def test_base_projects_are_valid(base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus is meaningful only if its bases have no error of their own, secrets included."""
    case = Case(folder=tmp_path, base=base, check_secrets=True)
    project = build_project(case, tmp_path / "project")
    assert rendered_errors(case, project, monkeypatch) == []


def test_secret_key_suffix_resolves_to_mapping_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 002's `my_api_token_secret_key` names the key `my_api_token`, also under --check-secrets."""
    case = Case(folder=tmp_path, base="seed002", check_secrets=True)
    project = build_project(case, tmp_path / "project")
    source = project / "config" / "sources" / "my_api.yaml"
    assert 'credentials_secret_key: "my_api_token_secret_key"' in source.read_text(encoding="utf-8")
    assert rendered_errors(case, project, monkeypatch) == []
    validation = validate_project(project, environ=case.environ, check_secrets=True)
    assert validation.project is not None
    auth = validation.project.sources["my_api"].connection.auth  # type: ignore[union-attr]
    assert auth is not None
    assert auth.credentials_secret_key == "my_api_token_secret_key"  # type: ignore[union-attr]
    secrets = Secrets(validation.project.secrets, "dev", case.environ)
    assert secrets.key_for("my_api_token_secret_key") == "my_api_token"
    assert secrets.env_var("my_api_token_secret_key") == "MY_API_TOKEN_DEV"


def test_secret_key_suffix_does_not_hide_a_missing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suffix rule applies only when the key without it exists; `--check-secrets` still requires it."""
    case = Case(folder=tmp_path, base="seed002", check_secrets=True, unset_vars=["MY_API_TOKEN_DEV"])
    project = build_project(case, tmp_path / "project")
    assert rendered_errors(case, project, monkeypatch) == [
        "config/secrets_mapping.yaml:2:3: secrets.my_api_token: required secret is not set: "
        "environment variable MY_API_TOKEN_DEV is not set (ENVIRONMENT=dev)"
    ]


def test_timezone_suggestion_is_its_own_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like every other "did you mean", the timezone's is `Problem.suggestion` (JSON consumers read it)."""
    project = build_project(Case(folder=tmp_path), tmp_path / "project")
    path = project / "config" / "triggers" / "pagila_nightly.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Europe/Paris", "Europe/Pariss"), encoding="utf-8"
    )
    monkeypatch.chdir(project)
    [problem] = validate_project(project, environ={}).errors
    assert (problem.field, problem.message, problem.suggestion) == (
        "schedule.timezone",
        "unknown timezone 'Europe/Pariss'",
        "did you mean 'Europe/Paris'?",
    )
    assert problem.render() == (
        "config/triggers/pagila_nightly.yaml:8:15: trigger.schedule.timezone: "
        "unknown timezone 'Europe/Pariss' — did you mean 'Europe/Paris'?"
    )


def test_three_defects_in_three_files_reported_in_one_run_sorted_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = build_project(Case(folder=tmp_path), tmp_path / "project")
    edits = {
        "config/triggers/pagila_nightly.yaml": ("timezone: Europe/Paris", "timezone: Europe/Pariss"),
        "config/destinations/warehouse_pg.yaml": ("port: 5432", "port: 99999"),
        "config/jobs/pagila_hourly.yaml": ("mode: dag", "mode: dga"),
    }
    for relative, (old, new) in edits.items():
        path = project / relative
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.chdir(project)
    validation = validate_project(project, environ={})
    assert not validation.ok
    assert [p.render() for p in validation.problems] == [
        "config/destinations/warehouse_pg.yaml:8:11: destination.connection.port: "
        "input should be less than or equal to 65535 (got 99999)",
        "config/jobs/pagila_hourly.yaml:7:11: job.execution.mode: "
        "invalid value 'dga': expected one of 'sequential', 'parallel', 'dag' — did you mean 'dag'?",
        "config/triggers/pagila_nightly.yaml:8:15: trigger.schedule.timezone: "
        "unknown timezone 'Europe/Pariss' — did you mean 'Europe/Paris'?",
    ]
