"""deploy/Dockerfile, read as text (no Docker engine to build it here): what it promises, and that every file
it copies exists and is let through by its .dockerignore."""

from __future__ import annotations

import re

from tests.deploy.tools import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_base_image_pinned_and_the_airflow_extra_installed() -> None:
    steps = _instructions()
    base = next(args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert [args for op, args in steps if op == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    install = next(args for op, args in steps if op == "RUN" and "pip install" in args)
    assert '".[airflow]"' in install
    assert "apache-airflow-providers-celery==" in install and "apache-airflow-providers-fab==" in install


def test_runs_as_a_non_root_user() -> None:
    steps = _instructions()
    users = [args for op, args in steps if op == "USER"]
    assert users == ["datakit"]
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    assert max(i for i, (op, _) in enumerate(steps) if op == "USER") > last_from
    assert any(op == "RUN" and "useradd --uid" in args for op, args in steps[last_from:])


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    allowed = {
        line[1:]
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = [args for op, args in _instructions() if op == "COPY" and not args.startswith("--from")]
    sources = [source for args in copied for source in args.split()[:-1]]
    assert sources == ["pyproject.toml", "README.md", "src", "deploy/bin/airflow-init"]
    for source in sources:
        assert (DEPLOY.parent / source).exists(), source
        assert source in allowed, f"{source} is not let through by Dockerfile.dockerignore"
