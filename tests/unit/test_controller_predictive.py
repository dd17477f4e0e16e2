"""Forecast-driven placement in the operator: forecast, planner input, plan to changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample
from statecast.core.placement import ActionKind, Plan, Reason, ReplicaAction
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.predicted import (
    PredictedDemand,
    forecast_demand,
    seasons_of,
    steps_of,
)
from statecast.core.reconcile.predictive import wanted_from_plan
from statecast.core.reconcile.views import NodeView, ReplicaView, node_view, replica_view
from statecast.core.replica_set import hand_off

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
ZONE = "topology.kubernetes.io/zone"
NODES = ["node-1", "node-2", "node-3", "node-4"]
SPEC = SharedResourceSpec.model_validate(
    {"replicas": {"min": 2}, "prediction": {"interval": "1m", "horizon": "5m"}}
)


def node(name: str, zone: str) -> NodeView:
    return node_view(
        {
            "metadata": {"name": name, "labels": {ZONE: zone}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )


def replica(node_name: str, phase: str = "Ready", age_s: float = 3600) -> ReplicaView:
    created = (NOW - dt.timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z")
    return replica_view(
        {
            "metadata": {"name": f"flags-{node_name}", "namespace": "ns",
                         "creationTimestamp": created},
            "spec": {"resource": "flags", "nodeName": node_name, "reason": "minimum"},
            "status": {"phase": phase, "bytes": 4096},
        }
    )  # fmt: skip


CLUSTER = [node("node-1", "zone-a"), node("node-2", "zone-b"), node("node-3", "zone-a"),
           node("node-4", "zone-b")]  # fmt: skip


def body(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "flags", "namespace": "ns", "uid": "u", "generation": 1},
        "spec": spec,
        "status": {},
    }


def hot_on(hot: str, steps: int = 30, rate: float = 600.0) -> PredictedDemand:
    history = np.zeros((len(NODES), steps))
    history[NODES.index(hot)] = rate
    demand = forecast_demand(history, NODES, SPEC, generated_at=NOW)
    assert demand is not None
    return demand


def test_no_forecast_until_there_is_enough_history() -> None:
    history = np.full((len(NODES), 10), np.nan)
    history[:, -2:] = 5.0
    assert forecast_demand(history, NODES, SPEC, generated_at=NOW) is None


def test_the_forecast_follows_the_busy_node_and_reports_it_first() -> None:
    demand = hot_on("node-4")
    assert demand.forecast.mean.shape == (4, 5)
    status = demand.status()
    assert status["nodes"][0]["node"] == "node-4"  # type: ignore[index]
    assert status["level"] == 0.9


def test_predicted_demand_on_a_node_without_a_replica_brings_one_there() -> None:
    result = reconcile(
        Observed(
            body({"replicas": {"min": 2}, "prediction": {"interval": "1m", "horizon": "5m"}}),
            CLUSTER,
            [replica("node-1"), replica("node-2")],
            now=NOW,
            demand=DemandView(forecast=hot_on("node-4")),
        )
    )
    assert [(c.action, c.node, c.reason) for c in result.changes][:1] == [
        ("add", "node-4", "predicted")
    ]
    conditions = {c["type"]: c for c in result.status["conditions"]}
    assert conditions["ForecastReady"]["status"] == "True"
    assert result.status["forecast"]["nodes"][0]["node"] == "node-4"


def test_without_history_or_when_not_predictive_the_plain_spread_holds() -> None:
    current = [replica("node-1"), replica("node-2")]
    waiting = reconcile(Observed(body({"replicas": {"min": 2}}), CLUSTER, current, now=NOW))
    assert waiting.changes == ()
    conditions = {c["type"]: c for c in waiting.status["conditions"]}
    assert conditions["ForecastReady"]["reason"] == "NotEnoughHistory"
    static = reconcile(
        Observed(
            body({"replicas": {"min": 2}, "replication": {"policy": "static"}}),
            CLUSTER,
            current,
            now=NOW,
            demand=DemandView(forecast=hot_on("node-4")),
        )
    )
    assert static.changes == ()
    conditions = {c["type"]: c for c in static.status["conditions"]}
    assert conditions["ForecastReady"]["reason"] == "NotPredictive"


def test_a_plan_removes_nothing_while_something_it_adds_or_keeps_is_not_ready() -> None:
    plan = Plan(
        (
            ReplicaAction(ActionKind.KEEP, "node-1", Reason.MINIMUM),
            ReplicaAction(ActionKind.KEEP, "node-2", Reason.MINIMUM),
            ReplicaAction(ActionKind.REMOVE, "node-3", Reason.COST),
        )
    )
    syncing = [replica("node-1"), replica("node-2", "Syncing"), replica("node-3")]
    assert hand_off(wanted_from_plan(plan), {r.node: r.current() for r in syncing}).changes == ()
    ready = [replica("node-1"), replica("node-2"), replica("node-3")]
    changes = hand_off(wanted_from_plan(plan), {r.node: r.current() for r in ready}).changes
    assert [(c.action, c.node, c.reason) for c in changes] == [("remove", "node-3", "cost")]


def test_the_forecaster_forecasts_once_per_interval_from_sampled_history() -> None:
    sampler = DemandSampler(lambda: [])
    start = NOW.timestamp() - 600
    for i in range(11):  # an agent on node-4 read every minute for 10 minutes
        sampler.record(
            AgentSample("node-4", start, start + 60 * i, {("ns", "flags", "remote"): 300 * i})
        )
    forecaster = DemandForecaster(sampler)
    demand = forecaster.demand(("ns", "flags"), SPEC, NODES, NOW)
    assert demand is not None
    assert demand.forecast.nodes == ("node-4",), "the nodes without demand have no series"
    assert float(demand.forecast.mean[0, 0]) > 100
    assert forecaster.demand(("ns", "flags"), SPEC, NODES, NOW + dt.timedelta(seconds=5)) is demand


def test_the_forecast_starts_from_the_last_interval_every_agent_has_covered() -> None:
    sampler = DemandSampler(lambda: [], period=10.0)
    t = NOW.timestamp()
    for node, last in (("node-3", t - 5), ("node-4", t - 25)):
        for i in range(12):
            at = last - 60 * (11 - i)
            sampler.record(AgentSample(node, t - 3600, at, {("ns", "flags", "local"): 10 * i}))
    demand = DemandForecaster(sampler).demand(("ns", "flags"), SPEC, NODES, NOW)
    assert demand is not None
    assert demand.generated_at == NOW - dt.timedelta(minutes=1), "node-4 lags into the last minute"


def test_a_deleted_resource_is_forgotten() -> None:
    sampler = DemandSampler(lambda: [])
    start = NOW.timestamp() - 600
    for i in range(11):
        sampler.record(AgentSample("node-4", start, start + 60 * i, {("ns", "flags", "local"): i}))
    forecaster = DemandForecaster(sampler)
    assert forecaster.demand(("ns", "flags"), SPEC, NODES, NOW) is not None
    forecaster.forget(("ns", "flags"))
    assert np.isnan(sampler.matrix(("ns", "flags"), NODES, 60, NOW.timestamp(), 5)).all()


def test_seasons_come_from_prediction_seasonality_in_steps_shortest_first() -> None:
    def spec(**prediction: Any) -> SharedResourceSpec:
        return SharedResourceSpec.model_validate({"prediction": {"horizon": "1d"} | prediction})

    assert seasons_of(spec(interval="1m")) == (1440,)  # the day by default
    assert seasons_of(spec(interval="1h", seasonality=["7d", "1d"])) == (24, 168)
    assert seasons_of(spec(interval="30m", seasonality=["1d", "24h"])) == (48,)
    assert seasons_of(spec(interval="1m", seasonality=["1m"])) == (2,)
    assert steps_of(spec(interval="1h", seasonality=["7d", "1d"]))[2] == 24


def test_forecast_demand_learns_the_week_from_the_seasonality() -> None:
    rng = np.random.default_rng(2)
    hours = 5 * 7 * 24
    day = (np.arange(hours) // 24) % 7
    rate = np.where(day >= 5, 10.0, 100.0)  # quiet weekends
    history = rng.poisson(np.broadcast_to(rate, (2, hours))).astype(float)[:, : hours - 48]
    spec = SharedResourceSpec.model_validate(
        {"prediction": {"interval": "1h", "horizon": "6h", "seasonality": ["1d", "7d"]}}
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    demand = forecast_demand(history, ("a", "b"), spec, generated_at=now)
    assert demand is not None
    # The history ends on a Friday night: the next hours are the weekend's.
    np.testing.assert_allclose(demand.forecast.mean, 10.0, rtol=0.5)


def test_a_scheduled_event_is_forecast_and_a_replica_placed_before_it_starts() -> None:
    """node-4 reads twice a minute; a sale starting in 5 minutes multiplies that by 500.

    The replicas hold 64 MiB: copying one to node-4 does not pay for its usual reads,
    only for the sale's.
    """
    rng = np.random.default_rng(3)
    history = np.zeros((len(NODES), 240))
    history[NODES.index("node-4")] = rng.poisson(2, 240)
    starts = (NOW + dt.timedelta(minutes=5)).isoformat()
    created = (NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    current = [
        replica_view(
            {
                "metadata": {"name": f"flags-{n}", "namespace": "ns", "creationTimestamp": created},
                "spec": {"resource": "flags", "nodeName": n, "reason": "minimum"},
                "status": {"phase": "Ready", "bytes": 64 * 2**20},
            }
        )
        for n in ("node-1", "node-2")
    ]

    def spec(events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "replicas": {"min": 2},
            "prediction": {"interval": "1m", "horizon": "15m", "events": events},
        }

    sale = [{"name": "sale", "at": starts, "duration": "30m", "effect": 500}]
    decided = {}
    for name, events in (("without", []), ("with", sale)):
        resource = SharedResourceSpec.model_validate(spec(events))
        demand = forecast_demand(history, NODES, resource, generated_at=NOW)
        assert demand is not None
        mean = demand.forecast.mean[NODES.index("node-4")]
        if events:  # quiet for 5 minutes, then 500 times busier
            assert mean[:5].max() < 6
            assert mean[5:].min() > 300
        result = reconcile(
            Observed(body(spec(events)), CLUSTER, current, now=NOW,
                     demand=DemandView(forecast=demand))
        )  # fmt: skip
        decided[name] = [(c.action, c.node, c.reason) for c in result.changes]
    assert decided["without"] == []
    assert decided["with"] == [("add", "node-4", "predicted")]  # 5 minutes before the sale


def test_the_incremental_engine_forecasts_the_event_too() -> None:
    from statecast.core.reconcile.demand_engine import DemandEngine, EngineSettings
    from statecast.core.reconcile.predicted import events_of

    resource = SharedResourceSpec.model_validate(
        {
            "prediction": {
                "interval": "1m", "horizon": "15m",
                "events": [{"name": "batch", "schedule": "*/30 * * * *", "duration": "5m",
                            "effect": 4}],
            }
        }
    )  # fmt: skip
    steps = 600
    end = NOW.timestamp()
    edges = end - 60.0 * np.arange(steps, -1, -1)
    from statecast.core.forecast.events import multipliers

    factors = multipliers(events_of(resource), edges)
    history = np.random.default_rng(4).poisson(20 * factors, (2, steps)).astype(float)
    settings = EngineSettings(("a", "b"), 60.0, 15, 1440, 0.9, 4320, events=events_of(resource))
    engine = DemandEngine.build(settings, end, history, np.zeros_like(history), np.zeros(2))
    assert engine is not None
    demand = engine.demand(resource, np.zeros(2), previous_next=None, writes_per_min=0.0)
    mean = demand.forecast.mean
    # NOW is on the hour: the batch runs in the first 5 minutes, again from minute 30.
    assert mean[:, :5].mean() > 2.5 * mean[:, 6:15].mean()


def test_an_events_effect_is_learned_from_its_past_occurrences() -> None:
    """Mondays 09:00-11:00 triple the demand; the spec says 1.5 (the engine and one-shot)."""
    from statecast.core.reconcile.demand_engine import DemandEngine, EngineSettings
    from statecast.core.reconcile.predicted import events_of

    resource = SharedResourceSpec.model_validate(
        {
            "prediction": {
                "interval": "1h", "horizon": "12h",
                "events": [{"name": "standup", "schedule": "0 9 * * 1", "duration": "2h",
                            "effect": 1.5}],
            }
        }
    )  # fmt: skip
    end = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # a Monday, midnight
    steps = 4 * 7 * 24
    edges = end.timestamp() - 3600.0 * np.arange(steps, -1, -1)
    hour = (edges[:-1] // 3600) % 24  # each interval's start
    base = 50 * np.exp(0.5 * np.sin(2 * np.pi * hour / 24))
    weekday = ((edges[:-1] // 86400) + 3) % 7  # 1970-01-01 was a Thursday (3)
    truth = np.where((weekday == 0) & (hour >= 9) & (hour < 11), 3.0, 1.0)
    history = np.random.default_rng(5).poisson(base * truth, (2, steps)).astype(float)
    later = np.arange(12)  # the hours the 12 steps ahead start at
    expected = 50 * np.exp(0.5 * np.sin(2 * np.pi * later / 24))
    settings = EngineSettings(("a", "b"), 3600.0, 12, 24, 0.9, steps, events=events_of(resource))
    engine = DemandEngine.build(settings, end.timestamp(), history, np.zeros_like(history),
                                np.zeros(2))  # fmt: skip
    assert engine is not None
    np.testing.assert_allclose(engine.effects, 2.6, rtol=0.2)  # 3, shrunk towards 1.5
    incremental = engine.demand(resource, np.zeros(2), previous_next=None, writes_per_min=0.0)
    one_shot = forecast_demand(history, ("a", "b"), resource, generated_at=end)
    assert one_shot is not None
    for demand in (incremental, one_shot):
        ratio = demand.forecast.mean / expected
        # 09:00 and 10:00 are steps 10 and 11: lifted by the learned effect, not 1.5.
        assert ratio[:, 9:11].min() > 2.0, ratio[:, 9:11]
        assert np.median(ratio[:, :9]) < 1.3
