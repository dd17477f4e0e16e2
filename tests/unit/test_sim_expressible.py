"""Which of predictive's simulated runs a ``SharedResource`` spec can express (session 25).

:func:`statecast.sim.expressible.expression` writes a setting as a spec fragment and names
what no spec can say; :func:`~statecast.sim.expressible.setting_of` reads a published run's
label back into its setting. Labels and settings only: no run is replayed.
"""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile.predictive import placement_costs, placement_spec
from statecast.sim.config import SimConfig
from statecast.sim.expressible import MEAN_SIZE, expression, mean_size, setting_of
from statecast.sim.generator import scenario_of
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    COPY_FLOOR,
    DEFAULT,
    GRACE_SLOTS,
    KNOB,
    PREDICTIVE,
    Setting,
    variants,
)
from statecast.sim.trace import Trace

#: A row with pods and hourly steps, and a built-in row (the audit's two).
TRACES = ("generated-10", "weekly")


def trace_of(row: str) -> Trace:
    return scenario_of(int(row.split("-")[1])) if row.startswith("generated-") else scenario(row)


SHAPED = replace(DEFAULT, cooldown=3600.0, sigma=0.5, window=3600.0)


@pytest.mark.parametrize(
    ("setting", "missing"),
    [
        (DEFAULT, ()),  # the operator's default spec, with tuning off
        (SHAPED, ()),  # heat.window, heat.kSigma and the cooldown set it
        (replace(DEFAULT, deviation=0.25), ()),  # thresholds.deviation
        (replace(DEFAULT, copy_weight=64.0, reactive_order=True), ()),
        (replace(DEFAULT, everywhere=10.0, zone_order=True), ()),
        (replace(DEFAULT, copy_weight=1 / 256), ()),  # streams-dear's (session 25)
        (replace(DEFAULT, copy_weight=1 / 2048), ("copy_weight (out of range)",)),
        (replace(DEFAULT, window=30.0), ("heat.window (out of range)",)),
        (replace(DEFAULT, local=True), ()),  # valueLocalHits, holdPerReplica (session 25)
        (replace(DEFAULT, hold=4.0), ()),  # planner.holdWeight (session 25)
        (replace(DEFAULT, copy=4.0), ()),  # planner.costWeight (session 25)
        (replace(DEFAULT, per_replica=True), ()),  # holdPerReplica (session 25)
        (COPY_FLOOR, ()),  # planner.copyFloor (session 25)
        (GRACE_SLOTS, ()),  # planner.holdGraceSlots (session 25)
        (PREDICTIVE[0], ()),  # the price grid: bytes only, its holding price, no hand-off
        (replace(PREDICTIVE[0], local=True), ()),
        (replace(PREDICTIVE[0], floor_window=900.0, observed=True, ratio=0.5, extra=1), ()),
        # the simulator's reactive shadow holds the trace's min, the operator's the spec's
        (replace(DEFAULT, extra=1), ("reactive_shadow_min",)),
        (replace(DEFAULT, hold=1e7), ("hold_price (out of range)",)),
    ],
)
def test_what_a_spec_cannot_say_of_a_setting(setting: Setting, missing: tuple[str, ...]) -> None:
    assert expression(setting).missing == missing


def test_the_default_run_is_the_default_spec_with_the_tuner_off() -> None:
    assert expression(DEFAULT).spec == {
        "replication": {"tuning": {"enabled": False}, "cooldown": "15m"}
    }


@pytest.mark.parametrize("row", TRACES)
def test_every_label_reads_back_as_its_setting(row: str) -> None:
    for variant in variants(trace_of(row), families=["predictive"]):
        assert variant.setting is not None
        read = setting_of(variant.label)
        assert read.label == variant.label
        # the label prints the prices to three digits: the rest is the setting itself
        assert replace(read, hold=variant.setting.hold, copy=variant.setting.copy) == (
            variant.setting
        )


@pytest.mark.parametrize("row", TRACES)
def test_an_expressible_run_is_the_simulators_through_the_operators_mapping(row: str) -> None:
    knobs = [f.metadata[KNOB] for f in fields(Setting) if KNOB in f.metadata]
    expressible = 0
    for variant in variants(trace_of(row), families=["predictive"]):
        assert variant.setting is not None
        said = expression(variant.setting)
        if not said.expressible:
            continue
        expressible += 1
        spec = SharedResourceSpec.model_validate({"replication": said.spec["replication"]})
        mapped, wanted = placement_spec(spec), variant.setting.planner
        assert {k: getattr(mapped, k) for k in knobs} == {k: getattr(wanted, k) for k in knobs}
        assert mapped.cost_weight == variant.setting.copy
        assert not spec.replication.tuning.enabled
    assert expressible > 0


def test_the_price_grid_is_bytes_only_at_its_holding_price_without_the_later_rules() -> None:
    assert expression(PREDICTIVE[0]).spec["replication"]["planner"] == {
        "moveResidence": "0s",
        "handOffOnAdd": False,
        "holdWeight": PREDICTIVE[0].hold,
        "bytePricesOnly": True,
    }


def test_a_local_first_run_values_local_hits_and_holds_per_replica() -> None:
    planner = expression(replace(PREDICTIVE[0], local=True)).spec["replication"]["planner"]
    assert planner["valueLocalHits"] is True
    assert planner["holdPerReplica"] == MEAN_SIZE  # in a real spec: the trace's mean size


@pytest.mark.parametrize("seed", [10, 145])  # a mean of whole bytes, and one of a third
def test_hold_per_replica_at_the_mean_size_is_the_simulators_holding_price(seed: int) -> None:
    trace = scenario_of(seed)
    knobs = {"holdPerReplica": mean_size(trace)}
    spec = SharedResourceSpec.model_validate({"replication": {"planner": knobs}})
    base = SimConfig().costs.ms_per_gib_hour
    for size in trace.state_bytes:  # the simulator's per-replica scale, resource by resource
        price = placement_costs(spec, None, int(size)).ms_per_gib_hour
        assert price == base * 1.0 * float(trace.state_bytes.mean() / max(size, 1.0))


def test_the_copies_beyond_min_keep_the_zone_floor_at_the_traces_min() -> None:
    said = expression(replace(PREDICTIVE[0], hold=1e6, extra=2))
    assert said.expressible and said.spec["replicas"] == {"minPlus": 2}


@pytest.mark.parametrize(
    "label", ["reactive w=300s k=0 g=300s", "predictive hold x1 copy x1 sideways"]
)
def test_a_label_no_setting_writes_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match=r"label|suffix"):
        setting_of(label)


@pytest.mark.parametrize("row", TRACES)
def test_every_run_of_the_sweep_is_a_spec_a_user_can_write(row: str) -> None:
    """The published frontiers are made of settings a SharedResource can hold.

    A family whose knob has no field in ``spec.replication.planner`` (or a value the API
    refuses) fails here: add the field (api/shared_resource.py, mapped in
    core/reconcile/predictive.py) with the family, so no verdict stands on a run a user
    could not configure.
    """
    unsaid = {
        variant.label: expression(variant.setting).missing
        for variant in variants(trace_of(row), families=["predictive"])
        if variant.setting is not None and not expression(variant.setting).expressible
    }
    assert unsaid == {}
