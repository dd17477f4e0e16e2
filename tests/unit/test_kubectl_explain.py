"""`kubectl statecast explain`: why each replica is where it is, and why others have none."""

from __future__ import annotations

from typing import Any

import pytest

from statecast.kubectl.explain import down_agents, explain, why_placed
from statecast.kubectl.render import explanation_text
from tests.unit._kubectl_objects import NOW, event, node, replica, resource, stamp, summary


@pytest.mark.parametrize(
    ("reason", "policy", "says"),
    [
        ("minimum", "predictive", "one of the replicas.min=2 copies kept for durability"),
        ("predicted", "predictive", "demand is forecast here"),
        ("hedge", "predictive", "a hedge: the forecast here is uncertain"),
        ("consumer", "static", "a pod that uses the resource is bound to this node"),
        ("failover", "predictive", "replaces a copy on a node that was lost"),
        ("rebalance", "reactive", "this node is hot"),
        ("rebalance", "predictive", "moved here: a node that held a copy stopped being eligible"),
        ("everywhere", "predictive", "held on every node"),  # session 25
        ("", "predictive", "reason unknown"),
    ],
)
def test_each_reason_code_is_explained_by_the_operators_rule(
    reason: str, policy: str, says: str
) -> None:
    assert why_placed(reason, policy, 2, "topology.kubernetes.io/zone").startswith(says)


def _explained(**changes: Any) -> Any:
    res = resource(
        replicas=[
            summary("node-1", "zone-a"),
            summary("node-3", "zone-c", "predicted"),
            summary("node-5", "zone-b", "consumer"),
        ],
        forecast=[
            {"node": "node-3", "mean": 40.0, "lower": 30.0, "upper": 52.0},
            {"node": "node-2", "mean": 1.5, "lower": 0.0, "upper": 3.0},
        ],
        spec=changes.pop("spec", None),
    )
    nodes = changes.pop("nodes", None) or [
        node("node-1", "zone-a"),
        node("node-2", "zone-b"),
        node("node-3", "zone-c"),
        node("node-4", "zone-a", ready=False),
        node("node-5", "zone-b"),
        node("node-6", "zone-c", unschedulable=True),
        node("node-7", "zone-c", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
        node("node-8", "zone-a"),
    ]
    events = [
        event("ReplicaAdded", "add replica on node-3 (reason predicted)", 40),
        event("ReplicaRemoved", "remove replica on node-8 (reason cost)", 90),
    ]
    pods = [
        {
            "metadata": {"name": "storefront", "namespace": "shop", "labels": {"app": "store"}},
            "spec": {"nodeName": "node-5"},
            "status": {"phase": "Running"},
        },
        {
            "metadata": {"name": "batch", "namespace": "shop", "labels": {"app": "batch"}},
            "spec": {"nodeName": "node-2"},
            "status": {"phase": "Running"},
        },
    ]
    reps = [
        replica("node-1"),
        replica("node-3", "predicted", age=40),
        replica("node-5", "consumer"),
    ]
    return explain(res, reps, events, nodes, pods, NOW, **changes)


def test_a_predicted_replica_shows_its_event_and_the_forecast_for_its_node() -> None:
    view = _explained(spec={"consumers": {"selector": {"matchLabels": {"app": "store"}}}})
    three = next(r for r in view.replicas if r.node == "node-3")
    assert three.placed is not None and three.placed.isoformat().startswith(stamp(40)[:19])
    assert three.evidence[0] == "Event ReplicaAdded: add replica on node-3 (reason predicted)"
    assert three.evidence[1] == (
        "forecast here: 40.0 accesses per 5s interval (90% band 30.0-52.0) over the next 30s"
    )


def test_a_consumer_replica_names_the_pods_that_use_the_resource_there() -> None:
    view = _explained(spec={"consumers": {"selector": {"matchLabels": {"app": "store"}}}})
    five = next(r for r in view.replicas if r.node == "node-5")
    assert "consumer pods here: storefront" in five.evidence


@pytest.mark.parametrize(
    ("node_name", "why"),
    [
        ("node-2", "forecast 1.5 per interval (upper 3.0): a copy would cost more than"),
        ("node-4", "the node is NotReady"),
        ("node-6", "the node is cordoned"),
        ("node-7", "tainted (gpu=yes:NoSchedule) and placement.tolerations do not tolerate it"),
        (
            "node-8",
            "little or no demand forecast here; reads from its pods are forwarded; "
            "remove replica on node-8 (reason cost)",
        ),
    ],
)
def test_nodes_without_a_replica_say_why(node_name: str, why: str) -> None:
    view = _explained()
    found = next(n for n in view.others if n.node == node_name)
    assert found.why.startswith(why)


def test_a_node_outside_the_node_selector_is_not_eligible() -> None:
    view = _explained(spec={"placement": {"nodeSelector": {"tier": "cache"}}})
    assert next(n for n in view.others if n.node == "node-2").why == (
        "does not match placement.nodeSelector (tier=cache)"
    )


def test_an_agent_whose_lease_expired_is_treated_like_a_lost_node() -> None:
    leases = [
        {
            "metadata": {"name": "statecast-agent-node-2"},
            "spec": {"holderIdentity": "node-2", "renewTime": stamp(30), "leaseDurationSeconds": 6},
        },
        {
            "metadata": {"name": "statecast-agent-node-8"},
            "spec": {"holderIdentity": "node-8", "renewTime": stamp(1), "leaseDurationSeconds": 6},
        },
        {"metadata": {"name": "kube-node-lease-x"}, "spec": {}},
    ]
    assert down_agents(leases, NOW) == {"node-2"}
    view = _explained(leases=leases)
    assert next(n for n in view.others if n.node == "node-2").why.startswith(
        "its agent's Lease has expired"
    )


def test_policy_static_and_reactive_explain_absent_nodes_by_their_own_rule() -> None:
    static = _explained(spec={"replication": {"policy": "static"}})
    assert next(n for n in static.others if n.node == "node-2").why == (
        "policy static keeps replicas.min copies only"
    )
    reactive = _explained(spec={"replication": {"policy": "reactive"}})
    assert next(n for n in reactive.others if n.node == "node-2").why.startswith("not hot")


def test_the_explanation_prints_a_paragraph_per_replica() -> None:
    text = explanation_text(_explained(), NOW)
    assert text.startswith(
        "shop/flags: policy predictive: forecast ready (model fastpath); at least 2 replicas "
        "spread across topology.kubernetes.io/zone; 3/3 Ready in 3 zone(s)\n"
    )
    assert "\nnode-3 (zone-c): predicted, Ready, placed 40s ago\n  demand is forecast here" in text
    assert "\nNodes without a replica:\n  node-2 (zone-b): forecast 1.5 per interval" in text


def test_without_nodes_only_the_replicas_are_explained() -> None:
    res = resource(replicas=[summary("node-1", "zone-a")])
    view = explain(res, [replica("node-1")], [], None, None, NOW)
    assert [r.node for r in view.replicas] == ["node-1"]
    assert view.others == ()
