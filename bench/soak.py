"""Soak benchmark: `datakit serve` left running, with an interval trigger and a stream of webhooks.

What runs is the real daemon, in its own process, on the scaffold project (a SQLite source, a DuckDB
warehouse, the SQLite state store): job `daily` fires every `--interval` seconds, and a signed webhook
delivery for job `hooked` (the same pipeline: the two jobs queue for the DuckDB file) arrives every
`--hook-every` seconds — a new delivery id each time, answered 202 (a run starts) or 409 (the job is
busy). The project keeps `--keep` runs a job (`retention.max_runs`) and prunes every `--prune-every`
seconds, so that retention reaches its steady state within the first minute.

Every `--sample-every` seconds the benchmark samples the server's resident memory (VmRSS), its open file
descriptors, the processes of its runs (every process carries a tag in its environment, inherited by
whatever the server starts, so a step process that outlives its run is found even once re-parented),
and the state store's size on disk (file and WAL). The server logs each prune with the store's size
before and after it; the size after a prune, against the runs recorded by then, is the steady-state
measure (between prunes the store grows by the runs since the last one and by its WAL).

At the end the deliveries stop, the active runs finish, the server gets SIGTERM, and any tagged process
still alive 10 s after the server has exited counts as leaked.

    .venv/bin/python bench/soak.py                # 10 minutes
    .venv/bin/python bench/soak.py --minutes 1    # the suite's variant (make bench)

Baselines measured in the same run: the store's growth per run before retention first applies (what it
grew by without retention), and the server's memory after warm-up. Last lines: `soak_runs`,
`soak_rss_growth_mb_per_100_runs` (goal < 5), `soak_state_kb_per_run` (after retention reaches its
steady state; goal: flat, about 0), `soak_leaked_processes` (must be 0).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

from pydantic import SecretStr  # noqa: E402
from tests.webhook_signing import signed_headers  # noqa: E402

from datakit.config.scaffold import init_project  # noqa: E402
from datakit.orchestrate.store.sql import StateStore, sqlite_url  # noqa: E402

SECRET = SecretStr("whsec-soak-7f3a1c")
SECRET_VAR = "DATAKIT_SOAK_HOOK_SECRET"
TAG = "DATAKIT_SOAK_TAG"
PRUNED = re.compile(
    r"retention: removed (\d+) run\(s\).*; store ([\d.]+) (B|KB|MB|GB) -> ([\d.]+) (B|KB|MB|GB)"
)
UNITS = {"B": 1 / 1024, "KB": 1.0, "MB": 1024.0, "GB": 1024.0 * 1024}


TRIGGERS = {
    "every_few_seconds.yaml": "trigger:\n  name: every_few_seconds\n  type: interval\n  job: daily\n"
    "  schedule: {{every: {interval}s}}\n",
    "orders_hook.yaml": "trigger:\n  name: orders_hook\n  type: webhook\n  job: hooked\n"
    "  webhook: {{secret_key: orders_hook_secret}}\n",
}
HOOKED = "job:\n  name: hooked\n  pipelines: [shop_bronze]\n  retries: {max_attempts: 20, retry_delay: 0.5}\n"


def make_project(root: Path, args: argparse.Namespace) -> None:
    init_project(root)
    config = root / "config"
    for name, text in TRIGGERS.items():
        (config / "triggers" / name).write_text(text.format(interval=args.interval), encoding="utf-8")
    (config / "jobs" / "hooked.yaml").write_text(HOOKED, encoding="utf-8")
    with (config / "secrets_mapping.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write(f"  orders_hook_secret:\n    env_var: {SECRET_VAR}\n")
    with (root / "datakit.yaml").open("a", encoding="utf-8") as project:
        project.write(
            f"retention:\n  max_age: null\n  max_runs: {args.keep}\n  prune_every: {args.prune_every}s\n"
        )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(root: Path, port: int, log: Path, tag: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, SECRET_VAR: SECRET.get_secret_value(), TAG: tag, "PYTHONPATH": str(REPO / "src")}
    with log.open("wb") as out:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "datakit",
                "--project",
                str(root),
                "serve",
                "--port",
                str(port),
                "--poll",
                "0.5",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 120
    while "serving" not in log.read_text(errors="replace") and child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            raise SystemExit("datakit serve did not start within 120 s")
        time.sleep(0.1)
    if child.poll() is not None:
        raise SystemExit(f"datakit serve did not start:\n{log.read_text()[-3000:]}")
    return child


def tagged(tag: str) -> list[int]:
    """Living processes whose environment carries the tag (a zombie has none left: not counted)."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if needle in Path(entry.path, "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def deliver(port: int, number: int) -> int:
    """POST one signed delivery (a new id); the HTTP status of the answer."""
    body = b'{"event": "orders.updated"}'
    headers = signed_headers(body, SECRET, int(time.time()), f"soak-{number}-{uuid.uuid4().hex[:8]}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/hooks/orders_hook", body, {**headers, "Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


@dataclass
class Sample:
    at: float
    runs: int
    rss_mb: float
    fds: int
    processes: int
    store_kb: float


@dataclass
class Prune:
    runs: int
    removed: int
    before_kb: float
    after_kb: float


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (None with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


class Soak:
    """One soak: the server, its store and log, and what was sampled."""

    def __init__(self, root: Path, log: Path, child: subprocess.Popen[bytes], tag: str, port: int) -> None:
        self.root, self.log, self.child, self.tag, self.port = root, log, child, tag, port
        self.db = root / ".datakit" / "state.db"
        self.store = StateStore(sqlite_url(self.db))
        self.samples: list[Sample] = []
        self.prunes: list[Prune] = []
        self.answers: dict[int, int] = {}
        self.deliveries = 0
        self.began = time.monotonic()
        self._log_read = 0

    def runs_so_far(self) -> int:
        """Runs started so far: the newest run's id (ids are never reused: the newest run is kept)."""
        latest = self.store.list_runs(limit=1)
        return latest[0].id if latest else 0

    def sample(self) -> Sample:
        runs = self.runs_so_far()
        size = sum(
            p.stat().st_size for p in (self.db, self.db.with_name(self.db.name + "-wal")) if p.exists()
        )
        processes = [pid for pid in tagged(self.tag) if pid != self.child.pid]
        fds = len(os.listdir(f"/proc/{self.child.pid}/fd"))
        at = time.monotonic() - self.began
        self.samples.append(Sample(at, runs, rss_mb(self.child.pid), fds, len(processes), size / 1024))
        text = self.log.read_text(errors="replace")
        for match in PRUNED.finditer(text, self._log_read):
            removed, before, unit_before, after, unit_after = match.groups()
            kb_before, kb_after = float(before) * UNITS[unit_before], float(after) * UNITS[unit_after]
            self.prunes.append(Prune(runs, int(removed), kb_before, kb_after))
            self._log_read = match.end()
        return self.samples[-1]

    def deliver(self) -> None:
        self.deliveries += 1
        status = deliver(self.port, self.deliveries)
        self.answers[status] = self.answers.get(status, 0) + 1

    def run(self, seconds: float, hook_every: float, sample_every: float) -> None:
        """Deliveries and samples until `seconds` are over; then the active runs finish."""
        end = self.began + seconds
        next_sample = next_hook = self.began
        while time.monotonic() < end:
            if time.monotonic() >= next_hook:
                self.deliver()
                next_hook += hook_every
            if time.monotonic() >= next_sample:
                last = self.sample()
                next_sample += sample_every
                print(
                    f"t={last.at:6.0f}s runs={last.runs:4d} rss={last.rss_mb:6.1f}MB fds={last.fds:3d} "
                    f"run processes={last.processes:2d} store={last.store_kb:8.1f}KB "
                    f"prunes={len(self.prunes)}",
                    flush=True,
                )
            time.sleep(max(0.0, min(next_hook, next_sample) - time.monotonic()))
        deadline = time.monotonic() + 300
        while self.store.active_runs() and time.monotonic() < deadline:
            time.sleep(0.5)  # the last runs finish before the server stops
        self.sample()

    def stop(self) -> list[int]:
        """SIGTERM the server; the tagged processes still alive 10 s after it exited (killed then)."""
        self.child.send_signal(signal.SIGTERM)
        try:
            self.child.wait(120)
        except subprocess.TimeoutExpired:
            self.child.kill()
        self.store.close()
        gone_by = time.monotonic() + 10
        while tagged(self.tag) and time.monotonic() < gone_by:
            time.sleep(0.1)
        leaked = tagged(self.tag)
        for pid in leaked:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
            print(f"! leaked: {command!r}")
            os.kill(pid, signal.SIGKILL)
        return leaked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--interval", type=int, default=5, help="seconds between the interval trigger's ticks"
    )
    parser.add_argument("--hook-every", type=float, default=3.0, help="seconds between webhook deliveries")
    parser.add_argument("--keep", type=int, default=1, help="retention.max_runs of the project")
    parser.add_argument("--prune-every", type=int, default=10, help="retention.prune_every, seconds")
    parser.add_argument("--sample-every", type=float, default=2.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shop"
        make_project(root, args)
        log = Path(tmp) / "serve.log"
        port, tag = free_port(), uuid.uuid4().hex
        soak = Soak(root, log, start_serve(root, port, log, tag), tag, port)
        try:
            soak.run(args.minutes * 60, args.hook_every, args.sample_every)
        finally:
            leaked = soak.stop()
        output = log.read_text(errors="replace")
        print(f"runs failed: {output.count('(run_failed)')} (each is in the server's log)")
        if soak.child.returncode != 0:
            print(f"! datakit serve exited {soak.child.returncode}:\n{output[-3000:]}")
        report(soak.samples, soak.prunes, soak.answers, leaked)


def report(samples: list[Sample], prunes: list[Prune], answers: dict[int, int], leaked: list[int]) -> None:
    runs = samples[-1].runs
    warm = [s for s in samples if s.at >= samples[-1].at / 3]  # after warm-up: the last two thirds
    rss = slope([(s.runs, s.rss_mb) for s in warm])
    removing = [p for p in prunes if p.removed > 0]
    # steady state: every prune from the first that removed runs on (ticks and delivery ids too)
    steady = prunes[prunes.index(removing[0]) :] if removing else []
    state = slope([(p.runs, p.after_kb) for p in steady])
    before = removing[0].before_kb / removing[0].runs if removing and removing[0].runs else None
    print(f"deliveries answered: {dict(sorted(answers.items()))}")
    after = [(p.runs, round(p.after_kb)) for p in steady]
    shown = after if len(after) <= 8 else [*after[:4], "…", *after[-4:]]
    print(f"prunes: {len(prunes)}, {len(removing)} removed runs; (runs so far, store KB) after each: {shown}")
    print(
        f"server RSS: {samples[0].rss_mb:.1f} MB at start, {warm[0].rss_mb:.1f} MB after warm-up, "
        f"{samples[-1].rss_mb:.1f} MB at the end (max {max(s.rss_mb for s in samples):.1f})"
    )
    fds = [s.fds for s in samples]
    print(f"open fds: {fds[0]} at start, {fds[-1]} at the end, max {max(fds)}")
    print(f"processes of runs: max {max(s.processes for s in samples)}, at the end {samples[-1].processes}")
    sizes = [s.store_kb for s in samples]
    print(f"store on disk: max {max(sizes):.0f} KB, at the end {sizes[-1]:.0f} KB")
    if before is not None:
        print(f"soak_state_kb_per_run_before_retention: {before:.1f}")
    if before and state is not None:
        print(f"soak_state_ratio_to_before_retention: {state / before:.3f}")
    print(f"soak_fd_growth: {samples[-1].fds - samples[0].fds}")
    print(f"soak_runs: {runs}")
    print(f"soak_rss_growth_mb_per_100_runs: {'n/a' if rss is None else f'{rss * 100:.2f}'}")
    print(f"soak_state_kb_per_run: {'n/a' if state is None else f'{state:.2f}'}")
    print(f"soak_leaked_processes: {len(leaked)}")


if __name__ == "__main__":
    main()
