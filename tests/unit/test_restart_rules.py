"""What holds across an operator restart (issue 19, item 3): copies placed for demand stay
while there is no informed plan, decisions wait for the operator's own sampling, and
recent removals are remembered in the resource's status."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample, DemandHistory
from statecast.core.placement.types import CurrentReplica
from statecast.core.reconcile import Observed, reconcile
from statecast.core.reconcile.removals import recent_removals, recently_removed
from statecast.core.reconcile.views import replica_view
from statecast.core.replica_set import WantedReplicas, hold_current
from tests.unit.test_controller_reconcile import NODES, NOW, replica, resource


@pytest.mark.parametrize(
    ("wanted", "existing", "limit", "nodes", "removals"),
    [
        # the spread wants a; b and c were placed for demand: they stay
        (("a",), ("a", "b:predicted", "c:hedge"), None, ("a", "b", "c"), {}),
        # ... within replicas.max
        (("a",), ("a", "b:predicted", "c:hedge"), 2, ("a", "b"), {"c": "rebalance"}),
        # a copy on a node no longer eligible (d) is still handed off
        (("a",), ("a", "d:predicted"), None, ("a",), {"d": "rebalance"}),
        # a consumer's copy goes with its last pod, forecast or not
        (("a",), ("a", "b:consumer"), None, ("a",), {"b": "rebalance"}),
    ],
)
def test_without_an_informed_plan_no_copy_on_an_eligible_node_is_removed(
    wanted, existing, limit, nodes, removals
):
    current = {
        node: CurrentReplica(node, reason=reason or "minimum")
        for node, _, reason in (e.partition(":") for e in existing)
    }
    spread = WantedReplicas(wanted, {}, {n: "rebalance" for n in current if n not in wanted})
    held = hold_current(spread, current, {"a", "b", "c"}, limit)
    assert held.nodes == nodes
    assert dict(held.removals) == removals


def test_a_predictive_resource_without_a_forecast_keeps_its_predicted_copies() -> None:
    spec = {"replicas": {"min": 1}}  # policy predictive by default; no forecast yet
    replicas = [replica("node-1"), replica("node-2"), replica("node-3")]
    result = reconcile(Observed(resource(spec), NODES, replicas, now=NOW))
    assert result.changes == ()
    forecast = next(c for c in result.status["conditions"] if c["type"] == "ForecastReady")
    assert "copies placed before are kept" in forecast["message"]
    static = reconcile(
        Observed(resource({**spec, "replication": {"policy": "static"}}), NODES, replicas, now=NOW)
    )
    assert [c.action for c in static.changes] == ["remove", "remove"]  # static: just the spread


def test_a_restarted_operator_forecasts_only_once_its_own_readings_cover_an_interval() -> None:
    now = time.time()
    saved = DemandHistory()  # what the operator saved before it restarted
    previous = None
    for step in range(40):
        t = now - 400 + 5 * step
        sample = AgentSample("a", now - 1000, t, {("ns", "flags", "local"): 10 * step})
        saved.add_sample(previous, sample)
        previous = sample
    snapshot = saved.snapshot(("ns", "flags"))
    assert snapshot is not None
    sampler = DemandSampler(list, period=1.0)
    sampler.restore(("ns", "flags"), snapshot)
    forecaster = DemandForecaster(sampler)
    spec = SharedResourceSpec.model_validate({"prediction": {"interval": "5s", "horizon": "15s"}})

    def demand_at(t: float) -> object:
        return forecaster.demand(("ns", "flags"), spec, ["a"], dt.datetime.fromtimestamp(t, dt.UTC))

    sampler.record(AgentSample("a", now - 1000, now, {("ns", "flags", "local"): 400}))
    assert demand_at(now) is None  # the first reading after the restart: not yet
    sampler.record(AgentSample("a", now - 1000, now + 6, {("ns", "flags", "local"): 460}))
    assert demand_at(now + 6) is not None  # an interval of its own readings


def test_removals_are_remembered_in_the_status_for_two_cooldowns() -> None:
    now = NOW
    status = {
        "recentRemovals": [
            {"node": "node-1", "time": "2026-11-28T11:58:00Z"},  # 2 minutes ago
            {"node": "node-2", "time": "2026-11-28T11:00:00Z"},  # an hour ago: forgotten
            {"node": "node-3", "time": "garbled"},
        ]
    }
    assert recently_removed(status, now, 600.0) == {"node-1": 120.0}
    rows = recent_removals(status, ["node-4"], now, 600.0)
    assert rows == [
        {"node": "node-1", "time": "2026-11-28T11:58:00Z"},
        {"node": "node-4", "time": "2026-11-28T12:00:00Z"},
    ]
    spec = {"replicas": {"min": 1}, "replication": {"policy": "static"}}
    result = reconcile(
        Observed(resource(spec), NODES, [replica("node-1"), replica("node-2")], now=now)
    )
    assert result.status["recentRemovals"] == [
        {"node": c.node, "time": "2026-11-28T12:00:00Z"} for c in result.changes
    ]


@pytest.mark.parametrize("policy", ["predictive", "reactive"])
def test_without_an_informed_plan_a_consumer_copy_still_goes_with_its_last_pod(policy) -> None:
    spec = {"replicas": {"min": 1}, "replication": {"policy": policy}}
    consumer = replica_view(
        {
            "metadata": {"name": "flags-node-2", "namespace": "ns"},
            "spec": {"resource": "flags", "nodeName": "node-2", "reason": "consumer"},
            "status": {"phase": "Ready"},
        }
    )
    result = reconcile(Observed(resource(spec), NODES, [replica("node-1"), consumer], now=NOW))
    assert [(c.action, c.node) for c in result.changes] == [("remove", "node-2")]
