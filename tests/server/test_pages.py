"""The status pages against a real project and a real SQLite store: what a person sees on each page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from datakit.config.project import Project
from datakit.orchestrate.store import AttemptRecord, RunRecord, RunStatus, StateStore, StepRecord, TickRecord
from datakit.server.pages import details_tables, duration, timeline, trigger_row
from tests.orchestrate.conftest import FakeClock
from tests.server.conftest import START, Attempt, record_run

if TYPE_CHECKING:
    from starlette.testclient import TestClient  # imported by conftest, warning silenced

CUSTOMERS, ORDERS = "customers_only.customers", "orders_only.orders"
DAILY_STEPS = ("shop_bronze.customers", "shop_bronze.orders")


def _runs_shown(html: str) -> list[tuple[int, str]]:
    return [(int(i), s) for i, s in re.findall(r'<tr class="run" data-run="(\d+)" data-status="(\w+)"', html)]


@pytest.fixture
def three_runs(store: StateStore, clock: FakeClock, project: Project) -> tuple[int, int, int]:
    """daily succeeded; nightly failed after a retry, past its SLA; daily still running."""
    ok = record_run(
        store,
        clock,
        project,
        "daily",
        {DAILY_STEPS[0]: [Attempt(4, rows={"rows_loaded": 50})], DAILY_STEPS[1]: [Attempt(6)]},
    )
    failed = record_run(
        store,
        clock,
        project,
        "nightly",
        {
            CUSTOMERS: [Attempt(10, rows={"rows_read": 50, "rows_loaded": 50})],
            ORDERS: [
                Attempt(5, error="connection reset", retry_in=5),
                Attempt(20, error="duplicate key <script>alert('x')</script> in orders"),
            ],
        },
        finish=RunStatus.FAILED,
        error="1 step failed: orders_only.orders",
    )
    assert store.record_sla_miss(failed)
    running = record_run(store, clock, project, "daily", {DAILY_STEPS[0]: [Attempt(3)]}, finish=None)
    store.attempt_started(running, DAILY_STEPS[1], 1)
    clock.advance(2)
    return ok, failed, running


def test_runs_list_shows_latest_first_with_status_steps_and_sla(
    client: TestClient, three_runs: tuple[int, int, int]
) -> None:
    ok, failed, running = three_runs
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert _runs_shown(html) == [(running, "running"), (failed, "failed"), (ok, "succeeded")]
    assert '<meta http-equiv="refresh" content="10">' in html
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r'data-run="(\d+)".*?</tr>', html, re.S)}
    assert '<a href="/jobs/nightly">nightly</a>' in rows[failed]
    assert f'<a href="/runs/{failed}">#{failed}</a>' in rows[failed]
    assert '<span class="badge st-failed">failed</span>' in rows[failed]
    assert "1/2" in rows[failed] and "2/2" in rows[ok] and "1/2" in rows[running]
    assert "⚠ missed" in rows[failed] and "⚠" not in rows[ok]
    assert "40.0s" in rows[failed]  # 10 + 5 + 5 (retry wait) + 20
    assert "10.0s" in rows[ok]
    # the running run's duration is the time so far: 3s step + 1s + 2s
    assert "6.0s" in rows[running]


def test_runs_list_filters_by_job_and_status(client: TestClient, three_runs: tuple[int, int, int]) -> None:
    ok, failed, running = three_runs
    assert _runs_shown(client.get("/?job=daily").text) == [(running, "running"), (ok, "succeeded")]
    assert _runs_shown(client.get("/?status=failed").text) == [(failed, "failed")]
    assert _runs_shown(client.get("/?job=daily&status=failed").text) == []
    assert "No runs recorded yet." in client.get("/?job=daily&status=failed").text
    assert _runs_shown(client.get("/?limit=1").text) == [(running, "running")]
    bad = client.get("/?status=exploded")
    assert bad.status_code == 400 and "unknown status &#39;exploded&#39;" in bad.text


def test_run_detail_draws_the_timeline_and_the_plan_dag(
    client: TestClient, three_runs: tuple[int, int, int]
) -> None:
    _, failed, _ = three_runs
    page = client.get(f"/runs/{failed}")
    assert page.status_code == 200
    html = page.text
    assert "Run #" in html and '<span class="badge st-failed">failed</span>' in html
    assert "⚠ SLA missed" in html and "1 step failed: orders_only.orders" in html
    # the run spans 40s of steps: customers 0-10s; orders' attempts at 10-15s and 20-40s (after a 5s wait)
    assert re.findall(r'class="seg st-(\w+)" style="left: ([\d.]+)%; width: ([\d.]+)%"', html) == [
        ("succeeded", "0.00", "25.00"),
        ("failed", "25.00", "12.50"),
        ("failed", "50.00", "50.00"),
    ]
    assert "2 attempts" in html and "50 loaded" in html and "50 read" in html
    # the DAG: one node per plan step, one edge customers -> orders, coloured by the step statuses
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="node"') == 2 and svg.count('class="edge"') == 1
    assert f'data-step="{CUSTOMERS}" data-status="succeeded"' in svg
    assert f'data-step="{ORDERS}" data-status="failed"' in svg
    assert f'data-from="{CUSTOMERS}" data-to="{ORDERS}"' in svg
    assert "<meta http-equiv" not in html  # a finished run does not change: no refresh


def test_error_messages_are_escaped(client: TestClient, three_runs: tuple[int, int, int]) -> None:
    _, failed, _ = three_runs
    html = client.get(f"/runs/{failed}").text
    assert "<script>" not in html
    assert "duplicate key &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; in orders" in html
    assert "connection reset" in html and "(transient)" in html


def test_run_detail_shows_the_log_tail_and_details_tables(
    client: TestClient, store: StateStore, clock: FakeClock, project: Project
) -> None:
    log = "\n".join(f"log line {i:03d} <ok>" for i in range(1, 101)) + "\n"
    details = {
        "nodes": [
            {"unique_id": "model.shop.orders", "status": "success", "execution_time": 1.5},
            {"unique_id": "model.shop.customers", "status": "error", "message": "bad <sql>"},
        ],
        "checks": {"not_null_orders_id": {"status": "pass", "failing_rows": 0}},
        "dbt_version": "1.11.0",
    }
    run_id = record_run(
        store,
        clock,
        project,
        "daily",
        {DAILY_STEPS[0]: [Attempt(2, log=log, details=details)], DAILY_STEPS[1]: []},
    )
    html = client.get(f"/runs/{run_id}").text
    assert "log line 100 &lt;ok&gt;" in html and "log line 061" in html
    assert "log line 060" not in html and "last 40 of 100 lines" in html
    tables = re.findall(r'<table class="details">(.*?)</table>', html, re.S)
    assert len(tables) == 3  # summary, nodes, checks
    headers = [re.findall(r"<th>(.*?)</th>", t) for t in tables]
    assert headers == [
        ["key", "value"],
        ["unique_id", "status", "execution_time", "message"],
        ["name", "status", "failing_rows"],
    ]
    assert "<td>model.shop.customers</td><td>error</td><td></td><td>bad &lt;sql&gt;</td>" in tables[1]
    assert "<td>not_null_orders_id</td><td>pass</td><td>0</td>" in tables[2]
    assert "<td>dbt_version</td><td>1.11.0</td>" in tables[0]
    # the step never started has a row in the timeline but no bar
    row = re.search(rf'data-step="{DAILY_STEPS[1]}" data-status="pending">.*?</tr>', html, re.S)
    assert row is not None and 'class="seg' not in row.group(0)


def test_a_running_run_refreshes_and_its_bar_grows_with_the_clock(
    client: TestClient, three_runs: tuple[int, int, int], clock: FakeClock
) -> None:
    _, _, running = three_runs
    html = client.get(f"/runs/{running}").text
    assert '<meta http-equiv="refresh" content="10">' in html and "so far" in html
    bars = re.findall(r'class="seg st-(\w+)" style="left: ([\d.]+)%; width: ([\d.]+)%"', html)
    # step 1: 0-3s; step 2 started at 4s and is still running at 6s
    assert bars == [("succeeded", "0.00", "50.00"), ("running", "66.67", "33.33")]
    clock.advance(14)
    later = re.findall(
        r'class="seg st-(\w+)" style="left: ([\d.]+)%; width: ([\d.]+)%"', client.get(f"/runs/{running}").text
    )
    assert later == [("succeeded", "0.00", "15.00"), ("running", "20.00", "80.00")]


def test_unknown_run_and_job_are_404_pages(client: TestClient) -> None:
    run = client.get("/runs/999")
    assert run.status_code == 404 and "Run not found" in run.text and "no run 999" in run.text
    job = client.get("/jobs/nightlie")
    assert job.status_code == 404 and "did you mean &#39;nightly&#39;?" in job.text
    assert "<!doctype html>" in job.text  # the site's page, not a bare error


def test_job_page_draws_the_current_plan_coloured_by_the_latest_run(
    client: TestClient, three_runs: tuple[int, int, int]
) -> None:
    _, failed, _ = three_runs
    html = client.get("/jobs/nightly").text
    assert "Customers first, then their orders." in html and "dag, up to 2 at once" in html
    assert "cron 30 1 * * * (Europe/Paris)" in html and "when job daily succeeds" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert re.findall(r'class="node" data-step="([^"]+)" data-status="(\w*)"', svg) == [
        (CUSTOMERS, "succeeded"),
        (ORDERS, "failed"),
    ]
    assert f'Coloured by the latest run, <a href="/runs/{failed}">' in html
    assert _runs_shown(html) == [(failed, "failed")]
    by_file = client.get("/jobs/nightly.yaml")  # a file reference resolves as on the command line
    assert by_file.status_code == 200 and _runs_shown(by_file.text) == [(failed, "failed")]


def test_job_page_without_runs(client: TestClient) -> None:
    html = client.get("/jobs/daily").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="node"') == 2 and svg.count('class="edge"') == 0
    assert 'data-status=""' in svg and "No runs recorded yet." in html


def test_triggers_page_shows_next_fire_times_in_their_zone_and_utc(
    client: TestClient, store: StateStore, project: Project
) -> None:
    fired = store.start_run("daily", json.dumps({}), tick_key="daily_at_two@2027-01-15T02:00:00Z")
    store.finish_run(fired, RunStatus.SUCCEEDED)
    html = client.get("/triggers").text
    assert '<meta http-equiv="refresh" content="10">' in html
    rows = {m.group(1): m.group(0) for m in re.finditer(r'data-trigger="([^"]+)".*?</tr>', html, re.S)}
    assert sorted(rows) == sorted(project.triggers)
    # the clock reads 2027-01-15 08:00 UTC
    paris = rows["paris_nightly"]
    assert "2027-01-16 01:30:00 CET (+0100)" in paris and "2027-01-16 00:30:00 UTC" in paris
    assert "cron 30 1 * * * (Europe/Paris)" in paris and '<a href="/jobs/nightly">nightly</a>' in paris
    assert "2027-01-16 02:00:00 UTC" in rows["daily_at_two"] and "(in 18h)" in rows["daily_at_two"]
    assert f'<a href="/runs/{fired}">run #{fired}</a>' in rows["daily_at_two"]
    assert "2027-01-15 08:15:00 UTC" in rows["every_15m"] and "every 15m" in rows["every_15m"]
    assert "on request: datakit run job daily" in rows["on_demand"]
    assert "when job daily succeeds" in rows["after_daily"]
    for unscheduled in ("on_demand", "after_daily", "paused"):
        assert '<td class="next-utc nowrap">—</td>' in rows[unscheduled]
    assert "disabled" in rows["paused"] and "<td>no</td>" in rows["paused"]
    assert "never" in rows["paris_nightly"]


def test_interval_trigger_without_start_continues_the_grid_of_its_last_tick(project: Project) -> None:
    from datakit.config.models.triggers import IntervalTrigger

    trigger = IntervalTrigger.model_validate(
        {"name": "tick", "type": "interval", "job": "daily", "schedule": {"every": "10m"}}
    )
    now = datetime.fromtimestamp(START, UTC)  # 08:00:00
    row = trigger_row(trigger, now, TickRecord("tick@2027-01-15T07:53:00Z", 3, START - 400))
    assert row.next_utc == "2027-01-15 08:03:00 UTC" and row.last_run == 3 and row.note is None
    unanchored = trigger_row(trigger, now, None)
    assert unanchored.next_utc == "2027-01-15 08:10:00 UTC"
    assert unanchored.note == "its grid starts when the scheduler first sees it"
    # the scheduler's cursor (kept in the store) anchors the grid before any run
    cursor = datetime(2027, 1, 15, 7, 56, tzinfo=UTC)
    anchored = trigger_row(trigger, now, None, cursor)
    assert anchored.next_utc == "2027-01-15 08:06:00 UTC" and anchored.note is None


def test_healthz_and_read_only(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.text == "ok"
    for path in ("/", "/runs/1", "/jobs/daily", "/triggers", "/healthz"):
        assert client.post(path).status_code == 405
        assert client.delete(path).status_code == 405


def test_details_become_tables_and_long_values_are_cut() -> None:
    tables = details_tables({"rows": [{"a": 1}] * 250, "blob": {"deep": ["x" * 300]}, "tags": ["a", "b"]})
    summary, rows = tables
    assert summary.rows == (("blob", summary.rows[0][1]), ("tags", "a, b"))
    assert len(summary.rows[0][1]) == 200 and summary.rows[0][1].endswith("…")
    assert rows.title == "rows" and len(rows.rows) == 200 and rows.truncated == 50


def test_durations_read_naturally() -> None:
    seconds = (0.25, 42.06, 185, 900, 7200, 7620, 273600)
    assert [duration(s) for s in seconds] == ["250ms", "42.1s", "3m 05s", "15m", "2h", "2h 07m", "3d 4h"]
    assert duration(None) == "—"


def test_an_abandoned_runs_open_attempt_ends_with_the_run_not_with_today() -> None:
    attempt = AttemptRecord(1, "running", 100.0, None, None, None, None, None)
    step = StepRecord("p.r", 0, "running", 1, None, None, None, 100.0, None, None, attempt_records=(attempt,))
    done = StepRecord(
        "p.s",
        1,
        "succeeded",
        1,
        None,
        None,
        None,
        90.0,
        100.0,
        None,
        attempt_records=(AttemptRecord(1, "succeeded", 90.0, 100.0, None, None, None, None),),
    )
    run = RunRecord(
        1, "j", None, "abandoned", None, 90.0, 190.0, 130.0, "h", 1, "gone", "{}", steps=(done, step)
    )
    chart = timeline(run, now=1_000_000.0)
    assert [(s.left, s.width) for row in chart.rows for s in row.segments] == [(0.0, 10.0), (10.0, 90.0)]
    assert chart.ticks[-1] == (100.0, "+1m 40s")


def test_a_large_log_shows_its_last_lines_and_links_to_the_whole_log(
    client: TestClient, store: StateStore, clock: FakeClock, project: Project
) -> None:
    log = "".join(
        f"12:00:01  {i} of 3000 OK created sql table model gold.m_{i:04d} <x>\n" for i in range(1, 3001)
    )
    store.log_max_bytes = 100_000  # the cap cuts this one's middle
    capped = record_run(store, clock, project, "daily", {DAILY_STEPS[0]: [Attempt(2, log=log)]})
    store.log_max_bytes = 10**7
    whole = record_run(store, clock, project, "daily", {DAILY_STEPS[0]: [Attempt(2, log=log)]})

    html = client.get(f"/runs/{whole}").text
    assert "12:00:01  3000 of 3000 OK created sql table model gold.m_3000 &lt;x&gt;" in html
    assert "  2961 of 3000 " in html and "  2960 of 3000 " not in html  # the last 40 lines
    assert "last 40 of 3000 lines" in html and "truncated" not in html
    link = re.search(r'<a href="(/runs/\d+/log\?step=[^"]+)">whole log</a> \(([\d.]+ KiB)\)', html)
    assert link is not None, html
    assert link.group(1).replace("&amp;", "&") == f"/runs/{whole}/log?step={DAILY_STEPS[0]}&attempt=1"
    page = client.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert page.text == log  # every line, as written (plain text: not escaped)

    html = client.get(f"/runs/{capped}").text
    omitted = int(re.search(r"truncated, (\d+) bytes cut from its middle", html).group(1))  # type: ignore[union-attr]
    text = client.get(f"/runs/{capped}/log?step={DAILY_STEPS[0]}&attempt=1").text
    assert text.startswith("12:00:01  1 of 3000 ") and text.endswith(
        "  3000 of 3000 OK created sql table model gold.m_3000 <x>\n"
    )
    assert f"\n[… truncated, {omitted} bytes …]\n" in text and len(text.encode()) <= 100_000

    missing = client.get(f"/runs/{whole}/log?step={DAILY_STEPS[0]}&attempt=2")
    assert missing.status_code == 404 and "has no log of step" in missing.text
    assert client.get(f"/runs/{whole}/log?step=x&attempt=one").status_code == 400


def test_a_small_log_has_no_link_to_a_whole_log(
    client: TestClient, store: StateStore, clock: FakeClock, project: Project
) -> None:
    run_id = record_run(store, clock, project, "daily", {DAILY_STEPS[0]: [Attempt(2, log="loaded 5 rows\n")]})
    html = client.get(f"/runs/{run_id}").text
    assert "loaded 5 rows" in html and "whole log" not in html
