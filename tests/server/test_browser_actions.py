"""`datakit serve`'s actions in headless Chromium (Debian's, driven by Playwright), on a real daemon: log
in, start a job and watch it succeed without a reload, watch a long step's log stream and cancel it
(its process ended, the run recorded `cancelled`), resume a failed run, see it all in the audit log;
every action refused without a login and with a bad CSRF token; a problem planted on disk shown at its
file:line. Skipped when Chromium is not installed, failed instead under DATAKIT_REQUIRE_SERVICES=1."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datakit.config.project import Project
from datakit.orchestrate.store import StateStore, open_store
from datakit.server.serve import ServeOptions, serve
from tests.browser import FLAGS, chromium_binary
from tests.http_api import FakeApi, Req, Resp, add_api_job, running_api
from tests.server.operators import PASSWORD, operators_project
from tests.waits import GUARD

TYPO = """\
pipeline:
  name: broken_bronze
  source: {name: shop}
  destination: {name: warehuose, layer: bronze}
"""
MS = GUARD * 1000


@dataclass
class Api:
    """The events API the `api_job` reads: answers, fails (400) or holds the request until released."""

    fake: FakeApi
    mode: str = "ok"
    release: threading.Event = field(default_factory=threading.Event)

    def events(self, req: Req) -> Resp:
        if self.mode == "block":
            self.release.wait(GUARD)
            return Resp(503, {"error": "released"})
        if self.mode == "fail":
            return Resp(400, {"error": "no such tenant"})
        page = int(req.query.get("page", "1"))
        return Resp(200, {"data": [{"id": i, "v": f"e{i}"} for i in range(1, 13)] if page == 1 else []})


@dataclass(frozen=True)
class Daemon:
    url: str
    project: Project
    store: StateStore
    api: Api


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    chromium_binary()  # skip (or fail) before starting anything
    with running_api() as fake:
        api = Api(fake)
        fake.route("/events")(api.events)
        root = tmp_path / "shop"
        project = operators_project(root, monkeypatch)
        add_api_job(root, fake.url)
        from datakit.config import load_project

        project = load_project(root)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        stop = threading.Event()
        ready: queue.Queue[str] = queue.Queue()
        options = ServeOptions(port=port, poll_every=0.2, grace=0)
        thread = threading.Thread(
            target=serve, args=(project, options), kwargs={"stop": stop, "on_ready": ready.put}, daemon=True
        )
        thread.start()
        url = ready.get(timeout=GUARD)
        store = open_store(project)
        try:
            yield Daemon(url, project, store, api)
        finally:
            stop.set()
            api.release.set()
            thread.join(GUARD)
            store.close()


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_binary()), args=[f for f in FLAGS if f != "--headless"]
        )
        try:
            yield launched
        finally:
            launched.close()


def _run_id(page: object) -> int:
    return int(page.url.rsplit("/", 1)[1])  # type: ignore[attr-defined]


def test_log_in_start_watch_cancel_resume_and_audit(daemon: Daemon, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    page.set_default_timeout(MS)
    page.on("dialog", lambda dialog: dialog.accept())  # "Cancel run #N?"
    page.goto(daemon.url + "/")
    assert page.locator("form.start").count() == 0  # read-only until logged in
    page.click("a.login")
    page.fill("input[name=user]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    expect(page.locator("header .who")).to_have_text("alice")

    # start a job and watch it succeed, without a reload
    page.select_option("form.start select[name=job]", "daily")
    page.click("form.start button.start-job")
    page.wait_for_url("**/runs/*")
    started = _run_id(page)
    assert page.get_attribute("#live", "data-active") == "yes"
    page.evaluate("window.__same_page = true")
    expect(page.locator(".live-body")).to_have_attribute("data-status", "succeeded", timeout=MS)
    assert page.evaluate("window.__same_page") is True
    expect(page.locator('tr.step[data-step="shop_bronze.*"]')).to_have_attribute(  # one DuckDB writer
        "data-status", "succeeded"
    )

    # a long step: its log streams while it runs; cancel it
    daemon.api.mode = "block"
    page.goto(daemon.url + "/jobs/api_job")
    page.click("form.start button.start-job")
    page.wait_for_url("**/runs/*")
    long_run = _run_id(page)
    expect(page.locator("pre.log.live")).to_contain_text("loading api_bronze.events", timeout=MS)
    page.click("form.cancel button")
    expect(page.locator(".live-body")).to_have_attribute("data-status", "cancelled", timeout=MS)
    run = daemon.store.get_run(long_run)
    assert run.status == "cancelled" and (run.error or "").startswith("cancelled by alice at ")
    (step,) = run.steps
    # the attempt ends only once the step's process has exited: the executor waits for it
    assert step.status == "failed" and "cancelled while running" in (step.error or "")
    assert not (daemon.project.root / ".datakit" / "live" / (run.key or "")).exists()

    # a failed run, resumed once the API answers again
    daemon.api.mode = "fail"
    page.goto(daemon.url + "/jobs/api_job")
    page.click("form.start button.start-job")
    page.wait_for_url("**/runs/*")
    failed = _run_id(page)
    expect(page.locator(".live-body")).to_have_attribute("data-status", "failed", timeout=MS)
    expect(page.locator("form.retry button")).to_be_visible()
    daemon.api.mode = "ok"
    page.click("form.resume button")
    page.wait_for_url(f"**/runs/{failed + 1}")
    expect(page.locator(".live-body")).to_have_attribute("data-status", "succeeded", timeout=MS)
    resumed = daemon.store.get_run(failed + 1)
    assert resumed.resumed_from == failed and resumed.steps[0].rows_loaded == 12

    # the audit log says who did what
    page.goto(daemon.url + "/audit")
    rows = page.locator("tr.entry")
    actions = [
        (rows.nth(i).get_attribute("data-action"), rows.nth(i).locator("td.target").inner_text())
        for i in range(rows.count())
    ]
    assert actions[::-1] == [
        ("login", "datakit serve"),
        ("start", "job daily"),
        ("start", "job api_job"),
        ("cancel", f"run {long_run}"),
        ("start", "job api_job"),
        ("resume", f"run {failed}"),
    ]
    assert set(rows.locator("td.actor").all_inner_texts()) == {"alice"}
    assert started < long_run < failed

    # a problem planted on disk after the start, shown at its file:line
    (daemon.project.root / "config" / "pipelines" / "broken_bronze.yaml").write_text(TYPO, encoding="utf-8")
    page.goto(daemon.url + "/config")
    problem = page.locator("li.problem").filter(has_text="warehuose")
    expect(problem.locator(".loc")).to_have_text("config/pipelines/broken_bronze.yaml:4:23")
    expect(problem).to_contain_text("did you mean 'warehouse'")


def test_actions_are_refused_in_the_browser_without_a_login_and_with_a_bad_token(
    daemon: Daemon, browser: object
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    stranger = browser.new_page()
    stranger.goto(daemon.url + "/triggers")
    token = stranger.locator("form.login input[name=csrf]")
    assert token.count() == 0 and stranger.locator("form.pause").count() == 0
    refused = stranger.request.post(daemon.url + "/triggers/on_demand/pause", form={"csrf": "x"})
    assert refused.status == 401

    alice = browser.new_page()
    alice.goto(daemon.url + "/login")
    alice.fill("input[name=user]", "alice")
    alice.fill("input[name=password]", PASSWORD)
    alice.click("form.login button")
    alice.goto(daemon.url + "/triggers")
    real = alice.locator('tr[data-trigger="on_demand"] form.pause input[name=csrf]').get_attribute("value")
    assert real
    forged = alice.request.post(daemon.url + "/triggers/on_demand/pause", form={"csrf": "0" * len(real)})
    assert forged.status == 403
    assert daemon.store.paused_triggers() == {}
    alice.click('tr[data-trigger="on_demand"] form.pause button')
    assert alice.locator('tr[data-trigger="on_demand"]').get_attribute("data-paused") == "yes"
    assert daemon.store.paused_triggers()["on_demand"].actor == "alice"


def _logged_in(browser: object, url: str) -> object:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    page.set_default_timeout(MS)
    page.goto(url + "/login")
    page.fill("input[name=user]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    expect(page.locator("header .who")).to_have_text("alice")
    return page


def test_start_a_selection_and_see_a_bad_one_refused_as_the_cli_refuses_it(
    daemon: Daemon, browser: object
) -> None:
    from playwright.sync_api import Page, expect

    from datakit.errors import UsageError
    from datakit.orchestrate.selection import selected_job

    page = _logged_in(browser, daemon.url)
    assert isinstance(page, Page)

    # only the selected step runs (the job `daily` loads customers and orders)
    page.goto(daemon.url + "/jobs/daily")
    page.fill("form.start input[name=select]", "shop_bronze.orders")
    page.click("form.start button.start-job")
    page.wait_for_url("**/runs/*")
    selected = _run_id(page)
    expect(page.locator(".live-body")).to_have_attribute("data-status", "succeeded", timeout=MS)
    run = daemon.store.get_run(selected)
    assert [step.step_id for step in run.steps] == ["shop_bronze.orders"]
    assert run.steps[0].status == "succeeded"

    # --exclude on the runs page's form (job chosen from the list)
    page.goto(daemon.url + "/")
    page.select_option("form.start select[name=job]", "daily")
    page.fill("form.start input[name=exclude]", "shop_bronze.orders")
    page.click("form.start button.start-job")
    page.wait_for_url("**/runs/*")
    excluded = _run_id(page)
    expect(page.locator(".live-body")).to_have_attribute("data-status", "succeeded", timeout=MS)
    assert [step.step_id for step in daemon.store.get_run(excluded).steps] == ["shop_bronze.customers"]

    # a bad selector: the CLI's own error (message and hint) on the page, 400, and no run
    with pytest.raises(UsageError) as cli:
        selected_job(daemon.project, "daily", None, ["tagg:nightly"], [])
    page.goto(daemon.url + "/jobs/daily")
    page.fill("form.start input[name=select]", "tagg:nightly")
    with page.expect_response(lambda r: r.url.endswith("/actions/start")) as answer:
        page.click("form.start button.start-job")
    assert answer.value.status == 400
    expect(page.locator("body")).to_contain_text(cli.value.message)
    expect(page.locator("body")).to_contain_text("did you mean 'tag'")
    # a selection of nothing is refused too
    page.goto(daemon.url + "/jobs/daily")
    page.fill("form.start input[name=select]", "no_such_model")
    with page.expect_response(lambda r: r.url.endswith("/actions/start")) as nothing:
        page.click("form.start button.start-job")
    assert nothing.value.status == 400
    assert [r.id for r in daemon.store.list_runs()] == [excluded, selected]

    # the audit log says which selection was started, and which was refused
    page.goto(daemon.url + "/audit")
    rows = page.locator("tr.entry")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("--select shop_bronze.orders" in text for text in texts)
    assert any("--exclude shop_bronze.orders" in text for text in texts)
    assert any("refused" in text and "tagg" in text for text in texts)


def test_starting_a_selection_is_refused_without_a_login_and_with_a_bad_token(
    daemon: Daemon, browser: object
) -> None:
    from playwright.sync_api import Browser, Page

    assert isinstance(browser, Browser)
    form = {"job": "daily", "select": "shop_bronze.orders"}
    stranger = browser.new_page()
    stranger.goto(daemon.url + "/jobs/daily")
    assert stranger.locator("form.start").count() == 0
    assert stranger.request.post(daemon.url + "/actions/start", form={**form, "csrf": "x"}).status == 401

    alice = _logged_in(browser, daemon.url)
    assert isinstance(alice, Page)
    alice.goto(daemon.url + "/jobs/daily")
    real = alice.locator("form.start input[name=csrf]").get_attribute("value")
    assert real
    forged = alice.request.post(daemon.url + "/actions/start", form={**form, "csrf": "0" * len(real)})
    assert forged.status == 403
    missing = alice.request.post(daemon.url + "/actions/start", form=form)
    assert missing.status == 403
    assert daemon.store.list_runs() == []
