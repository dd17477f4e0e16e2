"""Settings that validate and do nothing are reported, not refused (session 26).

``ignored_settings`` names each: the predictive planner's knobs (and thresholds, budget, a
tuning target) on a ``reactive`` or ``static`` resource, ``heat`` on a static one, the
reactive budget's knobs where ``bytePricesOnly`` or a tuning target turns the budget off,
``copyFloor`` and ``heat`` with ``bytePricesOnly``, and a knob whose partner is off. The
reconcile appends them to ForecastReady's message and posts one ``SettingsIgnored``
Warning per spec generation; the resource is placed as before (nothing refused or lost).
"""

from __future__ import annotations

from typing import Any

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.placement import PlanInput
from statecast.core.reactive import ObservedHeat
from statecast.core.reconcile import DemandView, Observed, reconcile
from statecast.core.reconcile.ignored import IGNORED_REASON, ignored_settings
from statecast.sim.expressible import expression
from statecast.sim.generator import scenario_of
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import variants
from tests.unit._plan_spy import spy_on_plans
from tests.unit.test_controller_reactive import NODES, SETTLED
from tests.unit.test_reconcile_reactive_budget import NOW, STATS, busy_everywhere

BUDGET_OFF = "which replication.planner.bytePricesOnly turns off"
TUNER = "which replication.tuning.targetLocalHitRatio (the self-tuner's cost weight) turns off"


def spec(replication: dict[str, Any]) -> SharedResourceSpec:
    return SharedResourceSpec.model_validate({"replication": replication})


@pytest.mark.parametrize(
    ("replication", "expected"),
    [
        # every setting acts: nothing to say
        ({}, []),
        ({"policy": "reactive"}, []),
        ({"policy": "static"}, []),
        ({"planner": {"copyWeight": 16, "trimInReactiveOrder": True}}, []),
        ({"planner": {"everywhereCopyDays": 5, "everywhereMinBytes": 1024}}, []),
        ({"planner": {"floorWindow": "1h", "floorObservedOnly": True}}, []),
        ({"planner": {"bytePricesOnly": True, "holdWeight": 0.25}}, []),
        ({"policy": "reactive", "heat": {"window": "5m", "kSigma": 0.5}}, []),
        ({"tuning": {"targetLocalHitRatio": 0.8}, "planner": {"copyWeight": 4}}, []),
        ({"tuning": {"enabled": False}, "planner": {"holdGraceSlots": False}}, []),
        # the predictive policy's settings on another policy
        (
            {"policy": "reactive", "planner": {"copyWeight": 16, "valueLocalHits": True}},
            [
                "ignored: replication.planner.copyWeight, replication.planner.valueLocalHits"
                " (only policy predictive reads them; policy is reactive)"
            ],
        ),
        (
            {
                "policy": "static",
                "thresholds": {"deviation": 1.0},
                "budget": {"bytesStored": "1Gi"},
                "tuning": {"targetLocalHitRatio": 0.9},
                "heat": {"kSigma": 2},
            },
            [
                "ignored: replication.thresholds.deviation, replication.budget.bytesStored,"
                " replication.tuning.targetLocalHitRatio (only policy predictive reads them;"
                " policy is static)",
                "ignored: replication.heat.kSigma (policy static follows no heat)",
            ],
        ),
        # the reactive budget's knobs without the budget
        (
            {"planner": {"bytePricesOnly": True, "fillInReactiveOrder": True}},
            [
                "ignored: replication.planner.fillInReactiveOrder (they act with the reactive"
                f" rule's budget, {BUDGET_OFF})"
            ],
        ),
        (
            {"planner": {"bytePricesOnly": True, "swapInReactiveOrder": True}},
            [
                "ignored: replication.planner.swapInReactiveOrder (they act with the reactive"
                f" rule's budget, {BUDGET_OFF})"
            ],
        ),
        (
            {
                "tuning": {"targetLocalHitRatio": 0.8},
                "planner": {
                    "trimInReactiveOrder": True,
                    "releasePodCopies": True,
                    "holdGraceSlots": False,
                },
            },
            [
                "ignored: replication.planner.trimInReactiveOrder,"
                " replication.planner.releasePodCopies, replication.planner.holdGraceSlots"
                f" (they act with the reactive rule's budget, {TUNER})"
            ],
        ),
        # the holding floor's partners with byte prices
        (
            {"planner": {"bytePricesOnly": True, "copyFloor": True}, "heat": {"window": "5m"}},
            [
                "ignored: replication.planner.copyFloor, replication.heat.window"
                " (replication.planner.bytePricesOnly prices by bytes alone: no holding floor"
                " at the hot threshold, no reactive budget)"
            ],
        ),
        # a knob whose partner is off
        (
            {"planner": {"everywhereMinBytes": 1024}},
            [
                "ignored: replication.planner.everywhereMinBytes (it acts only with"
                " replication.planner.everywhereCopyDays above 0)"
            ],
        ),
        (
            {"planner": {"floorObservedOnly": True}},
            [
                "ignored: replication.planner.floorObservedOnly (it acts only with"
                " replication.planner.floorWindow above 0s)"
            ],
        ),
        (
            {"tuning": {"enabled": False, "targetLocalHitRatio": 0.8}},
            [
                "ignored: replication.tuning.targetLocalHitRatio"
                " (replication.tuning.enabled is false)"
            ],
        ),
    ],
)
def test_ignored_settings(replication: dict[str, Any], expected: list[str]) -> None:
    assert list(ignored_settings(spec(replication))) == expected


