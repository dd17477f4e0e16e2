"""The scale benchmark's node-loss measure: which resources a loss left short."""

from __future__ import annotations

import time
from pathlib import Path

from bench.apiserver_audit import Write, read_requests
from bench.operator_scale import (
    ReplicaWatch,
    holders_at,
    node_to_lose,
    served_times,
    spec_minimums,
    split_windows,
    until_between_steps,
)

from tests.unit.test_bench_api_traffic import entry, write_log

OPERATOR = "system:serviceaccount:statecast-system:statecast-operator"


def create(name: str, at: float) -> Write:
    return Write("create", "replicas", name, OPERATOR, 201, at, at)


def test_a_spec_changed_resource_is_judged_against_its_spec_minimum_not_its_copies() -> None:
    # res-0001's minimum was raised to 3 and the demand added a fourth copy: losing
    # node-1 leaves it 3 copies, not short; res-0000 (minimum 2, two copies) is short
    bodies = [
        {"metadata": {"name": "res-0001"}, "spec": {"replicas": {"min": 3}}},
        {"metadata": {"name": "res-0002"}, "spec": {}},
    ]
    minimums = {"res-0000": 2, "res-0001": 2, **spec_minimums(bodies)}
    assert minimums == {"res-0000": 2, "res-0001": 3, "res-0002": 2}
    writes = [
        create("res-0000-node-1", 1.0),
        create("res-0000-node-2", 1.0),
        *(create(f"res-0001-node-{n}", 1.0) for n in (1, 2, 3, 4)),
        create("res-0000-node-5", 12.0),  # the replacement, 2 s after the expiry
    ]
    holders = ["res-0000", "res-0001"]
    served = served_times(
        writes, ["res-0000", "res-0001"], 0.0, {}, ("node-1", 10.0, minimums, holders)
    )
    assert served["short"] == {"res-0000": 2.0}


def test_the_node_lost_is_the_one_whose_loss_leaves_the_most_resources_short() -> None:
    holders = {"node-2": ["a", "b", "c"], "node-3": ["d", "e"], "node-4": ["f", "g"]}
    counts = {"a": 3, "b": 4, "c": 3, "d": 2, "e": 2, "f": 2, "g": 2}
    assert node_to_lose(holders, counts, {}) == "node-3"  # two short (a tie: the name)
    assert node_to_lose(holders, counts, {"a": 3, "b": 4, "c": 3}) == "node-2"  # three
    assert node_to_lose({"node-2": ["a"], "node-3": []}, {"a": 3}, {}) == "node-2"  # copies


def test_a_node_is_lost_between_two_of_the_demands_steps() -> None:
    """Lost at any moment, its Lease could expire after a step whose new copies left no
    resource short (wave16's try at 1,000: 29 at the minimum at the stop, none at the
    expiry)."""
    assert until_between_steps(0.0, 120.0) == 75.0
    assert until_between_steps(74.0, 120.0) == 1.0
    assert until_between_steps(75.0, 120.0) == 0.0
    assert until_between_steps(76.0, 120.0) == 119.0
    assert until_between_steps(250.0, 120.0) == 65.0  # 10 s past the third step


def test_a_lost_copy_removed_counts_at_its_deletion_not_at_the_runs_end() -> None:
    """With Ready copies left the operator removes a lost copy (failover) rather than
    marking it: session 9 counted those as never marked (158.7 s: the run's end)."""
    writes = [
        create("res-0000-node-1", 1.0),
        create("res-0000-node-2", 1.0),
        create("res-0000-node-3", 1.0),
        create("res-0001-node-1", 1.0),
        create("res-0001-node-2", 1.0),
        Write("delete", "replicas", "res-0000-node-1", OPERATOR, 200, 13.0, 12.9),
        Write("patch", "replicas/status", "res-0000-node-1", OPERATOR, 404, 13.5, 13.4),
        Write("patch", "replicas/status", "res-0001-node-1", OPERATOR, 200, 11.0, 10.9),
        Write("delete", "replicas", "res-0001-node-1", OPERATOR, 200, 20.0, 19.9),
        create("res-0002-node-9", 200.0),  # the run's end
    ]
    minimums, holders = {"res-0000": 2, "res-0001": 1}, ["res-0000", "res-0001"]
    served = served_times(writes, holders, 0.0, {}, ("node-1", 10.0, minimums, holders))
    assert served["marked_lost"] == [3.0, 1.0]
    assert served["removed_unmarked"] == 1


