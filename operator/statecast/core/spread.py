"""Spread a resource's replicas over nodes, balanced across a topology label.

This is the plain spread that places ``replicas.min`` copies; the forecast-driven
planner decides beyond that. The choice is deterministic: for the same nodes and
current replicas it always picks the same set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A node that may hold a replica."""

    name: str
    """Node name."""
    domain: str
    """Value of the spread label (a zone), or empty when the node has none."""
    labels: Mapping[str, str]
    """All node labels, for node selectors."""
    ready: bool = True
    """Whether the node is Ready and schedulable."""
    load: tuple[float, ...] = ()
    """How busy the node is already, compared in order (fewer first): replicas of other
    resources it holds, their bytes, its agent's accesses per second. New copies go to
    the least loaded node of a domain, not to the one that sorts first."""


def eligible(candidates: Iterable[Candidate], node_selector: Mapping[str, str]) -> list[Candidate]:
    """The ready candidates whose labels satisfy ``node_selector``, sorted by name."""
    return sorted(
        (
            c
            for c in candidates
            if c.ready and all(c.labels.get(k) == v for k, v in node_selector.items())
        ),
        key=lambda c: c.name,
    )


def spread(candidates: Iterable[Candidate], count: int, current: Iterable[str] = ()) -> list[str]:
    """Choose ``count`` nodes balanced over domains, keeping current replicas where possible.

    Current replicas on eligible nodes stay (so a spread never moves state for no
    reason) as long as keeping them leaves the domains balanced; new replicas go to the
    least-used domain first (among equals, the one whose least loaded free node is least
    loaded), then to its least loaded node (:attr:`Candidate.load`), the name breaking
    ties. Without loads that is the node that sorts first, as before: every resource's
    first copies then landed on one node.

    Args:
        candidates: eligible nodes (see :func:`eligible`).
        count: how many nodes to choose; fewer are returned when fewer nodes exist.
        current: nodes that already hold a replica.

    Returns:
        The chosen node names, sorted.
    """
    nodes = {c.name: c for c in candidates}
    count = min(count, len(nodes))
    members: dict[str, list[str]] = {}
    for name in sorted(nodes, key=lambda n: (nodes[n].load, n)):  # least loaded first
        members.setdefault(nodes[name].domain, []).append(name)
    current = set(current)
    held = Counter(nodes[n].domain for n in current if n in nodes)
    free_load = {
        d: next((nodes[n].load for n in names if n not in current), ())
        for d, names in members.items()
    }
    # Share the count out one at a time to the least-used domain with a node left, so no
    # domain is short of another by more than one unless it has no more nodes; among
    # equals, a domain whose replicas are not all kept yet first (state stays put).
    quota: Counter[str] = Counter()
    for _ in range(count):
        open_ = [d for d in members if quota[d] < len(members[d])]
        best = min(open_, key=lambda d: (quota[d], quota[d] >= held[d], free_load[d], d))
        quota[best] += 1
    chosen: list[str] = []
    for domain, names in members.items():
        kept = [n for n in names if n in current]
        chosen += (kept + [n for n in names if n not in kept])[: quota[domain]]
    return sorted(chosen)
