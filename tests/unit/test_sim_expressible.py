"""Which of predictive's simulated runs a ``SharedResource`` spec can express (session 25).

:func:`statecast.sim.expressible.expression` writes a setting as a spec fragment and names
what no spec can say; :func:`~statecast.sim.expressible.setting_of` reads a published run's
label back into its setting. Labels and settings only: no run is replayed.
"""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile.predictive import placement_spec
from statecast.sim.expressible import expression, setting_of
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
        (replace(DEFAULT, copy_weight=1 / 16), ("copy_weight (out of range)",)),
        (replace(DEFAULT, window=30.0), ("heat.window (out of range)",)),
        (replace(DEFAULT, local=True), ("local_first",)),
        (replace(DEFAULT, hold=4.0), ("hold_price",)),
        (replace(DEFAULT, copy=4.0), ("cost_weight",)),
        (replace(DEFAULT, per_replica=True), ("per_replica_holding",)),
        # the price grid: bytes only, its own holding price, the rules before session 11
        (
            PREDICTIVE[0],
            ("byte_prices_only", "hand_off_on_add", "hold_price", "move_residence_s"),
        ),
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
        assert not spec.replication.tuning.enabled
    assert expressible > 0


@pytest.mark.parametrize("setting", [COPY_FLOOR, GRACE_SLOTS])
def test_a_knob_the_api_lacks_is_named_by_its_placement_spec_field(setting: Setting) -> None:
    (name,) = expression(setting).missing
    assert name in {"copy_floor", "hold_grace_slots"}
    assert getattr(setting.planner, name) != getattr(placement_spec(SharedResourceSpec()), name)


@pytest.mark.parametrize(
    "label", ["reactive w=300s k=0 g=300s", "predictive hold x1 copy x1 sideways"]
)
def test_a_label_no_setting_writes_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match=r"label|suffix"):
        setting_of(label)
