"""Evaluate `--select`/`--exclude` on a selection graph: the runnable nodes chosen, each with why.

dbt's order: every selector of `--select` (a union) with its operators, minus every selector of
`--exclude`, then the tests of what was chosen as each dbt step's `indirect_selection` says (`eager`:
a test of any chosen node; `buildable`: one whose every parent is chosen or upstream of the chosen;
`cautious`: one whose every parent is chosen; `empty`: none), excluded tests excepted.

An error rather than a silent no-op: a criterion that matches nothing (with the closest names), a
selector that matches only what no step of the job runs, and a selection left empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from datakit.errors import UsageError, did_you_mean
from datakit.orchestrate.selection.grammar import Criterion, Selector
from datakit.orchestrate.selection.methods import StateLookup, known_values, matches

if TYPE_CHECKING:
    from datakit.orchestrate.selection.graph import SelectionGraph

IndirectOf = Mapping[str, str]
"""Test node id -> the indirect selection of the step that runs it."""


class NothingSelected(UsageError):
    """A selection that runs nothing, or a criterion that matches nothing."""


def evaluate(
    graph: SelectionGraph,
    select: Sequence[Selector],
    exclude: Sequence[Selector],
    *,
    job: str,
    state: StateLookup,
    indirect: IndirectOf,
) -> dict[str, str]:
    """The runnable node ids chosen, each with the reason it was (in graph order)."""
    chosen: dict[str, str] = {}
    if select:
        for selector in select:
            found = _selector(graph, selector, state, "--select", job)
            runnable = {n: why for n, why in found.items() if graph.nodes[n].runnable}
            if not runnable:
                raise _only_elsewhere(graph, selector, found, job)
            for node, why in runnable.items():
                chosen.setdefault(node, why)
    else:
        chosen = {node.id: "the whole job" for node in graph.runnable()}
    excluded: set[str] = set()
    for selector in exclude:
        excluded |= set(_selector(graph, selector, state, "--exclude", job))
    chosen = {n: why for n, why in chosen.items() if n not in excluded}
    for test, why in _indirect_tests(graph, set(chosen), indirect).items():
        if test not in excluded:
            chosen.setdefault(test, why)
    if not chosen:
        raise NothingSelected(
            f"the selection runs nothing of job {job}: --exclude removed all of it",
            hint="narrow --exclude, or widen --select",
        )
    return {node: chosen[node] for node in graph.nodes if node in chosen}


def _selector(
    graph: SelectionGraph, selector: Selector, state: StateLookup, option: str, job: str
) -> dict[str, str]:
    """The nodes (runnable or not) one selector reaches, with why: the intersection of its criteria."""
    result: dict[str, str] | None = None
    for criterion in selector.criteria:
        reached = _criterion(graph, criterion, state, option, job)
        result = reached if result is None else {n: why for n, why in result.items() if n in reached}
    return result or {}


def _criterion(
    graph: SelectionGraph, criterion: Criterion, state: StateLookup, option: str, job: str
) -> dict[str, str]:
    base = matches(graph, criterion, state)
    if not base:
        raise _no_match(graph, criterion, option, job)
    text = criterion.text
    reached = dict.fromkeys(sorted(base), f"matches {text}")
    down = criterion.downstream if not criterion.at else None
    if down != 0:
        for node, origin in graph.downstream(base, down).items():
            reached.setdefault(node, f"downstream of {graph.nodes[origin].label} ({text})")
    if criterion.upstream != 0:
        for node, origin in graph.upstream(base, criterion.upstream).items():
            reached.setdefault(node, f"upstream of {graph.nodes[origin].label} ({text})")
    if criterion.at:
        for node, origin in graph.upstream(set(reached), None).items():
            reached.setdefault(node, f"needed by {graph.nodes[origin].label} ({text})")
    return reached


def _indirect_tests(graph: SelectionGraph, chosen: set[str], indirect: IndirectOf) -> dict[str, str]:
    """The tests the chosen nodes bring along (see the module docstring)."""
    if not chosen:
        return {}
    upstream: set[str] | None = None
    found: dict[str, str] = {}
    for test, mode in indirect.items():
        if test in chosen or mode == "empty":
            continue
        parents = {p for p in graph.parents.get(test, ()) if graph.nodes[p].kind == "dbt"}
        if not parents:
            continue
        if mode == "eager":
            hit = bool(parents & chosen)
        elif mode == "cautious":
            hit = parents <= chosen
        else:  # buildable
            if upstream is None:
                upstream = set(graph.upstream(chosen, None)) | chosen
            hit = bool(parents & chosen) and parents <= upstream
        if hit:
            tested = sorted(graph.nodes[p].label for p in parents & chosen)
            found[test] = f"tests {', '.join(tested)} ({mode} indirect selection)"
    return found


def _no_match(graph: SelectionGraph, criterion: Criterion, option: str, job: str) -> NothingSelected:
    method = criterion.method
    known = known_values(graph, method)
    value = criterion.value
    what = f"{method}:{value}" if method else value
    guess = did_you_mean(value, known)
    if guess is None and known:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        guess = f"{'names' if method is None else method + ' values'} in job {job}: {shown}"
    return NothingSelected(
        f"{option} {criterion.text}: nothing in job {job} matches {what}",
        hint=guess or f"job {job} has nothing to select by {method or 'name'}",
    )


def _only_elsewhere(
    graph: SelectionGraph, selector: Selector, found: dict[str, str], job: str
) -> NothingSelected:
    labels = sorted({graph.nodes[n].label for n in found})
    shown = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
    return NothingSelected(
        f"--select {selector.text} matches only what job {job} does not run ({shown})",
        hint="a dbt node must be selected by one of the job's dbt steps to run; "
        "`datakit plan job " + job + "` lists what the job runs",
    )
