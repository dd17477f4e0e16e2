"""The operator's holistic reconcile, builders and object views (no cluster)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statecast.controller.builders import build_replica, replica_name
from statecast.core.reconcile import DemandView, Observed, change_event, reconcile
from statecast.core.reconcile.views import (
    AgentLease,
    NodeView,
    ReplicaView,
    agents_down,
    node_view,
    pod_view,
    replica_view,
    tolerates,
)

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
ZONE = "topology.kubernetes.io/zone"


def node(
    name: str, zone: str, *, ready: bool = True, taints: list[dict[str, str]] | None = None
) -> NodeView:
    return node_view(
        {
            "metadata": {"name": name, "labels": {ZONE: zone}},
            "spec": {"taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
        }
    )


def replica(node_name: str, phase: str = "Ready", resource: str = "flags") -> ReplicaView:
    return replica_view(
        {
            "metadata": {"name": f"{resource}-{node_name}", "namespace": "ns"},
            "spec": {"resource": resource, "nodeName": node_name, "reason": "minimum"},
            "status": {"phase": phase},
        }
    )


def resource(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {"name": "flags", "namespace": "ns", "uid": "uid-1", "generation": 3},
        "spec": spec or {},
        "status": status or {},
    }


NODES = [
    node("node-1", "zone-a"),
    node("node-2", "zone-b"),
    node("node-3", "zone-a"),
    node("node-4", "zone-b"),
]


def test_new_resource_gets_min_replicas_spread_and_is_pending() -> None:
    result = reconcile(Observed(resource(), NODES, [], now=NOW))
    assert [(c.action, c.node, c.reason) for c in result.changes] == [
        ("add", "node-1", "minimum"),
        ("add", "node-2", "minimum"),
    ]
    assert result.status["phase"] == "Pending"
    assert result.status["observedGeneration"] == 3
    assert result.status["ready"] == "0/2"
    assert result.events == ()
    assert [change_event(c).reason for c in result.changes] == ["ReplicaAdded", "ReplicaAdded"]
    assert change_event(result.changes[0]).message == "add replica on node-1 (reason minimum)"


def test_the_status_shows_the_replicas_a_reconcile_creates_and_removes() -> None:
    """The rows were the survey's: each copy added took another status PATCH, at the
    next reconcile, to show it (session 9: at 1,000 resources following their demand
    a PATCH a second and more)."""
    first = reconcile(Observed(resource(), NODES, [], now=NOW))
    rows = first.status["replicas"]
    assert [(r["node"], r["phase"], r["reason"]) for r in rows] == [
        ("node-1", "Pending", "minimum"),
        ("node-2", "Pending", "minimum"),
    ]
    created = [
        replica_view(build_replica(resource(), c.node, reason=c.reason)) for c in first.changes
    ]
    later = NOW + dt.timedelta(seconds=60)
    second = reconcile(Observed(resource(status=first.status), NODES, created, now=later))
    assert second.changes == ()
    assert second.status["replicas"] == rows, "nothing to write for the rows next time"
    spec = {"replicas": {"min": 1}, "replication": {"policy": "static"}}
    fewer = reconcile(
        Observed(resource(spec), NODES, [replica("node-1"), replica("node-2")], now=later)
    )
    removed = [c.node for c in fewer.changes if c.action == "remove"]
    assert removed, "one copy above the minimum is removed"
    assert {r["node"] for r in fewer.status["replicas"]}.isdisjoint(removed)


def test_ready_replicas_make_the_resource_ready() -> None:
    result = reconcile(Observed(resource(), NODES, [replica("node-1"), replica("node-2")], now=NOW))
    assert result.changes == ()
    assert result.status["phase"] == "Ready"
    assert result.status["readyReplicas"] == 2
    ready = next(c for c in result.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["observedGeneration"] == 3
    zones = {r["node"]: r["zone"] for r in result.status["replicas"]}
    assert zones == {"node-1": "zone-a", "node-2": "zone-b"}


def test_syncing_replicas_mean_progressing() -> None:
    result = reconcile(
        Observed(resource(), NODES, [replica("node-1"), replica("node-2", "Syncing")], now=NOW)
    )
    assert result.status["phase"] == "Progressing"


def test_condition_transition_time_is_kept_while_status_holds() -> None:
    earlier = "2026-11-28T10:00:00Z"
    previous = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": earlier}]}
    result = reconcile(
        Observed(resource(status=previous), NODES, [replica("node-1"), replica("node-2")], now=NOW)
    )
    ready = next(c for c in result.status["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == earlier
    degraded = next(c for c in result.status["conditions"] if c["type"] == "Degraded")
    assert degraded["lastTransitionTime"] == "2026-11-28T12:00:00Z"


def test_not_enough_nodes_is_degraded_with_one_warning() -> None:
    spec = {"replicas": {"min": 5}}
    result = reconcile(Observed(resource(spec), NODES, [replica(n.name) for n in NODES], now=NOW))
    assert result.status["phase"] == "Degraded"
    assert [e.reason for e in result.events] == ["NotEnoughNodes"]
    again = reconcile(
        Observed(resource(spec, result.status), NODES, [replica(n.name) for n in NODES], now=NOW)
    )
    assert again.events == ()


def test_lost_node_is_replaced_on_a_ready_node() -> None:
    nodes = [node("node-1", "zone-a", ready=False), *NODES[1:]]
    result = reconcile(Observed(resource(), nodes, [replica("node-1"), replica("node-2")], now=NOW))
    assert [(c.action, c.node, c.reason) for c in result.changes] == [("add", "node-3", "failover")]
    assert result.status["lastDecision"]["reason"] == "failover"
    phases = {r["node"]: r["phase"] for r in result.status["replicas"]}
    assert phases == {"node-1": "Lost", "node-2": "Ready", "node-3": "Pending"}, (
        "a lost node's copy is not Ready; its replacement is shown as it is created"
    )
    assert [(r.name, r.reason) for r in result.lost] == [("flags-node-1", "NodeLost")]
    already = reconcile(
        Observed(resource(), nodes, [replica("node-1", "Lost"), replica("node-2")], now=NOW)
    )
    assert already.lost == (), "a Replica already marked Lost is not marked again"


def test_a_dead_agent_on_a_ready_node_is_failed_over_like_a_lost_node() -> None:
    result = reconcile(
        Observed(
            resource(),
            NODES,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            agents_down=frozenset({"node-1"}),
        )
    )
    assert [(c.action, c.node, c.reason) for c in result.changes] == [("add", "node-3", "failover")]
    phases = {r["node"]: r["phase"] for r in result.status["replicas"]}
    assert phases == {"node-1": "Lost", "node-2": "Ready", "node-3": "Pending"}
    assert [(r.name, r.reason) for r in result.lost] == [("flags-node-1", "AgentLost")]


def test_no_replica_is_placed_where_the_agent_is_down() -> None:
    down = frozenset({"node-1", "node-3"})
    result = reconcile(Observed(resource(), NODES, [], now=NOW, agents_down=down))
    assert {c.node for c in result.changes}.isdisjoint(down)
    assert len(result.changes) == 2


@pytest.mark.parametrize(
    ("renewed_seconds_ago", "duration", "down"),
    [
        (1, 6, False),  # renewed within its duration
        (6, 6, False),  # exactly at the end: not yet
        (7, 6, True),  # stopped renewing
        (None, 6, True),  # never renewed
    ],
)
def test_agent_is_down_once_its_lease_expires(
    renewed_seconds_ago: int | None, duration: int, down: bool
) -> None:
    renew = None if renewed_seconds_ago is None else NOW - dt.timedelta(seconds=renewed_seconds_ago)
    lease = AgentLease("node-1", renew, duration)
    assert agents_down([lease], NOW) == (frozenset({"node-1"}) if down else frozenset())


def test_a_node_without_an_agent_lease_is_not_down() -> None:
    assert agents_down([], NOW) == frozenset()


def pod(
    node_name: str | None,
    *,
    labels: dict[str, str] | None = None,
    uses: str | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{node_name}",
            "namespace": "ns",
            "labels": labels or {},
            "annotations": {"statecast.io/uses": uses} if uses is not None else {},
        },
        "spec": {"nodeName": node_name} if node_name else {},
        "status": {"phase": phase},
    }


def test_pods_are_consumers_only_while_bound_and_unfinished() -> None:
    assert pod_view(pod(None)) is None
    assert pod_view(pod("node-1", phase="Succeeded")) is None
    view = pod_view(pod("node-1", uses="flags, sessions,"))
    assert view is not None and view.uses == frozenset({"flags", "sessions"})


def test_a_cordoned_node_hands_its_copy_off_for_rebalance_not_failover() -> None:
    cordoned = node_view(
        {
            "metadata": {"name": "node-1", "labels": {ZONE: "zone-a"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    nodes = [cordoned, *NODES[1:]]
    result = reconcile(Observed(resource(), nodes, [replica("node-1"), replica("node-2")], now=NOW))
    assert [(c.action, c.node, c.reason) for c in result.changes] == [
        ("add", "node-3", "rebalance")
    ]
    assert {r["node"]: r["phase"] for r in result.status["replicas"]}["node-1"] == "Ready"
    assert result.lost == ()
    handed_off = reconcile(
        Observed(
            resource(), nodes, [replica("node-1"), replica("node-2"), replica("node-3")], now=NOW
        )
    )
    assert [(c.action, c.node, c.reason) for c in handed_off.changes] == [
        ("remove", "node-1", "rebalance")
    ]


def test_a_pod_annotated_with_the_resource_gets_a_local_copy() -> None:
    pods = [pod_view(pod("node-4", uses="other,flags"))]
    result = reconcile(
        Observed(
            resource(),
            NODES,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            pods=[p for p in pods if p is not None],
        )
    )
    assert [(c.action, c.node, c.reason) for c in result.changes] == [("add", "node-4", "consumer")]
    assert result.status["desiredReplicas"] == 3


def test_pods_matching_the_consumer_selector_get_a_local_copy_up_to_max() -> None:
    spec = {
        "replicas": {"min": 2, "max": 3},
        "consumers": {"selector": {"matchLabels": {"app": "web"}}},
    }
    views = [pod_view(pod(n, labels={"app": "web"})) for n in ("node-3", "node-4")]
    views.append(pod_view(pod("node-1", labels={"app": "batch"})))
    result = reconcile(
        Observed(
            resource(spec),
            NODES,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            pods=[v for v in views if v is not None],
        )
    )
    assert [(c.action, c.node, c.reason) for c in result.changes] == [("add", "node-3", "consumer")]


def test_tainted_nodes_need_a_toleration() -> None:
    taint = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    nodes = [node("node-1", "zone-a", taints=taint), node("node-2", "zone-b")]
    plain = reconcile(Observed(resource({"replicas": {"min": 2}}), nodes, [], now=NOW))
    assert [c.node for c in plain.changes] == ["node-2"]
    tolerating = {
        "replicas": {"min": 2},
        "placement": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
    }
    assert [
        c.node for c in reconcile(Observed(resource(tolerating), nodes, [], now=NOW)).changes
    ] == [
        "node-1",
        "node-2",
    ]


def test_node_selector_limits_candidates() -> None:
    nodes = [
        *NODES,
        node_view(
            {
                "metadata": {"name": "gpu", "labels": {ZONE: "zone-c", "gpu": "yes"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        ),
    ]
    result = reconcile(
        Observed(
            resource({"placement": {"nodeSelector": {"gpu": "yes"}}, "replicas": {"min": 1}}),
            nodes,
            [],
            now=NOW,
        )
    )
    assert [c.node for c in result.changes] == ["gpu"]


def test_invalid_spec_is_reported_not_raised() -> None:
    result = reconcile(Observed(resource({"replicas": {"min": 3, "max": 1}}), NODES, [], now=NOW))
    assert result.changes == ()
    assert result.status["phase"] == "Failed"
    assert "replicas.min must be less than or equal" in result.events[0].message
    assert result.events[0].type == "Warning"


@pytest.mark.parametrize(
    ("taints", "tolerations", "expected"),
    [
        ([], [], True),
        ([("k", "v", "NoSchedule")], [], False),
        ([("k", "v", "NoSchedule")], [{"key": "k", "value": "v"}], True),
        ([("k", "v", "NoSchedule")], [{"key": "k", "value": "w"}], False),
        ([("k", "v", "NoSchedule")], [{"operator": "Exists"}], True),
        (
            [("k", "v", "NoSchedule")],
            [{"key": "k", "operator": "Exists", "effect": "NoExecute"}],
            False,
        ),
        ([("k", "v", "PreferNoSchedule")], [], True),
    ],
)
def test_tolerates(taints: Any, tolerations: Any, expected: bool) -> None:
    assert tolerates(tuple(taints), tolerations) is expected


def test_build_replica_is_owned_and_labelled() -> None:
    body = build_replica(resource(), "node-2", reason="predicted")
    assert body["metadata"]["name"] == "flags-node-2"
    assert body["metadata"]["labels"]["statecast.io/node"] == "node-2"
    assert body["metadata"]["labels"]["statecast.io/resource"] == "flags"
    owner = body["metadata"]["ownerReferences"][0]
    assert (
        owner["uid"] == "uid-1"
        and owner["controller"] is True
        and owner["blockOwnerDeletion"] is True
    )
    assert body["spec"] == {
        "resource": "flags",
        "nodeName": "node-2",
        "role": "peer",
        "epoch": 0,
        "reason": "predicted",
        "syncMode": "auto",
    }


def test_long_names_stay_valid() -> None:
    name = replica_name("r" * 200, "n" * 100)
    assert len(name) <= 253
    assert name != replica_name("r" * 200, "n" * 99 + "m")
    labels = build_replica(
        {"metadata": {"name": "x" * 100, "namespace": "ns", "uid": "u"}}, "node", reason="minimum"
    )["metadata"]["labels"]
    assert all(len(v) <= 63 for v in labels.values())


def test_the_local_hit_ratio_goes_into_status_and_the_hit_column() -> None:
    result = reconcile(
        Observed(
            resource(),
            NODES,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            demand=DemandView(local_hit_ratio=0.8766),
        )
    )
    assert (result.status["localHitRatio"], result.status["hitPercent"]) == (0.877, 88)
    quiet = reconcile(Observed(resource(), NODES, [replica("node-1"), replica("node-2")], now=NOW))
    assert "localHitRatio" not in quiet.status, "no recent accesses: the last figure stays"


def test_max_bytes_per_node_keeps_new_replicas_off_full_nodes() -> None:
    spec = {"replicas": {"min": 2}, "placement": {"maxBytesPerNode": "1Mi"}}
    full = {"node-1": 1024 * 1024, "node-2": 1024 * 1024}  # full with other resources' state
    result = reconcile(Observed(resource(spec), NODES, [], now=NOW, bytes_elsewhere=full))
    assert sorted(c.node for c in result.changes) == ["node-3", "node-4"]
    kept = reconcile(
        Observed(
            resource(spec),
            NODES,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            bytes_elsewhere=full,
        )
    )
    assert kept.changes == (), "copies already on a full node stay"
