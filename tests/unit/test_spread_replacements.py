"""A node loss's replacements spread over the survivors by load (issue 16).

The predictive planner breaks ties between equally good nodes by load, but the operator
handed it every node at load 0: among the nodes of a zone, which save the same latency
for reads elsewhere, a new copy went to the node whose name sorts first. At 1,000
resources x 50 nodes every replacement of one lost node's 29 went to node-12 or node-14
(the first names of their zones), and the lost node-11 itself held 128 copies placed for
the minimum against ~40 on an average node: one more loss there leaves the most resources
short at once. Now the planner sees the load the spread sees, and a lapse's wave (each
plan sees the copies the earlier ones placed) spreads its replacements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.placement import DemandForecast
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.lapse import load_after
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.survey import planner_load
from statecast.core.reconcile.views import NodeView, ReplicaView, node_view, replica_view

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
ZONE = "topology.kubernetes.io/zone"
SIZE = 4096
SPEC = {"replicas": {"min": 2}, "prediction": {"interval": "10s", "horizon": "1m"}}

Load = dict[str, tuple[float, ...]]


def cluster(per_zone: Sequence[int]) -> list[NodeView]:
    """``node-1..`` dealt round-robin over the zones (as the scale benchmark's)."""
    views, counts, index = [], [0] * len(per_zone), 0
    while counts != list(per_zone):
        zone = index % len(per_zone)
        index += 1
        if counts[zone] == per_zone[zone]:
            continue
        counts[zone] += 1
        views.append(
            node_view(
                {
                    "metadata": {"name": f"node-{index}", "labels": {ZONE: f"zone-{zone}"}},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                }
            )
        )
    return views


def copy(name: str, node: str) -> ReplicaView:
    return replica_view(
        {
            "metadata": {"name": f"{name}-{node}", "namespace": "ns",
                         "creationTimestamp": "2026-11-28T10:00:00Z"},
            "spec": {"resource": name, "nodeName": node, "reason": "minimum"},
            "status": {"phase": "Ready", "bytes": SIZE},
        }
    )  # fmt: skip


def read_on(nodes: Sequence[NodeView], node: str) -> DemandView:
    """A forecast of reads on ``node`` only (where a copy is: every other node saves as
    little as the next, so the tie-break decides)."""
    names = tuple(n.name for n in nodes)
    mean = np.array([[50.0 if n == node else 0.0] * 6 for n in names])
    forecast = DemandForecast(names, mean, mean.copy(), mean.copy(), np.zeros(len(names)))
    return DemandView(forecast=PredictedDemand(forecast, ("naive",) * len(names), 10.0, NOW, 0.9))


def body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": name, "generation": 1},
            "spec": SPEC, "status": {}}  # fmt: skip


def wave(
    nodes: Sequence[NodeView], lost: str, survivors: Sequence[str], base: Load
) -> list[tuple[str, Load]]:
    """Plan one resource per survivor (a copy there and on ``lost``) one after the other,
    each seeing the copies the earlier ones placed, as the operator's wave does
    (:func:`statecast.controller.wave.plan`): each replacement's node and the load its
    plan saw."""
    added: dict[str, tuple[int, int]] = {}
    placed = []
    for i, survivor in enumerate(survivors):
        name = f"res-{i:03d}"
        seen = load_after(base, added)
        result = reconcile(
            Observed(
                body(name), nodes, [copy(name, survivor), copy(name, lost)], now=NOW,
                demand=read_on(nodes, survivor), agents_down=frozenset({lost}), node_load=seen,
            )
        )  # fmt: skip
        adds = [c.node for c in result.changes if c.action == "add"]
        assert len(adds) == 1, result.changes
        count, size = added.get(adds[0], (0, 0))
        added[adds[0]] = (count + 1, size + SIZE)
        placed.append((adds[0], seen))
    return placed


def test_a_waves_replacements_go_round_the_least_loaded_nodes_not_to_the_first_name() -> None:
    nodes = cluster([4, 4, 4])  # zone-0: node-1,4,7,10; zone-1: 2,5,8,11; zone-2: 3,6,9,12
    idle: Load = {n.name: (10.0, 10.0 * SIZE, 0.0) for n in nodes}
    placed = wave(nodes, "node-2", ["node-1"] * 12, idle)
    counts: dict[str, int] = {}
    for node, _ in placed:
        counts[node] = counts.get(node, 0) + 1
    # 12 replacements over the 7 nodes of the zones the survivor is not in (node-2 lost):
    # before, all 12 went to one node (the first name of a new zone)
    assert set(counts) == {"node-5", "node-8", "node-11", "node-3", "node-6", "node-9", "node-12"}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_a_single_replacement_goes_to_the_least_loaded_node_of_a_new_zone() -> None:
    nodes = cluster([2, 2, 2])  # zone-0: node-1,4; zone-1: node-2,5; zone-2: node-3,6
    load: Load = {"node-3": (40.0, 0.0, 0.0), "node-5": (41.0, 0.0, 0.0), "node-6": (7.0, 0.0, 0.0)}
    [(node, _)] = wave(nodes, "node-2", ["node-1"], load)
    assert node == "node-6"


@settings(max_examples=40, deadline=None)
@given(
    per_zone=st.lists(st.integers(2, 4), min_size=2, max_size=3),
    data=st.data(),
)
def test_each_replacement_of_a_wave_goes_to_a_least_loaded_node_of_a_new_zone(
    per_zone: list[int], data: st.DataObject
) -> None:
    nodes = cluster(per_zone)
    zone = {n.name: n.labels[ZONE] for n in nodes}
    names = sorted(zone)
    lost = data.draw(st.sampled_from(names), label="lost")
    base: Load = {
        n: (float(data.draw(st.integers(0, 6))), 0.0, float(data.draw(st.integers(0, 2))))
        for n in names
    }
    alive = [n for n in names if n != lost]
    survivors = data.draw(st.lists(st.sampled_from(alive), min_size=1, max_size=12), label="s")
    for (node, seen), survivor in zip(wave(nodes, lost, survivors, base), survivors, strict=True):
        options = [n for n in alive if zone[n] != zone[survivor]]
        best = min(seen.get(n, (0.0, 0.0, 0.0)) for n in options)
        assert node in options
        assert seen.get(node, (0.0, 0.0, 0.0)) == best  # never a busier node than needed


def test_the_planners_load_keeps_the_order_of_the_nodes_totals() -> None:
    # (replicas of other resources, their bytes, accesses/s); a node holding the
    # resource's own copy counts it again, so every resource sees the same figures
    load: Mapping[str, tuple[float, ...]] = {
        "a": (3.0, 30.0, 0.0), "b": (1.0, 10.0, 0.0), "c": (1.0, 10.0, 9.0), "d": (2.0, 0.0, 0.0),
    }  # fmt: skip
    assert planner_load(load, {}) == {"a": 1.0, "b": 0.0, "c": 1 / 3, "d": 2 / 3}
    assert planner_load(load, {"b": 20}) == {"a": 1.0, "b": 2 / 3, "c": 0.0, "d": 1 / 3}
    assert planner_load({"a": (1.0,), "b": (1.0,)}, {}) == {"a": 0.0, "b": 0.0}
    assert planner_load({}, {}) == {}