def test_the_holders_of_a_lost_node_are_taken_at_the_expiry() -> None:
    """A copy removed for cost between the agent's stop and its Lease's expiry is not
    one the operator must answer for (it counted as never marked: the run's end)."""
    watch = ReplicaWatch({})

    def seen(kind: str, resource: str, node: str) -> None:
        watch._seen(kind, {"spec": {"resource": resource, "nodeName": node}})

    for r in ("cooled", "lost-late", "live"):
        seen("ADDED", r, "node-1")
    before = watch.holders("node-1")
    seen("DELETED", "cooled", "node-1")  # removed for cost before the expiry
    at = time.time() + 1e-3
    while time.time() < at:
        pass
    seen("DELETED", "lost-late", "node-1")  # the operator's answer, after it
    assert holders_at(watch, "node-1", before, at) == ["live", "lost-late"]

    served = served_times(
        [
            create("cooled-node-1", 1.0),
            create("live-node-1", 1.0),
            Write("delete", "replicas", "cooled-node-1", OPERATOR, 200, 4.0, 4.0),
            Write("delete", "replicas", "live-node-1", OPERATOR, 200, 11.0, 11.0),
            create("x-node-9", 100.0),
        ],
        ["cooled", "live"],
        0.0,
        {},
        ("node-1", 10.0, {}, ["cooled", "live"]),
    )
    assert served["marked_lost"] == [1.0]  # before: [90.0 (the run's end), 1.0]


def test_the_replica_watch_hands_every_event_to_the_agents_reports_too() -> None:
    """One watch of the Replicas in the benchmark's process, not one for the timing and
    one for the simulated agents (each event decoded twice on the operator's cores)."""
    handed: list[tuple[str, str]] = []
    watch = ReplicaWatch({}, also=lambda kind, obj: handed.append((kind, obj["spec"]["nodeName"])))
    watch._seen("ADDED", {"spec": {"resource": "r", "nodeName": "node-1"}})
    watch._seen("DELETED", {"spec": {"resource": "r", "nodeName": "node-1"}})
    assert handed == [("ADDED", "node-1"), ("DELETED", "node-1")]
    assert watch.count("r") == 0


def test_replica_churn_leaves_the_lost_nodes_copies_out(tmp_path: Path) -> None:
    """docs/scale.md says so; until session 11 the run's churn counted the failover's
    removals of the lost node's copies (split_windows passed no lost node)."""
    log = write_log(
        tmp_path,
        [
            entry("create", "replicas", "a-node-1", 0.0),
            entry("delete", "replicas", "a-node-1", 100.0, code=200),
            entry("create", "replicas", "c-node-9", 0.0),
            entry("delete", "replicas", "c-node-9", 30.0, code=200),  # the lost node's
        ],
    )
    requests = read_requests(log)
    t0 = requests[0].write.at - 1.0
    churn = split_windows(requests, {}, t0, churn_s=600.0, lost="node-9")["replica_churn"]
    assert (churn["deleted"], churn["deleted_within"], churn["lived_min_s"]) == (1, 1, 100.0)


def test_the_late_changes_pick_resources_neither_pinned_nor_changed_early() -> None:
    """Since session 13 a second round of spec changes is timed long after the pass (the
    operator saturated from ~1,000 s in session 12's hour, after every timed change)."""
    from bench.operator_scale import changed_indices, late_candidates, pinned_resources

    names = [f"res-{i:04d}" for i in range(1000)]
    early = changed_indices(1000, 20)
    pinned = pinned_resources(1000, 40, early)
    candidates = late_candidates(names, pinned, 20)
    chosen = candidates[:: max(1, len(candidates) // 20)][:20]
    assert len(chosen) == 20
    taken = {names[i] for i in early} | {names[i] for i in pinned}
    assert not taken & set(chosen)
