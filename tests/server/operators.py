"""A project with users who may act on `datakit serve`'s pages, and a client that logs in and posts forms
the way a browser does (cookies kept, the CSRF token read from the page it was served on)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from datakit.config import load_project
from datakit.config.project import Project
from datakit.config.scaffold import init_project
from datakit.orchestrate.launch import Launcher
from datakit.orchestrate.store import StateStore
from datakit.server.app import create_app
from datakit.server.auth import auth_policy

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
USERS = """
serve:
  users:
    - name: alice
      secret_key: ui_alice
"""
MAPPING = """
  ui_alice:
    env_var: DK_TEST_UI_ALICE
"""
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def operators_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The scaffold (job `daily`, triggers `daily_at_two` and `on_demand`) with user alice."""
    init_project(root)
    with (root / "datakit.yaml").open("a", encoding="utf-8") as config:
        config.write(USERS)
    with (root / "config" / "secrets_mapping.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write(MAPPING)
    monkeypatch.setenv("DK_TEST_UI_ALICE", PASSWORD)
    return load_project(root)


def operators_app(
    project: Project, store: StateStore, launcher: Launcher, *, host: str = "127.0.0.1"
) -> Starlette:
    def launch(tick: object, warehouse: str | None) -> int:
        raise AssertionError("no trigger fires in these tests")

    policy = auth_policy(project, host)
    return create_app(project, store, launch, {}, operator=launcher, policy=policy)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def log_in(client: TestClient, user: str = "alice", password: str = PASSWORD) -> None:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    done = client.post(
        "/login",
        data={"user": user, "password": password, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
