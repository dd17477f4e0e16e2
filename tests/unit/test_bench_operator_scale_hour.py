"""The scale benchmark since session 12: a node loss that leaves tens of resources short
(pinned demand), a spec change timed even when the watch sees its Replica before the
PATCH's answer, and the RSS and API traffic read through an hour's run."""

from __future__ import annotations

from typing import Any

from bench.operator_scale import (
    ReplicaWatch,
    api_blocks,
    changed_indices,
    pinned_resources,
    rss_figures,
    spec_changes,
)
from bench.scale_agents import DemandModel


def replica(resource: str, node: str) -> dict[str, Any]:
    return {"spec": {"resource": resource, "nodeName": node}, "status": {}}


class FastOperator:
    """A custom-objects API whose PATCH is answered after the operator's new Replica
    reached the benchmark's watch (the operator is faster than the answer's way back)."""

    def __init__(self, watch: ReplicaWatch) -> None:
        self.watch = watch

    def patch_namespaced_custom_object(self, *args: Any) -> None:
        name = args[4]
        self.watch._seen("ADDED", replica(name, "node-9"))


def test_a_spec_change_seen_before_its_answer_is_timed_at_zero_not_at_a_later_copy() -> None:
    watch = ReplicaWatch({})
    watch._seen("ADDED", replica("res-0000", "node-1"))
    watch._seen("ADDED", replica("res-0000", "node-2"))
    api = {"custom": FastOperator(watch)}
    times, patched, wanted = spec_changes(api, watch, ["res-0000"], 1, timeout=0.5, pause=0.0)
    # before session 12 the change was timed at the next Replica (here: the timeout)
    assert times == [0.0]
    assert wanted == {"res-0000": 3}
    assert list(patched) == ["res-0000"]


def test_pinned_resources_are_spread_and_never_a_spec_changed_one() -> None:
    changed = changed_indices(1000, 20)
    assert changed[:3] == [0, 50, 100] and len(changed) == 20
    pinned = pinned_resources(1000, 40, changed)
    assert len(pinned) == len(set(pinned)) == 40
    assert not set(pinned) & set(changed)
    assert pinned[0] < 50 and pinned[-1] > 950, "spread over the names"
    assert pinned_resources(1000, 0, changed) == []
    assert pinned_resources(3, 10, [0]) == [1, 2], "at most the free ones"


def test_a_pinned_resource_is_read_on_its_node_only_and_never_moves() -> None:
    resources = [("scale", f"r{i}") for i in range(6)]
    nodes = [f"node-{i}" for i in range(1, 6)]
    model = DemandModel(resources, nodes, shift_s=120.0, pinned={5: 4}, start=0.0)
    for now in (0.0, 130.0, 250.0, 1000.0):
        readers = {n for n in range(5) if 5 in model.rates(n, now)}
        assert readers == {4}
    # the others still move (resource 2: three readers from node 2*7 % 5 = 4, then 0)
    assert {n for n in range(5) if 2 in model.rates(n, 0.0)} == {4, 0, 1}
    assert {n for n in range(5) if 2 in model.rates(n, 130.0)} == {0, 1, 2}
    unpinned = DemandModel(resources, nodes, shift_s=120.0, start=0.0)
    assert {n for n in range(5) if 5 in unpinned.rates(n, 0.0)} != {4}


def test_the_rss_an_hour_in_is_the_first_reading_at_or_after_the_hour() -> None:
    samples = [(30.0, 170.0, 20.0), (1800.0, 260.0, 900.0), (3590.0, 250.0, 1700.0)]
    short = rss_figures(samples, 3600.0)
    assert short["operator_rss_hour_mb"] is None, "a run shorter than an hour"
    assert short["operator_rss_max_mb"] == 260.0
    full = rss_figures([*samples, (3601.2, 255.0, 1710.0)], 3600.0)
    assert full["operator_rss_hour_mb"] == 255.0
    assert full["operator_rss_samples"][-1] == [3601.2, 255.0, 1710.0]
    assert rss_figures([], 3600.0)["operator_rss_max_mb"] is None


def test_api_blocks_leave_the_heartbeats_out_and_start_at_the_settled_window() -> None:
    readings = [
        (0.0, {("GET", "leases"): 0.0}),
        (300.0, {("PATCH", "replicas/status"): 300.0, ("PUT", "leases"): 900.0}),
        (600.0, {("PATCH", "replicas/status"): 900.0, ("PUT", "leases"): 1800.0}),
        (900.0, {("PATCH", "replicas/status"): 1200.0, ("PUT", "leases"): 2700.0,
                 ("POST", "replicas"): 300.0}),
    ]  # fmt: skip
    blocks = api_blocks(readings, 300.0)
    assert blocks == [
        {"from_s": 300.0, "to_s": 600.0, "api_requests_per_s": 2.0},
        {"from_s": 600.0, "to_s": 900.0, "api_requests_per_s": 2.0},
    ]
