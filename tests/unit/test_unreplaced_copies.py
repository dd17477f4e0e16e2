"""No copy leaves before something replaces it: cordoned, draining and storage-failed copies.

Session 15 kept a *lost* copy that no other node could replace (``keep_unreplaced``).
A copy on a node that is only no longer eligible (cordoned or draining, tainted,
filtered out by ``placement``) and a copy whose agent cannot write its files were still
removed without a replacement: ``min = max = 3`` on three nodes, one cordoned, and the
operator deleted that copy in the next reconcile, leaving two copies while nothing could
take the third - a healthy copy that still served, gone. At ``replicas.max`` a copy on a
cordoned node was removed *before* its replacement was added (issue 19's bound on the
count), so the resource held ``max - 1`` copies while the new one synced. For a strong
resource the cordoned voter was taken out of the voters with nothing to replace it
(three voters became two: no failure tolerated), and a storage-failed voter stayed a
voter for good (a caught-up learner elsewhere never joined in its place).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.placement.types import CurrentReplica
from statecast.core.reconcile import Observed, ReconcileResult, reconcile
from statecast.core.reconcile.strong import strong_decision
from statecast.core.reconcile.views import NodeView, ReplicaView, replica_view
from statecast.core.replica_set import (
    ReplicaChange,
    ReplicaSetPlan,
    keep_unreplaced,
    leaving_order,
    within_max,
)
from tests.unit.test_controller_reconcile import NOW, ZONE, node, replica, resource
from tests.unit.test_storage_failover import full_disk

EVERY_NODE = {"replicas": {"min": 3, "max": 3}}


def cordoned(name: str, zone: str) -> NodeView:
    """A Ready node marked unschedulable (``kubectl cordon``, the first step of a drain)."""
    return NodeView(name=name, labels={ZONE: zone}, ready=True, unschedulable=True, taints=())


THREE = [node("node-1", "zone-a"), node("node-2", "zone-b"), node("node-3", "zone-a")]
CORDONED = [*THREE[:2], cordoned("node-3", "zone-a")]
TAINTED = [*THREE[:2], node("node-3", "zone-a", taints=[{"key": "x", "effect": "NoSchedule"}])]
FOURTH = node("node-4", "zone-b")


def changes(result: ReconcileResult) -> list[tuple[str, str, str]]:
    return [(c.action, c.node, c.reason) for c in result.changes]


def degraded(result: ReconcileResult) -> dict[str, Any]:
    return next(c for c in result.status["conditions"] if c["type"] == "Degraded")


def run(nodes: list[NodeView], copies: list[ReplicaView], spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None) -> ReconcileResult:  # fmt: skip
    return reconcile(
        Observed(resource({**EVERY_NODE, **(spec or {})}, status), nodes, copies, now=NOW)
    )


@pytest.mark.parametrize("nodes", [CORDONED, TAINTED], ids=["cordoned", "tainted"])
@pytest.mark.parametrize("policy", ["static", "predictive", "reactive"])
def test_a_copy_on_an_ineligible_node_stays_while_nothing_can_replace_it(
    nodes: list[NodeView], policy: str
) -> None:
    result = run(nodes, [replica(n.name) for n in THREE], {"replication": {"policy": policy}})
    assert changes(result) == [], "before: node-3's copy removed, two left, nothing placed"
    assert result.lost == ()
    rows = {r["node"]: r["phase"] for r in result.status["replicas"]}
    assert rows == {"node-1": "Ready", "node-2": "Ready", "node-3": "Ready"}
    condition = degraded(result)
    assert (condition["status"], condition["reason"]) == ("True", "NoReplacement")
    assert "node-3" in condition["message"] and "no longer eligible" in condition["message"]
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "NoReplacement")]
    assert "node-3" in result.events[0].message


def test_the_warning_is_posted_when_the_copy_starts_to_be_kept_not_on_every_resync() -> None:
    first = run(CORDONED, [replica(n.name) for n in THREE])
    again = run(CORDONED, [replica(n.name) for n in THREE], status=first.status)
    assert [e.reason for e in first.events] == ["NoReplacement"] and again.events == ()
    assert degraded(again)["reason"] == "NoReplacement"


def test_a_node_added_takes_the_copy_and_then_the_cordoned_one_goes() -> None:
    """Hand-off: add first (even at ``replicas.max``), remove once the new copy is Ready."""
    nodes = [*CORDONED, FOURTH]
    copies = [replica(n.name) for n in THREE]
    first = run(nodes, copies)
    assert changes(first) == [("add", "node-4", "rebalance")], "before: node-3 removed first"
    assert changes(run(nodes, [*copies, replica("node-4", "Syncing")])) == []
    assert changes(run(nodes, [*copies, replica("node-4")])) == [("remove", "node-3", "rebalance")]


def test_a_move_off_an_eligible_node_at_the_limit_still_removes_first() -> None:
    """Issue 19's bound holds for a copy that leaves an eligible node (the planner's moves)."""
    existing = {n: CurrentReplica(n, up_to_date=True) for n in ("a", "b", "c", "x")}
    plan = ReplicaSetPlan(("a", "b", "d"), (ReplicaChange("add", "d", "predicted"),))
    # c leaves an eligible node: removed first; x is cordoned: it does not count meanwhile
    bounded = within_max(plan, existing, 3, leaving=("x",))
    assert [(c.action, c.node) for c in bounded.changes] == [("remove", "c"), ("add", "d")]
    assert within_max(plan, existing, 4, leaving=("x",)).changes == plan.changes


def test_a_storage_failed_copy_stays_while_nothing_can_replace_it() -> None:
    copies = [replica("node-1"), replica("node-2"), full_disk("node-3", 30.0)]
    result = run(THREE, copies)
    assert changes(result) == [], "before: removed (failover), two copies left"
    assert result.lost == ()
    condition = degraded(result)
    assert condition["reason"] == "NoReplacement"
    assert "node-3" in condition["message"] and "files cannot be written" in condition["message"]
    storage = [e for e in result.events if e.reason == "StorageUnavailable"]
    assert len(storage) == 1 and "no other node can take" in storage[0].message


def test_a_storage_failed_copy_at_the_limit_is_replaced_add_first() -> None:
    copies = [replica("node-1"), replica("node-2"), full_disk("node-3", 30.0)]
    nodes = [*THREE, FOURTH]
    assert changes(run(nodes, copies)) == [("add", "node-4", "failover")]
    assert changes(run(nodes, [*copies, replica("node-4", "Syncing")])) == []
    assert changes(run(nodes, [*copies, replica("node-4")])) == [("remove", "node-3", "failover")]


def test_two_leaving_one_replacement_the_serving_copy_is_the_one_kept() -> None:
    """Only as many copies stay as the wanted ones lack: one here, the Ready cordoned one."""
    nodes = [node("node-1", "zone-a"), cordoned("node-2", "zone-b"), node("node-3", "zone-a"),
             FOURTH]  # fmt: skip
    copies = [replica("node-1"), replica("node-2"), full_disk("node-3", 30.0)]
    assert changes(run(nodes, copies)) == [("add", "node-4", "failover")]
    assert changes(run(nodes, [*copies, replica("node-4", "Syncing")])) == []
    assert changes(run(nodes, [*copies, replica("node-4")])) == [("remove", "node-3", "failover")]


@pytest.mark.parametrize(
    ("count", "lost", "failed", "removed"),
    [
        (3, {"node-3"}, set(), ["node-3"]),  # one slot: node-4 (cordoned, serving) stays
        (4, {"node-3"}, set(), []),  # two slots: both stay
        (3, set(), {"node-4"}, ["node-4"]),  # a copy that can write stays before one that cannot
        (3, set(), set(), ["node-4"]),  # alike: by name
        (3, {"node-3", "node-4"}, set(), ["node-4"]),
        (2, {"node-3"}, set(), ["node-3", "node-4"]),  # the wanted copies reach the count
        (1, {"node-3"}, set(), ["node-3", "node-4"]),
    ],
)
def test_keep_unreplaced(count: int, lost: set[str], failed: set[str], removed: list[str]) -> None:
    removes = (ReplicaChange("remove", "node-3", "failover"),
               ReplicaChange("remove", "node-4", "rebalance"))  # fmt: skip
    plan = ReplicaSetPlan(("node-1", "node-2"), removes)
    existing = {
        n: CurrentReplica(n, up_to_date=True) for n in ("node-1", "node-2", "node-3", "node-4")
    }
    order = leaving_order(existing, ["node-3", "node-4"], lost, failed)
    assert [c.node for c in keep_unreplaced(plan, order, count).removes] == removed


STRONG = SharedResourceSpec.model_validate(
    {"consistency": "strong", "replicas": {"min": 3, "max": 3}}
)
LEADING = {"epoch": 3, "lastEpoch": 3, "lastIndex": 9, "commitIndex": 9, "leading": True}


def strong_copy(node_name: str, role: str, progress: dict[str, Any] | None = None,
                failing_for: float | None = None) -> ReplicaView:  # fmt: skip
    status: dict[str, Any] = {"phase": "Ready", **({"strong": progress} if progress else {})}
    if failing_for is not None:
        since = (NOW - dt.timedelta(seconds=failing_for)).isoformat()
        status["conditions"] = [
            {"type": "StorageAvailable", "status": "False", "reason": "StorageUnavailable",
             "lastTransitionTime": since}
        ]  # fmt: skip
    return replica_view({
        "metadata": {"name": f"r-{node_name}", "namespace": "ns"},
        "spec": {"resource": "r", "nodeName": node_name, "role": role, "epoch": 3},
        "status": status,
    })  # fmt: skip


def strong_observed(
    nodes: list[NodeView], copies: list[ReplicaView], leader: str = "node-1"
) -> Observed:
    status = {"epoch": 3, "leader": leader, "voters": ["node-1", "node-2", "node-3"]}
    body = {"metadata": {"name": "r", "namespace": "ns"}, "spec": {}, "status": status}
    return Observed(body, nodes, copies, NOW, spec=STRONG)


def test_a_cordoned_voter_stays_a_voter_while_nothing_can_replace_it() -> None:
    copies = [strong_copy("node-1", "leader", LEADING), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower")]  # fmt: skip
    decision = strong_decision(strong_observed(CORDONED, copies), STRONG)
    assert decision.election is None, "before: a membership step took node-3 out (2 voters)"
    assert decision.wanted == ("node-1", "node-2", "node-3")


def test_a_cordoned_voter_leaves_once_a_caught_up_learner_joined() -> None:
    progress = {**LEADING, "match": {"node-2": 9, "node-3": 9, "node-4": 9}}
    copies = [strong_copy("node-1", "leader", progress), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower"), strong_copy("node-4", "learner")]  # fmt: skip
    decision = strong_decision(strong_observed([*CORDONED, FOURTH], copies), STRONG)
    assert decision.election is not None and decision.election.reason == "membership"
    assert decision.election.voters == ("node-1", "node-2", "node-3", "node-4"), "join first"


def test_a_storage_failed_voter_is_replaced_by_a_caught_up_learner() -> None:
    progress = {**LEADING, "match": {"node-2": 9, "node-4": 9}}
    copies = [strong_copy("node-1", "leader", progress), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower", failing_for=30.0),
              strong_copy("node-4", "learner")]  # fmt: skip
    decision = strong_decision(strong_observed([*THREE, FOURTH], copies), STRONG)
    assert decision.election is not None, "before: node-3 stayed a voter for good"
    assert decision.election.voters == ("node-1", "node-2", "node-3", "node-4")
    assert "node-3" not in decision.wanted


def test_a_storage_failed_voter_with_no_replacement_stays_a_voter() -> None:
    copies = [strong_copy("node-1", "leader", LEADING), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower", failing_for=30.0)]  # fmt: skip
    decision = strong_decision(strong_observed(THREE, copies), STRONG)
    assert decision.election is None
    assert decision.wanted == ("node-1", "node-2", "node-3")


def test_a_storage_failed_leader_hands_leadership_to_a_voter_that_can_write() -> None:
    """It refuses every write (``storage_unavailable``) while two voters could commit."""
    copies = [strong_copy("node-1", "leader", LEADING, failing_for=30.0),
              strong_copy("node-2", "follower"), strong_copy("node-3", "follower")]  # fmt: skip
    decision = strong_decision(strong_observed(THREE, copies), STRONG)
    assert decision.election is not None and decision.election.reason == "transfer"
    assert decision.election.exclude == frozenset({"node-1"})
    assert decision.election.voters == ("node-1", "node-2", "node-3"), "it stays a voter"


def test_a_cordoned_leader_hands_leadership_to_a_voter_on_a_node_that_takes_copies() -> None:
    """It stays a voter (nothing replaces it); the node's shutdown at the end of the drain
    then costs a follower, not a failover. Before: the lead stayed on the cordoned node."""
    cordoned_leader = [cordoned("node-1", "zone-a"), *THREE[1:]]
    copies = [strong_copy("node-1", "leader", LEADING), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower")]  # fmt: skip
    decision = strong_decision(strong_observed(cordoned_leader, copies), STRONG)
    assert decision.election is not None and decision.election.reason == "transfer"
    assert decision.election.exclude == frozenset({"node-1"})
    assert decision.election.voters == ("node-1", "node-2", "node-3"), "it stays a voter"


def test_a_cordoned_leader_stays_while_another_voter_is_cordoned_too() -> None:
    """The new leader could be chosen on the other cordoned node and moved again."""
    nodes = [cordoned("node-1", "zone-a"), cordoned("node-2", "zone-b"), THREE[2]]
    copies = [strong_copy("node-1", "leader", LEADING), strong_copy("node-2", "follower"),
              strong_copy("node-3", "follower")]  # fmt: skip
    decision = strong_decision(strong_observed(nodes, copies), STRONG)
    assert decision.election is None
    assert decision.wanted == ("node-1", "node-2", "node-3")


def test_a_new_leader_is_not_moved_back_once_the_cordon_is_lifted() -> None:
    copies = [strong_copy("node-1", "follower"), strong_copy("node-2", "leader", LEADING),
              strong_copy("node-3", "follower")]  # fmt: skip
    decision = strong_decision(strong_observed(THREE, copies, leader="node-2"), STRONG)
    assert decision.election is None
