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
    least-used domain first, then to the node that sorts first by name.

    Args:
        candidates: eligible nodes (see :func:`eligible`).
        count: how many nodes to choose; fewer are returned when fewer nodes exist.
        current: nodes that already hold a replica.

    Returns:
        The chosen node names, sorted.
    """
    nodes = {c.name: c for c in candidates}
    count = min(count, len(nodes))
    domains = sorted({c.domain for c in nodes.values()})
    # At most ceil(count / domains) replicas per domain keeps the spread balanced.
    cap = -(-count // max(len(domains), 1))
    chosen: list[str] = []
    per_domain: Counter[str] = Counter()
    for name in sorted(set(current)):
        node = nodes.get(name)
        if node and len(chosen) < count and per_domain[node.domain] < cap:
            chosen.append(name)
            per_domain[node.domain] += 1
    while len(chosen) < count:
        free = [c for c in nodes.values() if c.name not in chosen]
        best = min(free, key=lambda c: (per_domain[c.domain], c.domain, c.name))
        chosen.append(best.name)
        per_domain[best.domain] += 1
    return sorted(chosen)
