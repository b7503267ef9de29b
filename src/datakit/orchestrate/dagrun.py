"""Walk a DAG with bounded concurrency: generic, no domain types (STYLE.md: small DAG separate from domain).

`run_dag` calls `work(node)` for every node once its dependencies succeeded, at most `limit` at a time
(threads: the work of a node is expected to wait on I/O or a child process), nodes of equal readiness in
the order given. Nodes sharing an `exclusive` key never run together. A node fails when `work` returns
False or raises. Then, with `keep_going`, everything downstream of it is skipped and independent branches
finish; without it, nothing new starts (everything pending is skipped) and running nodes finish.

Bookkeeping is O(edges) overall (in-degree counters and a ready heap), so the walker itself costs
microseconds per node even for thousands of nodes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from enum import StrEnum
from typing import Generic, TypeVar

from datakit.utils.dag import DAG

N = TypeVar("N", bound=Hashable)


class NodeState(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class _Walk(Generic[N]):
    def __init__(
        self,
        nodes: Sequence[N],
        deps: Mapping[N, Iterable[N]],
        exclusive: Mapping[N, Iterable[str]],
        done: Iterable[N],
    ) -> None:
        self.rank = {node: i for i, node in enumerate(nodes)}
        self.deps = {node: tuple(deps.get(node, ())) for node in nodes}
        DAG(self.deps).order()  # raises CycleFound before anything runs
        self.keys = {node: tuple(exclusive.get(node, ())) for node in nodes}
        self.children: dict[N, list[N]] = {node: [] for node in nodes}
        for node, ups in self.deps.items():
            for up in ups:
                self.children[up].append(node)
        self.waiting = {node: len(ups) for node, ups in self.deps.items()}
        self.state: dict[N, NodeState] = {}
        self.ready: list[tuple[int, N]] = []
        self.held: set[str] = set()
        for node in nodes:
            if self.waiting[node] == 0:
                heapq.heappush(self.ready, (self.rank[node], node))
        for node in done:
            if node in self.rank:
                self.finish(node, NodeState.SUCCEEDED, release=False)
        self.ready = [(r, n) for r, n in self.ready if n not in self.state]
        heapq.heapify(self.ready)

    def take(self) -> N | None:
        """The first ready node whose exclusive keys are free (it is removed from the ready heap)."""
        blocked: list[tuple[int, N]] = []
        chosen: N | None = None
        while self.ready:
            item = heapq.heappop(self.ready)
            if any(key in self.held for key in self.keys[item[1]]):
                blocked.append(item)
                continue
            chosen = item[1]
            self.held.update(self.keys[chosen])
            break
        for item in blocked:
            heapq.heappush(self.ready, item)
        return chosen

    def finish(self, node: N, state: NodeState, *, release: bool = True) -> None:
        self.state[node] = state
        if release:
            self.held.difference_update(self.keys[node])
        if state is not NodeState.SUCCEEDED:
            return
        for child in self.children[node]:
            self.waiting[child] -= 1
            if self.waiting[child] == 0 and child not in self.state:
                heapq.heappush(self.ready, (self.rank[child], child))

    def skip_downstream(self, node: N) -> None:
        for child in DAG(self.deps).downstream(node):
            self.state.setdefault(child, NodeState.SKIPPED)
        self.ready = [(r, n) for r, n in self.ready if n not in self.state]
        heapq.heapify(self.ready)

    def skip_pending(self) -> None:
        for node in self.rank:
            self.state.setdefault(node, NodeState.SKIPPED)
        self.ready = []


def run_dag(
    nodes: Sequence[N],
    deps: Mapping[N, Iterable[N]],
    work: Callable[[N], bool],
    *,
    limit: int,
    keep_going: bool,
    exclusive: Mapping[N, Iterable[str]] | None = None,
    done: Iterable[N] = (),
    on_abort: Callable[[], None] | None = None,
) -> dict[N, NodeState]:
    """Run `work` over the DAG; returns each node's final state. `done` nodes count as succeeded.

    When the walk itself is interrupted (Ctrl-C, SIGTERM turned into an exception), `on_abort` is
    called before waiting for the running nodes — its job is to make them stop — and the error re-raised.
    """
    walk = _Walk(nodes, deps, exclusive or {}, done)
    with ThreadPoolExecutor(max_workers=max(limit, 1), thread_name_prefix="datakit-step") as pool:
        try:
            stopped = _drive(walk, pool, work, limit, keep_going)
        except BaseException:
            if on_abort is not None:
                on_abort()
            raise
    if stopped:
        walk.skip_pending()
    # a node never reached (its dependency failed without keep_going) is skipped too
    return {node: walk.state.get(node, NodeState.SKIPPED) for node in nodes}


def _drive(
    walk: _Walk[N], pool: ThreadPoolExecutor, work: Callable[[N], bool], limit: int, keep_going: bool
) -> bool:
    """Submit ready nodes and collect finished ones until nothing runs; True if stopped by a failure."""
    stopped = False
    running: dict[Future[bool], N] = {}
    while True:
        while not stopped and len(running) < limit:
            node = walk.take()
            if node is None:
                break
            running[pool.submit(work, node)] = node
        if not running:
            return stopped
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            node = running.pop(future)
            ok = future.exception() is None and future.result()
            walk.finish(node, NodeState.SUCCEEDED if ok else NodeState.FAILED)
            if not ok and keep_going:
                walk.skip_downstream(node)
            elif not ok:
                stopped = True
