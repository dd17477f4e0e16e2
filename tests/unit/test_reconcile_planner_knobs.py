"""The operator gives the planner what the simulator gives it (session 23).

``spec.replication.planner`` sets the planner's knobs beyond the default prices
(``copyWeight``, ``trimInReactiveOrder``, ``fillInReactiveOrder``, ``releasePodCopies``,
``cooldownFromRead``; since session 24 ``everywhereCopyDays`` and ``floorInZoneOrder``; since
session 25 ``holdGraceSlots`` (react25), ``everywhereMinBytes`` (gc25), the rest of the
PlacementSpec fields the sweeps' runs set, and the price grid's ``holdWeight``, ``costWeight``
and ``bytePricesOnly``, :func:`placement_costs`; since session 26 ``backgroundReadsPerHour``
(gc26)); the
reconcile hands the planner the reactive shadow's nodes (``PlanInput.reactive_nodes``) and
the nodes a consumer pod left lately (``PlanInput.consumers_left``), as the simulator's
planner policy does; and the shadow, the default budget, runs with the self-tuner on
unless the tuner sets the cost weight (a ``targetLocalHitRatio``): the spec's default
(tuning on, no target) is the simulator's default point.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.heat import HeatTracker
from statecast.controller.observe import consumers_lately
from statecast.controller.sampling import AgentSample, DemandSampler
from statecast.controller.services import Services
from statecast.core.placement import CostModel, DemandForecast, LatencyModel, PlacementSpec
from statecast.core.reactive import ObservedHeat
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.predicted import PredictedDemand
from statecast.core.reconcile.predictive import (
    placement_costs,
    placement_input,
    placement_latency,
    placement_spec,
)
from statecast.core.reconcile.tuning import TuningDecision, tuner_prices
from statecast.core.reconcile.views import NodeView
from statecast.core.tuning import TuningState
from tests.unit._plan_spy import spy_on_plans
from tests.unit.test_controller_reactive import NODES, SETTLED
from tests.unit.test_reconcile_reactive_budget import NOW, STATS, busy_everywhere


def resource(replication: dict[str, Any]) -> dict[str, Any]:
    spec = {"replication": {"policy": "predictive", **replication}, "replicas": {"min": 2}}
    return {"metadata": {"name": "flags", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": spec}  # fmt: skip


def tuned() -> TuningDecision:
    """The learner's decision at the start of its first window (cost weight 1)."""
    return TuningDecision(TuningState.initial(0.5), NOW, None, 0.5)


def plans(monkeypatch: pytest.MonkeyPatch, replication: dict[str, Any], **demand: Any) -> list[Any]:
    """The planner inputs of one reconcile of a predictive resource with heat on node-3."""
    import statecast.core.reconcile.policies as policies

    given = spy_on_plans(monkeypatch, policies, "plan_placement")
    heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0)
    view = DemandView(forecast=busy_everywhere(), heat=heat, **demand)
    reconcile(Observed(resource(replication), NODES, SETTLED, now=NOW, demand=view))
    return given


