"""The strong half of the operator's reconcile: progress parsed, elections, roles, voters kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.strong import (
    keep_voters,
    role_changes,
    settled_candidates,
    strong_decision,
)
from statecast.core.reconcile.views import NodeView, ReplicaView, replica_view, strong_progress
from statecast.core.replica_set import ReplicaChange, ReplicaSetPlan
from statecast.core.spread import Candidate, spread
from statecast.core.strong.election import StrongConfig
from statecast.core.strong.log import LogPosition

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SPEC = SharedResourceSpec.model_validate({"consistency": "strong", "replicas": {"min": 3}})


def _node(name: str, zone: str, ready: bool = True) -> NodeView:
    labels = {"topology.kubernetes.io/zone": zone}
    return NodeView(name=name, labels=labels, ready=ready, unschedulable=False, taints=())


def _replica(node: str, role: str, epoch: int, strong: dict[str, Any] | None = None) -> ReplicaView:
    body = {
        "metadata": {"name": f"r-{node}", "namespace": "ns"},
        "spec": {"resource": "r", "nodeName": node, "role": role, "epoch": epoch},
        "status": {"phase": "Ready", **({"strong": strong} if strong else {})},
    }
    return replica_view(body)


NODES = [_node("a", "z1"), _node("b", "z2"), _node("c", "z3"), _node("d", "z1")]


def _observed(
    status: dict[str, Any], replicas: list[ReplicaView], down: frozenset[str] = frozenset()
) -> Observed:
    resource = {"metadata": {"name": "r", "namespace": "ns"}, "spec": {}, "status": status}
    return Observed(resource, NODES, replicas, NOW, agents_down=down, spec=SPEC)


def test_the_agents_progress_is_read_whole() -> None:
    raw = {"epoch": 4, "lastEpoch": 4, "lastIndex": 9, "commitIndex": 8, "leading": True,
           "match": {"b": 8}, "isolated": True}  # fmt: skip
    progress = strong_progress(raw)
    assert progress is not None
    assert (progress.epoch, progress.position, progress.commit) == (4, LogPosition(4, 9), 8)
    assert progress.leading and progress.isolated and progress.match == {"b": 8}
    assert strong_progress({"epoch": "x"}) is None
    assert strong_progress(None) is None


LEADING = {"epoch": 3, "lastEpoch": 3, "lastIndex": 9, "commitIndex": 9, "leading": True}
CONFIG = {"epoch": 3, "leader": "a", "voters": ["a", "b", "c"]}


def test_a_new_resource_gets_its_first_election_over_spread_voters() -> None:
    replicas = [_replica(n, "learner", 0) for n in "abc"]
    decision = strong_decision(_observed({}, replicas), SPEC)
    assert decision.election is not None and decision.election.reason == "initial"
    assert decision.election.voters == ("a", "b", "c")


def test_a_leader_whose_agent_is_down_is_replaced_by_a_failover() -> None:
    replicas = [_replica("a", "leader", 3, LEADING)] + [_replica(n, "follower", 3) for n in "bc"]
    decision = strong_decision(_observed(CONFIG, replicas, frozenset({"a"})), SPEC)
    assert decision.election is not None and decision.election.reason == "failover"


def test_an_isolated_leader_is_replaced_and_may_not_lead_again() -> None:
    replicas = [_replica("a", "leader", 3, {**LEADING, "isolated": True})]
    replicas += [_replica(n, "follower", 3) for n in "bc"]
    decision = strong_decision(_observed(CONFIG, replicas), SPEC)
    assert decision.election is not None and decision.election.reason == "isolated"
    assert decision.election.exclude == frozenset({"a"})


def test_a_healthy_configuration_is_left_alone() -> None:
    replicas = [_replica("a", "leader", 3, LEADING)] + [_replica(n, "follower", 3) for n in "bc"]
    decision = strong_decision(_observed(CONFIG, replicas), SPEC)
    assert decision.election is None


def test_replica_specs_behind_the_recorded_configuration_are_corrected() -> None:
    replicas = [_replica("a", "follower", 2), _replica("b", "leader", 2), _replica("d", "peer", 0)]
    changes = {
        c.node: (c.role, c.epoch, c.voters)
        for c in role_changes(StrongConfig(3, "a", ("a", "b", "c")), replicas)
    }
    assert changes == {
        "a": ("leader", 3, ("a", "b", "c")),
        "b": ("follower", 3, None),
        "d": ("learner", 3, None),
    }


def test_a_voters_copy_is_kept_until_a_membership_step_removes_it() -> None:
    plan = ReplicaSetPlan(("a", "b", "d"), (ReplicaChange("remove", "c", "failover"),
                                          ReplicaChange("add", "d", "failover")))  # fmt: skip
    kept = keep_voters(plan, ("a", "b", "c"))
    assert [c.action for c in kept.changes] == ["add"]
    assert keep_voters(plan, ("a", "b")).changes == plan.changes


def test_the_planner_sees_the_leader_and_each_copys_progress() -> None:
    from statecast.core.reconcile.predictive import placement_spec

    assert placement_spec(SPEC).min_replicas == 3  # min 3 stays odd
    even = SharedResourceSpec.model_validate({"consistency": "strong", "replicas": {"min": 2}})
    assert placement_spec(even).min_replicas == 3
    leader = _replica("a", "leader", 3, LEADING).current()
    learner = _replica("d", "learner", 3, {**LEADING, "leading": False, "commitIndex": 7})
    assert (leader.role, leader.progress) == ("leader", 9)
    assert (learner.current().role, learner.current().progress) == ("follower", 7)


def _candidates() -> list[Candidate]:
    zones = {"n1": "a", "n2": "b", "n3": "c", "n4": "a"}
    return [Candidate(n, z, {}) for n, z in zones.items()]


@pytest.mark.parametrize(
    ("removed_s", "holders", "expected"),
    [
        # n3's follower died, n4 took its place; n3 is back: no move for now
        (30.0, ["n1", "n2", "n4"], ["n1", "n2", "n4"]),
        # back and stayed for the cooldown: the copy moves to restore the zones
        (301.0, ["n1", "n2", "n4"], ["n1", "n2", "n3"]),
        # needed for the count: taken at once
        (30.0, ["n1", "n2"], ["n1", "n2", "n3"]),
    ],
)
def test_a_strong_failover_copy_is_not_moved_back_until_the_node_has_stayed(
    removed_s: float, holders: list[str], expected: list[str]
) -> None:
    candidates = _candidates()
    if holders == ["n1", "n2"]:
        candidates = [c for c in candidates if c.name != "n4"]
    settled = settled_candidates(candidates, holders, {"n3": removed_s}, 300.0, 3)
    assert spread(settled, 3, current=holders) == expected
