"""Reactive replication in the operator: the reconcile, the heat tracker and the handler."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import replace
from typing import Any

import kopf
import pytest

from statecast.api.types import Ref
from statecast.controller import handlers
from statecast.controller.heat import HeatTracker
from statecast.controller.sampling import DemandSampler
from statecast.controller.services import Services
from statecast.core.demand import AgentSample, DemandHistory
from statecast.core.reactive import HeatStats, ObservedHeat
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.views import NodeView, ReplicaView, node_view, replica_view

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
ZONE = "topology.kubernetes.io/zone"
#: mean 1, sigma 1: a pair is hot above 2 accesses per second.
STATS = HeatStats(1.0, 1.0, 10)


def node(name: str, zone: str, ready: bool = True) -> NodeView:
    return node_view(
        {
            "metadata": {"name": name, "labels": {ZONE: zone}},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
        }
    )


def replica(node_name: str, phase: str = "Ready") -> ReplicaView:
    return replica_view(
        {
            "metadata": {"name": f"flags-{node_name}", "namespace": "ns"},
            "spec": {"resource": "flags", "nodeName": node_name, "reason": "minimum"},
            "status": {"phase": phase, "bytes": 1000},
        }
    )


def resource(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "flags", "namespace": "ns", "uid": "u1", "generation": 1},
        "spec": {"replication": {"policy": "reactive"}, "replicas": {"min": 2}, **(spec or {})},
    }


NODES = [node("node-1", "a"), node("node-2", "b"), node("node-3", "a"), node("node-4", "b")]
HOT_3 = ObservedHeat({"node-3": 5.0, "node-1": 0.5}, STATS, 900.0)
SETTLED = [replica("node-1"), replica("node-2")]


def changes(result: Any) -> list[tuple[str, str, str]]:
    return [(c.action, c.node, c.reason) for c in result.changes]


def test_without_a_window_of_demand_reactive_gets_the_plain_spread() -> None:
    result = reconcile(Observed(resource(), NODES, [], now=NOW))
    assert changes(result) == [("add", "node-1", "minimum"), ("add", "node-2", "minimum")]
    assert result.last_hot is None
    ready = next(c for c in result.status["conditions"] if c["type"] == "ForecastReady")
    assert (ready["status"], ready["reason"]) == ("False", "NotPredictive")
    assert "plain spread until a window of demand" in ready["message"]


def test_a_hot_node_gets_a_replica_and_its_time_is_kept() -> None:
    result = reconcile(Observed(resource(), NODES, SETTLED, now=NOW, demand=DemandView(heat=HOT_3)))
    assert changes(result) == [("add", "node-3", "rebalance")]
    assert result.last_hot == {"node-1": NOW.timestamp(), "node-2": NOW.timestamp(),
                               "node-3": NOW.timestamp()}  # fmt: skip
    ready = next(c for c in result.status["conditions"] if c["type"] == "ForecastReady")
    assert ready["message"] == "policy reactive: 1 hot nodes above 2 accesses/s over the last 900s"


def test_other_policies_ignore_heat() -> None:
    spec = {"replication": {"policy": "static"}}
    result = reconcile(
        Observed(resource(spec), NODES, SETTLED, now=NOW, demand=DemandView(heat=HOT_3))
    )
    assert changes(result) == []
    assert result.last_hot is None


def test_a_replica_cold_for_the_cooldown_goes_once_the_hot_one_is_ready() -> None:
    long_ago = (NOW - dt.timedelta(minutes=10)).timestamp()
    last_hot = {"node-1": NOW.timestamp(), "node-2": long_ago}
    spec = {"replication": {"policy": "reactive", "cooldown": "5m"}}
    held = [*SETTLED, replica("node-4", "Syncing")]
    heat = ObservedHeat({"node-4": 5.0}, STATS, 900.0)
    waiting = reconcile(
        Observed(
            resource(spec), NODES, held, now=NOW, demand=DemandView(heat=heat, last_hot=last_hot)
        )
    )
    assert changes(waiting) == [], "node-2 stays while node-4 syncs"
    held = [*SETTLED, replica("node-4")]
    done = reconcile(
        Observed(
            resource(spec), NODES, held, now=NOW, demand=DemandView(heat=heat, last_hot=last_hot)
        )
    )
    assert changes(done) == [("remove", "node-2", "rebalance")]


def test_a_lost_copy_is_replaced_for_failover_before_it_is_removed() -> None:
    nodes = [*NODES[:1], node("node-2", "b", ready=False), *NODES[2:]]
    cold = ObservedHeat({}, STATS, 900.0)
    result = reconcile(Observed(resource(), nodes, SETTLED, now=NOW, demand=DemandView(heat=cold)))
    assert changes(result) == [("add", "node-4", "failover")], "the refill takes the lost zone"
    assert [lost.name for lost in result.lost] == ["flags-node-2"]


def test_max_bytes_per_node_keeps_a_hot_node_without_room_empty() -> None:
    spec = {"placement": {"maxBytesPerNode": "1500"}}
    observed = Observed(resource(spec), NODES, SETTLED, now=NOW, bytes_elsewhere={"node-3": 1000},
                        demand=DemandView(heat=HOT_3))  # fmt: skip
    result = reconcile(observed)
    assert changes(result) == []


def test_history_rates_cover_resources_whose_history_spans_the_window() -> None:
    history = DemandHistory()
    history.add_sample(None, AgentSample("a", 0.0, 100.0, {("ns", "old", "local"): 200}))
    history.add_sample(None, AgentSample("b", 60.0, 100.0, {("ns", "new", "local"): 40}))
    rates = history.rates(50.0, 100.0)
    assert rates == {("ns", "old"): {"a": pytest.approx(2.0)}}


def test_the_tracker_compares_a_resource_with_every_pair_in_the_cluster() -> None:
    sampler = DemandSampler(list)
    now = time.time()
    counts = {("ns", "flags", "local"): 3000, ("ns", "other", "local"): 100}
    for at in (now - 10, now):  # a period of the operator's own readings
        sampler.record(AgentSample("d", now - 600, at, {}))
    sampler.record(AgentSample("c", now - 600, now, counts))
    for name in ("a", "b"):
        sampler.record(AgentSample(name, now - 600, now, {("ns", "other", "local"): 100}))
    tracker = HeatTracker(sampler, window_s=300.0)
    heat = tracker.heat(("ns", "flags"), dt.datetime.fromtimestamp(now, dt.UTC))
    assert heat is not None
    assert heat.stats.pairs == 4
    assert heat.hot() == {"c"}
    assert HeatTracker(sampler, window_s=3600.0).heat(("ns", "flags"), NOW) is None


def test_the_handler_places_by_heat_and_remembers_last_hot() -> None:
    class Gateway:
        def __init__(self) -> None:
            self.created: list[dict[str, Any]] = []

        def create_replica(self, body: dict[str, Any]) -> bool:
            self.created.append(body)
            return True

        def post_event(self, *_: Any) -> None:
            pass

        def agent_leases(self) -> list[Any]:
            return []

        def read_history(self, *_: Any) -> None:
            return None

        def patch_status(self, *_: Any) -> None:
            pass

    gateway = Gateway()
    services = Services.build(gateway)  # type: ignore[arg-type]
    services.activity.mark()  # acting already: the first reconcile keeps the history
    sampler = services.sampler
    now = time.time()
    for at in (now - 10, now):  # a period of the operator's own readings
        sampler.record(AgentSample("d", now - 600, at, {}))
    for name, n in (("a", 100), ("b", 100), ("c", 3000)):
        sampler.record(AgentSample(name, now - 600, now, {("ns", "flags", "local"): n}))
    sampler.record(AgentSample("a", now - 600, now + 0.001, {("ns", "other", "local"): 100}))
    tracker = HeatTracker(sampler, window_s=300.0)
    memo = kopf.Memo(services=replace(services, heat=tracker))
    nodes = {n.name: [n] for n in (node("a", "z1"), node("b", "z2"), node("c", "z1"))}
    held = {("ns", "flags"): [replica("a"), replica("b")]}
    handlers.reconcile_resource(kopf.Body(resource()), memo=memo, node_index=nodes,
                    replica_index=held)  # fmt: skip
    assert [(b["spec"]["nodeName"], b["spec"]["reason"]) for b in gateway.created] == [
        ("c", "rebalance")
    ]
    assert set(tracker.last_hot(("ns", "flags"))) == {"a", "b", "c"}
    static = resource({"replication": {"policy": "static"}})
    handlers.reconcile_resource(kopf.Body(static), memo=memo, node_index=nodes,
                    replica_index=held)  # fmt: skip
    assert tracker.last_hot(("ns", "flags")) == {}


def test_a_periods_cluster_heat_is_computed_once_however_many_reconciles_ask_at_once() -> None:
    """Every reconcile worker that asked before the first had computed the period's
    figures computed them all again (every resource's rates: 20-28 % of the operator's
    samples at 1,000 resources x 50 nodes, session 13's profile)."""
    now = NOW.timestamp()
    computed: list[float] = []
    started = threading.Barrier(8)

    class Counting(DemandSampler):
        def rates(self, window: float, end: float) -> dict[Ref, dict[str, float]]:
            computed.append(end)
            time.sleep(0.2)  # a long computation: the other workers ask meanwhile
            return super().rates(window, end)

    sampler = Counting(lambda: [])
    for at in (now - 10, now):
        sampler.record(AgentSample("d", now - 600, at, {}))
    sampler.record(AgentSample("c", now - 600, now, {("ns", "flags", "local"): 50}))
    tracker = HeatTracker(sampler, window_s=300.0)
    answers: list[object] = []

    def ask() -> None:
        started.wait()
        answers.append(tracker.heat(("ns", "flags"), dt.datetime.fromtimestamp(now, dt.UTC)))

    workers = [threading.Thread(target=ask) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(answers) == 8 and all(a is not None for a in answers)
    assert len(computed) == 1


def test_each_window_asked_for_is_computed_once_a_period() -> None:
    """Resources with their own ``replication.heat.window`` share that window's figures."""
    now = NOW.timestamp()
    computed: list[tuple[float, float]] = []

    class Counting(DemandSampler):
        def rates(self, window: float, end: float) -> dict[Ref, dict[str, float]]:
            computed.append((window, end))
            return super().rates(window, end)

    sampler = Counting(lambda: [])
    for at in (now - 10, now):
        sampler.record(AgentSample("d", now - 7_200, at, {}))
    sampler.record(AgentSample("c", now - 7_200, now, {("ns", "flags", "local"): 50}))
    tracker = HeatTracker(sampler, window_s=300.0)
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    for window in (None, 3_600.0, None, 3_600.0, 3_600.0):
        assert tracker.heat(("ns", "flags"), at, window) is not None
    assert sorted(w for w, _ in computed) == [300.0, 3_600.0]