@pytest.mark.parametrize(
    ("knobs", "changed"),
    [
        ({}, {}),
        ({"copyWeight": 64}, {"copy_weight": 64.0}),
        ({"trimInReactiveOrder": True}, {"trim_in_reactive_order": True}),
        ({"fillInReactiveOrder": True}, {"fill_in_reactive_order": True}),
        ({"releasePodCopies": True}, {"release_pod_copies": True}),
        ({"cooldownFromRead": True}, {"cooldown_from_read": True}),
        ({"everywhereCopyDays": 10}, {"everywhere_copy_days": 10.0}),  # session 24
        ({"floorInZoneOrder": True}, {"floor_in_zone_order": True}),  # session 24
        # session 25: the PlacementSpec fields the sweeps' frontier runs set
        ({"moveResidence": "0s"}, {"move_residence_s": 0.0}),
        ({"moveResidence": "2h"}, {"move_residence_s": 7200.0}),
        ({"handOffOnAdd": False}, {"hand_off_on_add": False}),
        ({"changeSteps": 1}, {"change_steps": 1}),
        ({"movePersistence": "30m"}, {"move_persistence_s": 1800.0}),
        ({"floorWindow": "15m"}, {"floor_window_s": 900.0}),
        (
            {"floorWindow": "1h", "floorObservedOnly": True},
            {"floor_window_s": 3600.0, "floor_observed_only": True},
        ),
        ({"moveRatio": 0.5}, {"move_ratio": 0.5}),
        ({"copyFloor": True}, {"copy_floor": True}),
        ({"holdGraceSlots": False}, {"hold_grace_slots": False}),  # session 25 (react25)
        ({"zoneFloor": 2}, {"zone_floor": 2}),
        ({"costWeight": 4}, {"cost_weight": 4.0}),
        ({"copyWeight": 1 / 256}, {"copy_weight": 1 / 256}),  # streams-dear's, session 25
        ({"everywhereMinBytes": 64 << 20}, {"everywhere_min_bytes": 64 << 20}),  # session 25
        ({"swapInReactiveOrder": True}, {"swap_in_reactive_order": True}),  # session 26
        ({"backgroundReadsPerHour": 2.5}, {"background_reads_per_hour": 2.5}),  # session 26
    ],
)
def test_the_specs_planner_knobs_reach_the_planner(
    knobs: dict[str, Any], changed: dict[str, Any]
) -> None:
    spec = SharedResourceSpec.model_validate({"replication": {"planner": knobs}})
    got, default = placement_spec(spec), placement_spec(SharedResourceSpec())
    names = (*KNOBS, *changed)
    assert {n: getattr(got, n) for n in names} == {
        **{n: getattr(default, n) for n in names},
        **changed,
    }
    assert default == PlacementSpec(
        min_replicas=2, cooldown_s=300.0
    )  # the operator's default spec: every knob at the planner's own default


#: The planner's knobs a spec sets (``spec.replication.planner``), by PlacementSpec name.
KNOBS = (
    "copy_weight",
    "trim_in_reactive_order",
    "fill_in_reactive_order",
    "release_pod_copies",
    "cooldown_from_read",
    "everywhere_copy_days",
    "floor_in_zone_order",
    "move_residence_s",
    "hand_off_on_add",
    "change_steps",
    "move_persistence_s",
    "floor_window_s",
    "floor_observed_only",
    "move_ratio",
    "copy_floor",
    "hold_grace_slots",
    "everywhere_min_bytes",
    "swap_in_reactive_order",
    "background_reads_per_hour",
    "zone_floor",
    "cost_weight",
)


@pytest.mark.parametrize(
    ("knobs", "hour", "hot_sigma"),
    [
        ({}, 40_000.0, 1.5),  # the default prices, the heat's k
        ({"holdWeight": 4}, 160_000.0, 1.5),
        # holding at holdWeight, divided by the cost weight that multiplies every price
        ({"holdWeight": 4, "costWeight": 2}, 80_000.0, 1.5),
        ({"bytePricesOnly": True}, 40_000.0, None),
        # a 64 MiB replica's hour priced as one of 16 MiB: a replica-hour alike any size
        ({"holdPerReplica": "16Mi"}, 10_000.0, 1.5),
        ({"holdPerReplica": "16Mi", "holdWeight": 4}, 40_000.0, 1.5),
    ],
)
def test_the_specs_prices_reach_the_planner(
    knobs: dict[str, Any], hour: float, hot_sigma: float | None
) -> None:
    spec = SharedResourceSpec.model_validate({"replication": {"planner": knobs}})
    costs = placement_costs(spec, 1.5, 64 * 2**20)
    assert (costs.ms_per_gib_hour, costs.ms_per_gib_moved, costs.hot_sigma) == (
        hour,
        CostModel().ms_per_gib_moved,
        hot_sigma,
    )


