"""The reconcile keeps lost copies that hold unmerged writes, says so, and marks stand-ins.

Issue 19, item 1: a failover of a sole replica brought back the seed and lost an
acknowledged write, because the lost copy's Replica was removed once its replacement
(seeded from the source) was Ready.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from statecast.controller.builders import build_replica
from statecast.core.reconcile import Observed, ReconcileResult, change_event
from statecast.core.reconcile import reconcile as decide
from statecast.core.reconcile.views import ReplicaView, replica_view
from tests.unit.test_controller_reconcile import NODES, NOW, resource

SEED = "~source.abc"
SOLE = {"replicas": {"min": 1, "max": 1}, "replication": {"policy": "static"}}


def copy(
    node: str,
    vv: dict[str, int],
    phase: str = "Ready",
    stand_in_for: tuple[str, ...] = (),
    lost_at: dt.datetime | None = None,
) -> ReplicaView:
    status: dict[str, Any] = {"phase": phase, "versionVector": vv}
    if lost_at is not None:
        status["phase"] = "Lost"
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "AgentLost",
                "lastTransitionTime": lost_at.isoformat().replace("+00:00", "Z"),
            }
        ]
    spec: dict[str, Any] = {"resource": "flags", "nodeName": node, "reason": "minimum"}
    if stand_in_for:
        spec["standInFor"] = list(stand_in_for)
    return replica_view(
        {"metadata": {"name": f"flags-{node}", "namespace": "ns"}, "spec": spec, "status": status}
    )


def reconcile(
    body: dict[str, Any],
    nodes: Any,
    replicas: list[ReplicaView],
    *,
    now: dt.datetime,
    agents_down: frozenset[str] = frozenset(),
) -> ReconcileResult:
    return decide(Observed(body, nodes, replicas, now=now, agents_down=agents_down))


def changes(result: Any) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(c.action, c.node, c.reason, c.stand_in_for) for c in result.changes]


def degraded(result: Any) -> dict[str, Any]:
    return next(c for c in result.status["conditions"] if c["type"] == "Degraded")


def test_the_replacement_of_a_sole_copy_with_writes_is_a_stand_in_and_the_copy_stays() -> None:
    down = frozenset({"node-1"})
    lost = copy("node-1", {SEED: 1, "node-1": 1}, lost_at=NOW - dt.timedelta(minutes=1))
    first = reconcile(resource(SOLE), NODES, [lost], now=NOW, agents_down=down)
    ((action, there, reason, stands),) = changes(first)
    assert (action, reason, stands) == ("add", "failover", ("node-1",))
    assert first.status["phase"] == "Degraded"
    assert degraded(first)["reason"] == "LastCopyLost"
    assert (
        "the copy on node-1 (events node-1:1, ~source.abc:1) is unreachable"
        in (degraded(first)["message"])
    )
    assert [e.reason for e in first.events] == ["LastCopyLost"]
    assert "a stand-in for the lost copies on node-1" in change_event(first.changes[0]).message
    body = build_replica(resource(SOLE), there, reason="failover", stand_in_for=("node-1",))
    assert body["spec"]["standInFor"] == ["node-1"]
    assert "standInFor" not in build_replica(resource(SOLE), there, reason="minimum")["spec"]

    # the stand-in is Ready (seeded): the lost copy is still not removed, still Degraded
    stand_in = copy(there, {SEED: 1}, stand_in_for=("node-1",))
    later = reconcile(
        resource(SOLE, first.status), NODES, [lost, stand_in], now=NOW, agents_down=down
    )
    assert changes(later) == []
    assert later.status["phase"] == "Degraded"
    assert later.events == ()  # the condition holds: no second Warning
    summary = {r["node"]: r for r in later.status["replicas"]}
    assert summary["node-1"]["unmerged"] is True
    assert summary[there]["standInFor"] == ["node-1"]


def test_when_the_lost_copy_returns_and_is_merged_the_stand_in_is_cleared() -> None:
    back = copy("node-1", {SEED: 1, "node-1": 1, "node-2": 1})
    stand_in = copy("node-2", {SEED: 1, "node-1": 1, "node-2": 1}, stand_in_for=("node-1",))
    result = reconcile(resource(SOLE), NODES, [back, stand_in], now=NOW)
    assert [(s.name, s.stand_in_for) for s in result.stand_ins] == [("flags-node-2", ())]
    assert "StandInCleared" in [e.reason for e in result.events]
    assert degraded(result)["status"] == "False"
    assert changes(result) == [("remove", "node-2", "rebalance", ())]  # max 1: one goes


def test_a_lost_copy_that_held_only_what_others_hold_is_replaced_as_before() -> None:
    spec = {"replicas": {"min": 2}}
    down = frozenset({"node-1"})
    replicas = [
        copy("node-1", {"node-1": 5, "node-2": 3}, lost_at=NOW),
        copy("node-2", {"node-1": 5, "node-2": 3}),
        copy("node-3", {"node-1": 5, "node-2": 3}),
    ]
    result = reconcile(resource(spec), NODES, replicas, now=NOW, agents_down=down)
    assert changes(result) == [("remove", "node-1", "failover", ())]
    assert degraded(result)["status"] == "False"


def test_a_lost_copy_with_a_write_the_others_lack_is_kept_and_named() -> None:
    spec = {"replicas": {"min": 2}}
    down = frozenset({"node-1"})
    replicas = [
        copy("node-1", {"node-1": 6, "node-2": 3}, lost_at=NOW),
        copy("node-2", {"node-1": 5, "node-2": 3}),
        copy("node-3", {"node-1": 5, "node-2": 3}),
    ]
    result = reconcile(resource(spec), NODES, replicas, now=NOW, agents_down=down)
    assert changes(result) == []  # node-3 already replaced it; node-1 is kept
    assert degraded(result)["reason"] == "UnmergedCopyLost"
    assert "node-1 (events node-1:6)" in degraded(result)["message"]


def test_an_unmerged_copy_is_given_up_after_the_retention() -> None:
    spec = {**SOLE, "replication": {"policy": "static", "lostCopyRetention": "1h"}}
    down = frozenset({"node-1"})
    lost = copy("node-1", {"node-1": 1}, lost_at=NOW - dt.timedelta(hours=2))
    stand_in = copy("node-2", {SEED: 1}, stand_in_for=("node-1",))
    result = reconcile(resource(spec), NODES, [lost, stand_in], now=NOW, agents_down=down)
    assert changes(result) == [("remove", "node-1", "failover", ())]
    assert [(s.name, s.stand_in_for) for s in result.stand_ins] == [("flags-node-2", ())]
    assert "CopyAbandoned" in [e.reason for e in result.events]
    assert result.status["phase"] == "Ready"
