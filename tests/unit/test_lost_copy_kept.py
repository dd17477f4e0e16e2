"""A lost copy that nothing replaces is kept, marked Lost (session 14's CI run B).

Under CPU starvation (a benchmark boosted to nice -19 beside the integration tests), the
agent on node-3 renewed its Lease late during a certificate rotation. The operator took
the agent as down, as it should, and in the same reconcile deleted node-3's copy of a
``min = max = 4`` resource on four nodes: the spread could place no replacement (no
fifth node), so the three wanted copies were all Ready and the hand-off removed the lost
one. The agent renewed a second later, and the copy was created again and synced from
the others (test_tls: "replicas left Ready: node-3:None, node-3:Syncing"). A copy that
stands for no copy placed elsewhere is now kept, marked Lost, until one is (or its agent
renews): never dropped for being slow. A strong resource's copy too, once a membership
step took it out of the voters: dropping it could lose writes its agent acknowledged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from statecast.core.reconcile import Observed, ReconcileResult, reconcile
from statecast.core.reconcile.views import AgentLease, ReplicaView, agents_down
from tests.unit.test_controller_reconcile import NOW, node, resource
from tests.unit.test_controller_reconcile import replica as bare_replica

FOUR = [node(f"node-{i}", "zone-a" if i % 2 else "zone-b") for i in range(1, 5)]
VECTOR = {"node-1#a": 144, "node-2#b": 144, "node-3#c": 143, "node-4#d": 143}
EVERY_COPY = {"replicas": {"min": 4, "max": 4}}


def replica(node_name: str, phase: str = "Ready") -> ReplicaView:
    """A copy holding every event of the others (its writes are merged: custody lets go)."""
    return replace(bare_replica(node_name, phase), version_vector=dict(VECTOR))


def lease(node_name: str, renewed_seconds_ago: float) -> AgentLease:
    """An agent's 6 s Lease (``--lease-seconds 2``) renewed that long ago."""
    return AgentLease(node_name, NOW - dt.timedelta(seconds=renewed_seconds_ago), 6)


def changes(result: ReconcileResult) -> list[tuple[str, str, str]]:
    return [(c.action, c.node, c.reason) for c in result.changes]


def starved(**inputs: Any) -> ReconcileResult:
    """A reconcile of four Ready copies on four nodes, with what a starved node-3 shows."""
    spec = {**EVERY_COPY, **inputs.pop("spec", {})}
    nodes = inputs.pop("nodes", FOUR)
    copies = inputs.pop("copies", [replica(n.name) for n in FOUR])
    return reconcile(Observed(resource(spec), nodes, copies, now=NOW, **inputs))


LATE = frozenset(agents_down([lease("node-3", 7.5), lease("node-1", 1.0)], NOW))
NOT_READY = [node("node-3", "zone-a", ready=False) if n.name == "node-3" else n for n in FOUR]


@pytest.mark.parametrize(
    ("inputs", "lost_reason"),
    [
        ({"agents_down": LATE}, "AgentLost"),  # its Lease renewed late
        ({"nodes": NOT_READY}, "NodeLost"),  # its node's heartbeat too
        ({"agents_down": LATE, "spec": {"replication": {"policy": "static"}}}, "AgentLost"),
        ({"agents_down": LATE, "spec": {"replication": {"policy": "reactive"}}}, "AgentLost"),
        ({"agents_down": LATE, "copies": [*map(replica, ["node-1", "node-2", "node-4"]),
                                          replica("node-3", "Lost")]}, None),  # marked before
    ],
)  # fmt: skip
def test_a_lost_copy_with_no_node_to_replace_it_is_marked_lost_not_removed(
    inputs: dict[str, Any], lost_reason: str | None
) -> None:
    assert {"node-3"} == LATE, "late by 1.5 s past its 6 s Lease"
    result = starved(**inputs)
    assert changes(result) == [], "no copy can be placed elsewhere: node-3's is kept"
    assert [r.reason for r in result.lost] == ([lost_reason] if lost_reason else [])
    rows = {r["node"]: r["phase"] for r in result.status["replicas"]}
    assert rows == {"node-1": "Ready", "node-2": "Ready", "node-3": "Lost", "node-4": "Ready"}
    assert result.status["phase"] == "Degraded"
    assert "recentRemovals" not in result.status


@pytest.mark.parametrize(
    "inputs",
    [
        {"node_load": {"node-1": (3.0, 9e3, 1.0), "node-2": (3.0, 9e3, 1.0)}},  # stale stats
        {"node_load": {}},  # no /v1/stats answered (a failed agent link, a TLS error)
        {"agents_down": frozenset(agents_down([lease("node-3", 5.9)], NOW))},  # late, in time
    ],
)
def test_what_else_a_starved_node_shows_changes_nothing(inputs: dict[str, Any]) -> None:
    result = starved(**inputs)
    assert changes(result) == [] and result.lost == ()
    assert result.status["phase"] == "Ready"


def test_the_agent_renewing_again_finds_its_copy_where_it_was() -> None:
    """Before: remove (failover), then add (minimum) and a sync from scratch."""
    lapse = starved(agents_down=LATE)
    copies = [replica(n.name) for n in FOUR if n.name not in {c.node for c in lapse.changes}]
    marked = [replica(r.node, "Lost") if r.node == "node-3" else r for r in copies]
    back = starved(copies=marked)  # its agent renewed, the Lost mark not overwritten yet
    assert changes(lapse) == [] and changes(back) == []
    again = starved()  # the agent reported its copy Ready again
    assert changes(again) == [] and again.status["phase"] == "Ready"


def test_with_a_spare_node_the_lost_copy_is_replaced_then_removed() -> None:
    """The failover is unchanged where a copy can be placed elsewhere."""
    five = [*FOUR, node("node-5", "zone-a")]
    first = starved(nodes=five, agents_down=LATE)
    assert changes(first) == [("add", "node-5", "failover")]
    copies = [*(replica(n.name) for n in FOUR), replica("node-5", "Syncing")]
    assert changes(starved(nodes=five, agents_down=LATE, copies=copies)) == []
    copies[-1] = replica("node-5")
    assert changes(starved(nodes=five, agents_down=LATE, copies=copies)) == [
        ("remove", "node-3", "failover")
    ]


def test_a_strong_copy_out_of_the_voters_is_kept_while_nothing_replaces_it() -> None:
    """After the membership step (voters 1, 2: node-3's agent lost), the copy could go."""
    three = FOUR[:3]
    status = {"epoch": 4, "leader": "node-1", "voters": ["node-1", "node-2"]}
    spec = {"replicas": {"min": 3, "max": 3}, "consistency": "strong"}
    result = reconcile(
        Observed(
            resource(spec, status),
            three,
            [replica(n.name) for n in three],
            now=NOW,
            agents_down=LATE,
        )
    )
    assert changes(result) == []
    assert [r.node for r in result.lost] == ["node-3"]


# keep_unreplaced's table: tests/unit/test_unreplaced_copies.py (session 16: a cordoned copy
# that serves is now kept before a lost one, where session 15 kept the lost one only)
