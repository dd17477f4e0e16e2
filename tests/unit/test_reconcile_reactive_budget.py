"""A predictive resource holds no more copies than the reactive rule would (the operator's side).

The reconcile keeps a shadow of ``policy: reactive`` for a predictive resource (its nodes
and when each was last hot, in the heat tracker like a reactive resource's) and hands
its count to the planner as ``reactive_copies``: the forecast places that many copies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from statecast.core.placement import DemandForecast
from statecast.core.reactive import HeatStats, ObservedHeat
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.predicted import PredictedDemand
from tests.unit._plan_spy import spy_on_plans
from tests.unit.test_controller_reactive import NODES, SETTLED, changes

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
#: mean 1, sigma 1: a pair is hot above 2 accesses per second.
STATS = HeatStats(1.0, 1.0, 10)
NAMES = ("node-1", "node-2", "node-3", "node-4")


def resource() -> dict[str, Any]:
    spec = {"replication": {"policy": "predictive"}, "replicas": {"min": 2}}
    return {"metadata": {"name": "flags", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": spec}  # fmt: skip


def busy_everywhere() -> PredictedDemand:
    """Node 3 and node 4 forecast busy (a 1000-byte state pays for a copy on each at the
    byte prices); node 3 busier than its nodes' mean + sigma, node 4 not."""
    mean = np.array([[0.0] * 15, [0.0] * 15, [3_000.0] * 15, [1_000.0] * 15])
    forecast = DemandForecast(NAMES, mean, mean, mean, np.zeros(4))
    return PredictedDemand(forecast, ("ets",) * 4, 60.0, NOW, 0.9)


def decide(heat: ObservedHeat | None, last_hot: dict[str, float] | None = None) -> Any:
    demand = DemandView(forecast=busy_everywhere(), heat=heat, last_hot=last_hot or {})
    return reconcile(Observed(resource(), NODES, SETTLED, now=NOW, demand=demand))


def test_without_heat_the_prices_decide_alone() -> None:
    # no window of demand sampled: no shadow, the resource's own nodes' hot threshold
    result = decide(None)
    assert [c[1] for c in changes(result) if c[0] == "add"] == ["node-3"]
    assert result.last_hot is None


def test_with_one_hot_node_the_forecast_places_reactives_three_copies() -> None:
    # A shadow started now takes the copies on node-1 and node-2 as its own (a fresh
    # grace, as a restarted reactive operator gives them) and node-3 (hot): three copies.
    heat = ObservedHeat({"node-3": 5.0, "node-4": 1.5}, STATS, 900.0)
    result = decide(heat)
    assert len([c for c in changes(result) if c[0] == "add"]) == 1
    assert set(result.last_hot) == {"node-1", "node-2", "node-3"}  # the shadow, kept


def test_the_shadow_keeps_its_own_copies_through_their_grace() -> None:
    # The shadow held node-4 (hot two minutes ago, within the 5-minute cooldown): four
    # copies, so both busy nodes get one.
    heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0)
    earlier = (NOW - dt.timedelta(minutes=2)).timestamp()
    shadow = {"node-1": earlier, "node-2": earlier, "node-4": earlier}
    result = decide(heat, shadow)
    assert sorted(c[1] for c in changes(result) if c[0] == "add") == ["node-3", "node-4"]
    assert set(result.last_hot) == set(NAMES)


def test_the_planner_is_told_how_many_of_the_shadows_copies_are_for_demand(
    monkeypatch: Any,
) -> None:
    # node-3 hot now, node-1, -2 and -4 held only through their grace (hot two minutes
    # ago): reactive's count is 4, of which 1 for demand (PlanInput.reactive_held, what
    # PlacementSpec.hold_grace_slots reads; session 15)
    import statecast.core.reconcile.policies as policies

    given = spy_on_plans(monkeypatch, policies, "plan_placement")
    heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0)
    earlier = (NOW - dt.timedelta(minutes=2)).timestamp()
    decide(heat, {"node-1": earlier, "node-2": earlier, "node-4": earlier})
    assert [(p.reactive_copies, p.reactive_held) for p in given] == [(4, 1)]
    given.clear()
    decide(None)  # no window sampled: no shadow, neither count
    assert [(p.reactive_copies, p.reactive_held) for p in given] == [(None, None)]