def resource(replication: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "knobs", "namespace": "ns", "uid": "u1", "generation": generation},
        "spec": {"replication": replication, "replicas": {"min": 2}},
    }


def forecast_ready(status: dict[str, Any]) -> str:
    found = [c for c in status["conditions"] if c["type"] == "ForecastReady"]
    return str(found[0]["message"])


@pytest.mark.parametrize(
    ("previous", "posted"),
    [({}, True), ({"observedGeneration": 1}, False), ({"observedGeneration": 0}, True)],
)
def test_reconcile_reports_ignored_settings(previous: dict[str, Any], posted: bool) -> None:
    """The note ends ForecastReady's message; the Warning comes once per generation."""
    replication = {"policy": "reactive", "planner": {"copyWeight": 16}}
    heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0)
    view = DemandView(heat=heat)
    body = {**resource(replication), "status": previous}
    result = reconcile(Observed(body, NODES, SETTLED, now=NOW, demand=view))
    note = ignored_settings(spec(replication))[0]
    assert forecast_ready(dict(result.status)).endswith("; " + note)
    warnings = [e for e in result.events if e.reason == IGNORED_REASON]
    assert warnings == ([("Warning", IGNORED_REASON, note)] if posted else [])


def test_ignored_settings_do_not_change_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec with an ignored knob plans as the same spec without it (nothing refused)."""
    import statecast.core.reconcile.policies as policies

    def inputs(planner: dict[str, Any]) -> PlanInput:
        given = spy_on_plans(monkeypatch, policies, "plan_placement")
        heat = ObservedHeat({"node-3": 5.0}, STATS, 900.0)
        view = DemandView(forecast=busy_everywhere(), heat=heat)
        replication = {"tuning": {"enabled": False}, "planner": planner}
        result = reconcile(Observed(resource(replication), NODES, SETTLED, now=NOW, demand=view))
        assert result.status["phase"] != "Failed"
        return given[0]

    plain = inputs({"bytePricesOnly": True})
    noted = inputs({"bytePricesOnly": True, "copyFloor": True, "fillInReactiveOrder": True})
    assert noted.spec.copy_floor and noted.spec.fill_in_reactive_order
    assert (noted.reactive_copies, noted.reactive_nodes) == (None, plain.reactive_nodes)
    assert noted.costs == plain.costs


def test_no_published_run_sets_an_ignored_setting() -> None:
    """Every predictive run of the sweep, written as a spec, sets only what acts (generated-10)."""
    noted = {}
    for variant in variants(scenario_of(10), families=["predictive"], cache=ForecastCache()):
        assert variant.setting is not None
        written = expression(variant.setting).spec
        notes = ignored_settings(spec(dict(written["replication"])))
        if notes:
            noted[variant.label] = notes
    assert noted == {}