def test_the_default_prices_are_the_planners_own() -> None:
    assert placement_costs(SharedResourceSpec(), None) == CostModel()


@pytest.mark.parametrize(("knobs", "same_zone_ms"), [({}, 0.5), ({"valueLocalHits": True}, 2.0)])
def test_local_hits_valued_count_a_same_zone_read_as_a_remote_one(
    knobs: dict[str, Any], same_zone_ms: float
) -> None:
    spec = SharedResourceSpec.model_validate({"replication": {"planner": knobs}})
    model = LatencyModel(same_zone_ms=0.5, cross_zone_ms=2.0)
    assert placement_latency(spec, model) == replace(model, same_zone_ms=same_zone_ms)
    assert placement_latency(SharedResourceSpec(), None) == LatencyModel()


def test_local_hits_valued_reach_the_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    given = plans(monkeypatch, {"planner": {"valueLocalHits": True}})
    assert [p.latency.same_zone_ms == p.latency.cross_zone_ms for p in given] == [True]


def test_the_tuners_weight_multiplies_the_specs() -> None:
    spec = SharedResourceSpec.model_validate({"replication": {"planner": {"costWeight": 4}}})
    tuned = TuningState.initial(0.5)
    learned = type(tuned)(**{**tuned.__dict__, "cost_weight": 2.0})
    assert placement_spec(spec, learned).cost_weight == 8.0


def test_byte_prices_take_no_budget_from_the_reactive_shadow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = plans(monkeypatch, {"planner": {"bytePricesOnly": True}})
    assert [(p.reactive_copies, p.reactive_nodes, p.costs.hot_sigma) for p in given] == [
        (None, frozenset(), None)
    ]


@pytest.mark.parametrize("days", [-1, 40_000])
def test_everywhere_copy_days_out_of_range_is_refused(days: float) -> None:
    with pytest.raises(ValidationError, match=r"everywhereCopyDays|everywhere_copy_days"):
        SharedResourceSpec.model_validate(
            {"replication": {"planner": {"everywhereCopyDays": days}}}
        )


@pytest.mark.parametrize("least", [-1, 2**51])
def test_everywhere_min_bytes_out_of_range_is_refused(least: int) -> None:
    with pytest.raises(ValidationError, match=r"everywhereMinBytes|everywhere_min_bytes"):
        SharedResourceSpec.model_validate(
            {"replication": {"planner": {"everywhereMinBytes": least}}}
        )


@pytest.mark.parametrize("rate", [-1.0, 2e9])
def test_background_reads_per_hour_out_of_range_is_refused(rate: float) -> None:
    with pytest.raises(ValidationError, match=r"backgroundReadsPerHour|background_reads_per_hour"):
        SharedResourceSpec.model_validate(
            {"replication": {"planner": {"backgroundReadsPerHour": rate}}}
        )


