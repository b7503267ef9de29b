"""The pages' actions over HTTP: refused without a login (401) and with a bad CSRF token (403), with
nothing changed; logins throttled and audited; pause/unpause and cancel done and audited; start and
resume through the daemon's launcher with the one-active-run rule; who may serve on which address."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.project import Project
from datakit.errors import DatakitError, UsageError
from datakit.orchestrate.launch import Launcher
from datakit.orchestrate.store import RunStatus, StateStore, open_store
from datakit.server.auth import MAX_FAILURES, auth_policy
from tests.server.operators import PASSWORD, TestClient, csrf_of, log_in, operators_app, operators_project
from tests.waits import wait_until


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return operators_project(tmp_path / "p", monkeypatch)


@pytest.fixture
def state(project: Project) -> Iterator[StateStore]:
    store = open_store(project)
    yield store
    store.close()


@pytest.fixture
def launcher(project: Project, state: StateStore) -> Iterator[Launcher]:
    launcher = Launcher(project, state)
    yield launcher
    launcher.stop(0)


@pytest.fixture
def client(project: Project, state: StateStore, launcher: Launcher) -> Iterator[TestClient]:
    with TestClient(operators_app(project, state, launcher), base_url="http://127.0.0.1:8321") as c:
        yield c


def _running(state: StateStore) -> int:
    return state.start_run("daily", json.dumps({"steps": []}))


ACTIONS = [
    ("/actions/start", {"job": "daily"}),
    ("/runs/{run}/cancel", {}),
    ("/runs/{run}/resume", {}),
    ("/runs/{run}/retry", {"step": "shop_bronze.customers"}),
    ("/triggers/daily_at_two/pause", {}),
    ("/triggers/daily_at_two/unpause", {}),
]


def _nothing_changed(state: StateStore, run: int) -> None:
    assert [r.id for r in state.list_runs()] == [run]
    assert state.get_run(run).cancel_requested is None and state.get_run(run).status == "running"
    assert state.paused_triggers() == {}


@pytest.mark.parametrize(("path", "fields"), ACTIONS)
def test_every_action_is_refused_without_a_login(
    client: TestClient, state: StateStore, path: str, fields: dict[str, str]
) -> None:
    run = _running(state)
    page = client.get("/")  # a visitor's page: a CSRF token of its own, but no session
    answer = client.post(path.format(run=run), data={**fields, "csrf": csrf_of(client.get("/login").text)})
    assert answer.status_code == 401, answer.text
    assert "log in to act" in answer.text
    assert "start-job" not in page.text and "Cancel run" not in client.get(f"/runs/{run}").text
    _nothing_changed(state, run)
    assert state.list_audit() == []  # strangers' refusals are logged, not audited


@pytest.mark.parametrize(("path", "fields"), ACTIONS)
@pytest.mark.parametrize("forgery", ["wrong token", "no token", "no cookie", "other site"])
def test_every_action_is_refused_with_a_bad_csrf_token(
    client: TestClient, state: StateStore, path: str, fields: dict[str, str], forgery: str
) -> None:
    run = _running(state)
    log_in(client)
    token = csrf_of(client.get(f"/runs/{run}").text)
    headers: dict[str, str] = {}
    if forgery == "wrong token":
        token = "0" * len(token)
    elif forgery == "no token":
        token = ""
    elif forgery == "no cookie":
        client.cookies.delete("datakit_nonce")
    else:
        headers["Origin"] = "http://evil.example"
    answer = client.post(path.format(run=run), data={**fields, "csrf": token}, headers=headers)
    assert answer.status_code == 403, answer.text
    _nothing_changed(state, run)


def test_a_token_of_another_session_is_refused(client: TestClient, state: StateStore) -> None:
    run = _running(state)
    log_in(client)
    stolen = csrf_of(client.get(f"/runs/{run}").text)
    log_in(client)  # a new session: the old token no longer matches
    answer = client.post(f"/runs/{run}/cancel", data={"csrf": stolen})
    assert answer.status_code == 403
    _nothing_changed(state, run)


def test_wrong_passwords_are_audited_then_throttled(client: TestClient, state: StateStore) -> None:
    for _ in range(MAX_FAILURES):
        token = csrf_of(client.get("/login").text)
        wrong = client.post("/login", data={"user": "alice", "password": "guess", "csrf": token})
        assert wrong.status_code == 401 and "Wrong user or password" in wrong.text
    token = csrf_of(client.get("/login").text)
    right = client.post("/login", data={"user": "alice", "password": PASSWORD, "csrf": token})
    assert right.status_code == 429 and "Too many failed logins" in right.text
    entries = state.list_audit()
    assert len(entries) == MAX_FAILURES
    assert all((e.actor, e.action, e.outcome) == ("alice", "login", "refused") for e in entries)
    assert PASSWORD not in client.get("/audit").text and "guess" not in json.dumps(
        [e.detail for e in entries]
    )


def test_a_logged_in_user_pauses_and_cancels_and_the_audit_page_says_who(
    client: TestClient, state: StateStore
) -> None:
    run = _running(state)
    log_in(client)
    triggers = client.get("/triggers").text
    paused = client.post(
        "/triggers/daily_at_two/pause", data={"csrf": csrf_of(triggers)}, follow_redirects=False
    )
    assert paused.status_code == 303
    page = client.get("/triggers").text
    assert 'data-trigger="daily_at_two" data-paused="yes"' in page and "by alice" in page
    assert state.paused_triggers()["daily_at_two"].actor == "alice"
    cancelled = client.post(f"/runs/{run}/cancel", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/runs/{run}"
    assert (state.get_run(run).cancel_requested or "").startswith("alice at ")
    unknown = client.post("/triggers/daily_at_too/pause", data={"csrf": csrf_of(page)})
    assert unknown.status_code == 404 and "did you mean &#39;daily_at_two&#39;" in unknown.text
    audit = client.get("/audit").text
    for entry in ("trigger daily_at_two", f"run {run}", "trigger daily_at_too"):
        assert entry in audit
    actions = [(e.actor, e.action, e.outcome) for e in reversed(state.list_audit())]
    assert actions == [
        ("alice", "login", "ok"),
        ("alice", "pause", "ok"),
        ("alice", "cancel", "ok"),
        ("alice", "pause", "refused"),
    ]


def test_start_obeys_the_one_active_run_rule_and_resume_refuses_a_run_that_succeeded(
    client: TestClient, state: StateStore
) -> None:
    holder = _running(state)
    log_in(client)
    token = csrf_of(client.get("/").text)
    busy = client.post("/actions/start", data={"job": "daily", "csrf": token})
    assert busy.status_code == 409 and f"already running: run {holder}" in busy.text
    state.finish_run(holder, RunStatus.SUCCEEDED)
    again = client.post(f"/runs/{holder}/resume", data={"csrf": token})
    assert again.status_code == 409 and f"run {holder} succeeded: nothing to resume" in again.text
    started = client.post("/actions/start", data={"job": "daily", "csrf": token}, follow_redirects=False)
    assert started.status_code == 303
    run_id = int(started.headers["location"].rsplit("/", 1)[1])
    wait_until(lambda: state.get_run(run_id).status == "succeeded", "the started run to succeed")
    outcomes = [(e.action, e.outcome, e.detail) for e in reversed(state.list_audit())][1:]
    assert outcomes[0][:2] == ("start", "refused") and outcomes[1][:2] == ("resume", "refused")
    assert outcomes[2] == ("start", "ok", f"run {run_id}")


def test_auth_none_only_on_loopback_and_no_open_network_without_users(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert auth_policy(project, "127.0.0.1", auth="none").none
    with pytest.raises(DatakitError, match=r"--auth none is refused on 0\.0\.0\.0"):
        auth_policy(project, "0.0.0.0", auth="none")
    policy = auth_policy(project, "0.0.0.0")
    assert policy.pages_need_login and set(policy.users) == {"alice"}
    from datakit.config import load_project
    from datakit.config.scaffold import init_project

    init_project(project.root.parent / "bare")
    bare = load_project(project.root.parent / "bare")
    with pytest.raises(DatakitError, match=r"refusing to listen on 192\.168\.1\.9 without a login"):
        auth_policy(bare, "192.168.1.9")
    assert not auth_policy(bare, "127.0.0.1").can_act  # read-only pages
    monkeypatch.setenv("DK_TEST_UI_ALICE", "short")
    with pytest.raises(DatakitError, match="user 'alice': secret 'ui_alice' is unset or shorter than 8"):
        auth_policy(project, "127.0.0.1")


def test_beyond_loopback_every_page_needs_a_login(
    project: Project, state: StateStore, launcher: Launcher
) -> None:
    app = operators_app(project, state, launcher, host="0.0.0.0")
    with TestClient(app, base_url="http://10.0.0.5:8321") as client:
        first = client.get("/runs/1", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/login?next=/runs/1"
        assert client.get("/healthz").text == "ok"
        assert client.get("/config", follow_redirects=False).status_code == 303
        log_in(client)
        assert client.get("/config").status_code == 200


def test_a_full_refresh_in_prod_needs_the_forms_second_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    log_in(client)
    assert 'name="full_refresh"' in client.get("/").text
    assert 'name="confirm_full_refresh"' not in client.get("/").text  # dev: one tick is enough
    operators_project(tmp_path / "prod", monkeypatch)
    project = load_project(tmp_path / "prod", environment="prod")
    store = open_store(project)
    launcher = Launcher(project, store)
    try:
        with TestClient(operators_app(project, store, launcher), base_url="http://127.0.0.1:8321") as prod:
            log_in(prod)
            page = prod.get("/jobs/daily").text
            assert 'name="confirm_full_refresh"' in page
            form = {"job": "daily", "full_refresh": "on", "csrf": csrf_of(page)}
            refused = prod.post("/actions/start", data=form)
            assert refused.status_code == 400, refused.text
            assert "refused without confirmation" in refused.text and "confirm: prod" in refused.text
            assert store.list_runs() == []
            with pytest.raises(UsageError, match="refused without confirmation"):
                launcher.launch("daily", full_refresh=True)  # not by another way in either
            started = prod.post(
                "/actions/start", data=form | {"confirm_full_refresh": "on"}, follow_redirects=False
            )
            assert started.status_code == 303, started.text
            run_id = int(started.headers["location"].rsplit("/", 1)[1])
            wait_until(lambda: store.get_run(run_id).status == "succeeded", "the full refresh to succeed")
        audit = [(e.action, e.outcome, e.detail) for e in reversed(store.list_audit())][1:]
        assert audit[0][:2] == ("start", "refused")
        assert audit[1] == ("start", "ok", f"run {run_id}, full refresh")
    finally:
        launcher.stop(0)
        store.close()