@pytest.mark.parametrize("weight", [0, 0.0005, 2_000_000])
def test_a_copy_weight_out_of_range_is_refused(weight: float) -> None:
    with pytest.raises(ValidationError, match=r"copyWeight|copy_weight"):
        SharedResourceSpec.model_validate({"replication": {"planner": {"copyWeight": weight}}})


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"holdWeight": 0}, "holdWeight|hold_weight"),
        ({"holdWeight": 2e6}, "holdWeight|hold_weight"),
        ({"costWeight": 0}, "costWeight|cost_weight"),
        ({"costWeight": 2e6}, "costWeight|cost_weight"),
        ({"changeSteps": -1}, "changeSteps|change_steps"),
        ({"moveRatio": -0.5}, "moveRatio|move_ratio"),
        ({"zoneFloor": 0}, "zoneFloor|zone_floor"),
        ({"floorWindow": "an hour"}, "floorWindow|floor_window"),
        ({"moveResidence": "-1h"}, "moveResidence|move_residence"),
        ({"movePersistence": "5"}, "movePersistence|move_persistence"),
        ({"holdPerReplica": "lots"}, "holdPerReplica|hold_per_replica"),
    ],
)
def test_a_knob_out_of_range_is_refused(knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SharedResourceSpec.model_validate({"replication": {"planner": knobs}})


@pytest.mark.parametrize(
    ("tuning", "prices"),
    [
        ({}, False),  # the default: tuning on, no target
        ({"enabled": False}, False),
        ({"targetLocalHitRatio": 0.8}, True),
        ({"enabled": False, "targetLocalHitRatio": 0.8}, False),
    ],
)
def test_the_tuner_prices_only_with_a_target(tuning: dict[str, Any], prices: bool) -> None:
    spec = SharedResourceSpec.model_validate({"replication": {"tuning": tuning}})
    assert tuner_prices(spec) is prices


def test_the_default_spec_keeps_reactives_budget_with_the_tuner_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # tuning on (the default) without a target: the learner keeps cost weight 1, and the
    # shadow of the reactive rule still gives the count (before session 23 it gave none)
    given = plans(monkeypatch, {}, tuning=tuned())
    assert [p.reactive_copies for p in given] == [3]


def test_a_local_hit_target_is_a_budget_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    given = plans(monkeypatch, {"tuning": {"targetLocalHitRatio": 0.8}}, tuning=tuned())
    assert [(p.reactive_copies, p.reactive_nodes) for p in given] == [(None, frozenset())]


def test_the_planner_is_given_the_shadows_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh shadow takes the copies on node-1 and node-2 as its own, node-3 is hot
    given = plans(monkeypatch, {"planner": {"trimInReactiveOrder": True}})
    assert [p.reactive_nodes for p in given] == [frozenset({"node-1", "node-2", "node-3"})]
    assert [p.spec.trim_in_reactive_order for p in given] == [True]


def test_the_planner_is_given_the_nodes_a_consumer_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # no consumer pod runs now (SETTLED has none): both nodes a pod ran on lately are left
    lately = frozenset({"node-2", "node-4"})
    given = plans(monkeypatch, {"planner": {"releasePodCopies": True}}, consumers_lately=lately)
    assert [p.consumers_left for p in given] == [lately]


def test_a_node_whose_consumer_runs_now_has_not_been_left() -> None:
    spec = SharedResourceSpec.model_validate(
        {"replication": {"planner": {"releasePodCopies": True}}}
    )
    names = ("node-1", "node-2")
    nodes = [NodeView(n, {"topology.kubernetes.io/zone": "a"}, True, False, ()) for n in names]
    mean = np.ones((2, 15))
    forecast = DemandForecast(names, mean, mean, mean, np.zeros(2))
    given = placement_input(
        spec,
        nodes,
        set(names),
        [],
        PredictedDemand(forecast, ("ets",) * 2, 60.0, NOW, 0.9),
        now=NOW,
        consumers=["node-1"],
        consumers_left=names,
    )
    assert given.consumers_left == frozenset({"node-2"})


def test_the_operator_reads_the_nodes_a_consumer_ran_on_from_the_pod_history() -> None:
    # the heat window (900 s) and the grace (replication.cooldown 5m): 1,200 s back
    sampler = DemandSampler(list)
    ref, now = ("ns", "flags"), NOW.timestamp()
    sampler.record_pods(ref, {"node-1": 1, "node-2": 1}, now - 3_000)
    sampler.record_pods(ref, {"node-1": 0, "node-2": 1}, now - 2_000)  # node-1's left long ago
    sampler.record_pods(ref, {"node-2": 0, "node-3": 1}, now - 600)  # node-2's left lately
    services = cast(Services, SimpleNamespace(sampler=sampler, heat=HeatTracker(sampler)))
    names = [NodeView(n, {}, True, False, ()) for n in ("node-1", "node-2", "node-3", "node-4")]
    on = SharedResourceSpec.model_validate({"replication": {"planner": {"releasePodCopies": True}}})
    assert consumers_lately(services, ref, on, names, NOW) == {"node-2", "node-3"}
    off = SharedResourceSpec.model_validate({})
    assert consumers_lately(services, ref, off, names, NOW) == frozenset()


@pytest.mark.parametrize(
    ("heat", "refused"),
    [
        ({}, False),
        ({"window": "1m", "kSigma": 0}, False),
        ({"window": "24h", "kSigma": 10}, False),
        ({"window": "30s"}, True),
        ({"window": "25h"}, True),
        ({"window": "2d"}, True),
        ({"kSigma": -0.5}, True),
        ({"kSigma": 11}, True),
    ],
)
def test_the_rules_window_and_k_are_bounded(heat: dict[str, Any], refused: bool) -> None:
    spec = {"replication": {"heat": heat}}
    if refused:
        with pytest.raises(ValidationError, match=r"heat"):
            SharedResourceSpec.model_validate(spec)
    else:
        SharedResourceSpec.model_validate(spec)


def test_a_resource_reads_heat_over_its_own_window_and_k() -> None:
    # node a read flags 36 times in an hour, node c 3,000 times in the last 10 minutes
    sampler = DemandSampler(list)
    now = NOW.timestamp()
    for at in (now - 10, now):
        sampler.record(AgentSample("d", now - 3_600, at, {}))
    sampler.record(AgentSample("c", now - 600, now, {("ns", "flags", "local"): 3_000}))
    counts = {("ns", "other", "local"): 3_600, ("ns", "flags", "local"): 36}
    sampler.record(AgentSample("a", now - 3_600, now, counts))
    tracker = HeatTracker(sampler, window_s=600.0)
    ref = ("ns", "flags")
    mine = tracker.heat(ref, NOW)
    assert mine is not None and (mine.window_s, mine.k_sigma) == (600.0, 1.0)
    assert mine.rates["c"] == pytest.approx(5.0)
    hourly = tracker.heat(ref, NOW, 3_600.0, 0.25)
    assert hourly is not None and (hourly.window_s, hourly.k_sigma) == (3_600.0, 0.25)
    assert hourly.rates["c"] == pytest.approx(3_000 / 3_600)
    assert tracker.heat(ref, NOW, 7_200.0) is None  # the history is younger than the window


def test_the_prices_hot_threshold_is_the_rules_k(monkeypatch: pytest.MonkeyPatch) -> None:
    import statecast.core.reconcile.policies as policies

    given = spy_on_plans(monkeypatch, policies, "plan_placement")
    heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0, 0.25)
    view = DemandView(forecast=busy_everywhere(), heat=heat)
    reconcile(Observed(resource({}), NODES, SETTLED, now=NOW, demand=view))
    assert [p.costs.hot_sigma for p in given] == [0.25]


def quiet() -> PredictedDemand:
    """No demand forecast on any node (nothing pays for a copy beyond ``min``)."""
    names = tuple(n.name for n in NODES)
    mean = np.zeros((len(names), 15))
    forecast = DemandForecast(names, mean, mean, mean, np.zeros(4))
    return PredictedDemand(forecast, ("ets",) * 4, 60.0, NOW, 0.9)


@pytest.mark.parametrize(("days", "added"), [(0, []), (1, ["node-3", "node-4"])])
def test_a_resource_worth_holding_everywhere_is_copied_to_every_node(
    days: float, added: list[str]
) -> None:
    # no writes observed: a copy outlasts any number of days of its (empty) write stream
    spec = {"planner": {"everywhereCopyDays": days}, "tuning": {"enabled": False}}
    view = DemandView(forecast=quiet())
    result = reconcile(Observed(resource(spec), NODES, SETTLED, now=NOW, demand=view))
    assert sorted(c.node for c in result.changes if c.action == "add") == added
    assert {c.reason for c in result.changes} <= {"everywhere"}  # its own reason (session 25)
