"""Copies held where a node's background reads reach a rate (issue 11, session 26, gc26).

``PlacementSpec.background_reads_per_hour``: a copy, protected from the cost stages, on every
ready node whose background reads - the mean of its quietest three quarters of the day's
steps (``DemandForecast.recent``), so that a consumer pod's runs do not count - are at least
that many an hour, kept while they are at least half of it; 0 (the default) off. Found
against groupcache on seen generated-35 (70 nodes, one zone, consumer pods bringing 80 % of
the reads to random nodes, the rest spread over the nodes by fixed weights): groupcache's hot
copies sit on the nodes that read steadily and never move; our forecast's copies followed the
pods. Each case with the knob set failed before (the field did not exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from statecast.core.placement import (
    CostModel,
    CurrentReplica,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
    plan,
)
from statecast.core.placement.board import background_rate
from statecast.sim import SimConfig, Trace
from statecast.sim.expressible import setting_of
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import (
    BACKGROUND_HALVINGS,
    FLOOR,
    PREDICTIVE,
    Setting,
    background_held,
    family_settings,
    predictive_variant,
    variants,
)
from tests.unit._placement_helpers import MIB, history_forecast

#: Five nodes in one zone; hourly steps, so a step's reads are an hour's.
NODES = tuple(NodeInfo(name, "z1") for name in ("a", "b", "c", "d", "e"))
#: Holding and copying priced far above any read's saving: only ``min`` and the knob hold.
DEAR = CostModel(ms_per_gib_hour=1e9, ms_per_gib_moved=1e9, hot_sigma=None)
#: A day of hourly reads: ``steady`` reads 4 an hour all day; ``pod`` reads nothing but 100
#: an hour for the 6 hours a consumer pod ran there; ``some`` 1 an hour; ``busy`` 4 an hour
#: and 100 for 6 hours; ``e`` nothing.
DAY: dict[str, list[float]] = {
    "a": [4.0] * 24,
    "b": [0.0] * 18 + [100.0] * 6,
    "c": [1.0] * 24,
    "d": [4.0] * 18 + [100.0] * 6,
    "e": [0.0] * 24,
}


def _input(
    per_hour: float,
    history: Mapping[str, Sequence[float]] = DAY,
    held: tuple[str, ...] = (),
    *,
    down: str = "",
) -> PlanInput:
    nodes = tuple(NodeInfo(n.name, n.zone, ready=n.name not in down) for n in NODES)
    return PlanInput(
        spec=PlacementSpec(min_replicas=1, cooldown_s=0.0, background_reads_per_hour=per_hour),
        state=StateProfile(bytes=64 * MIB),
        nodes=nodes,
        forecast=history_forecast(nodes, history, {}),
        replicas=tuple(CurrentReplica(r, age_s=86_400.0) for r in held),
        step_s=3600.0,
        costs=DEAR,
    )


def test_the_background_is_the_mean_of_the_quietest_three_quarters_of_the_day() -> None:
    rate = background_rate(_input(1.0), tuple(n.name for n in NODES))
    assert rate is not None
    assert rate.tolist() == [4.0, 0.0, 1.0, 4.0, 0.0]


@pytest.mark.parametrize(
    ("per_hour", "held", "down", "nodes"),
    [
        # off: min alone (one copy, the forecast's choice among equals: by name)
        (0.0, (), "", {"a"}),
        # 4 an hour: the steady nodes, not the pod's (its 6 busy hours do not count)
        (4.0, (), "", {"a", "d"}),
        # 1 an hour: the one that reads 1 too
        (1.0, (), "", {"a", "c", "d"}),
        # above every background: min alone
        (5.0, (), "", {"a"}),
        # a copy held where the rate is half the knob's or more stays (2 >= 4 / 2 at c: 1 no)
        (2.0, ("c",), "", {"a", "c", "d"}),
        (3.0, ("c",), "", {"a", "d"}),
        # a node that is not ready gets none
        (4.0, (), "d", {"a"}),
    ],
)
def test_a_copy_is_held_where_the_background_reaches_the_rate(
    per_hour: float, held: tuple[str, ...], down: str, nodes: set[str]
) -> None:
    assert set(plan(_input(per_hour, held=held, down=down)).nodes) == nodes


def test_without_history_the_knob_does_nothing() -> None:
    inputs = _input(1.0, history={})
    assert set(plan(inputs).nodes) == {"a"}


def _trace() -> Trace:
    """Two days, hourly, four nodes in one zone, one resource: node 0 reads 10 an hour all
    the time, node 1 100 an hour for 3 hours each day (a pod's run, no pods in the trace),
    the others nothing."""
    steps, nodes = 48, 4
    demand = np.zeros((1, nodes, steps))
    demand[0, 0, :] = 10.0
    demand[0, 1, 10:13] = demand[0, 1, 34:37] = 100.0
    return Trace(
        name="steady-and-burst",
        demand=demand,
        resources=("r",),
        nodes=tuple(f"n{i}" for i in range(nodes)),
        zones=("a",) * nodes,
        step_s=3600.0,
        available=np.ones((nodes, steps), dtype=bool),
        state_bytes=np.array([64.0 * MIB]),
        writes_per_min=np.array([1.0]),
        min_replicas=np.ones(1, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


def test_the_family_runs_the_first_days_mean_rate_down_by_half_powers_of_two() -> None:
    trace = _trace()
    settings = background_held(trace)
    mean = (24 * 10.0 + 3 * 100.0) / (4 * 24)  # the first day's reads a node-hour
    assert len(settings) == len(BACKGROUND_HALVINGS)
    expected = [float(f"{mean * 2.0 ** (-k / 2):.3g}") for k in BACKGROUND_HALVINGS]
    assert [s.background for s in settings] == expected
    assert all(s.hold == FLOOR and s.local and s.copy_weight == 64.0 for s in settings)
    labels = [s.label for s in settings]
    assert len(set(labels)) == len(labels)
    assert not set(labels) & {s.label for s in PREDICTIVE}
    assert not set(labels) & {
        v.label for v in variants(trace, cache=ForecastCache()) if "background>=" not in v.label
    }
    assert family_settings(trace, ["background-held"]) == settings


def test_no_runs_without_reads_in_the_first_day() -> None:
    trace = _trace()
    quiet = Trace(
        name="quiet",
        demand=np.zeros_like(trace.demand),
        resources=trace.resources,
        nodes=trace.nodes,
        zones=trace.zones,
        step_s=trace.step_s,
        available=trace.available,
        state_bytes=trace.state_bytes,
        writes_per_min=trace.writes_per_min,
        min_replicas=trace.min_replicas,
        max_replicas=trace.max_replicas,
    )
    assert background_held(quiet) == ()


def test_a_run_holds_the_steady_node_and_not_the_bursts() -> None:
    trace = _trace()
    setting = Setting(FLOOR, local=True, copy_weight=64.0, background=5.0)
    policy = predictive_variant(trace, ForecastCache(), setting).make()
    policy.start(trace, SimConfig(warmup_steps=0))
    replicas = np.zeros((1, 4), dtype=bool)
    held = []
    for t in range(trace.steps):
        replicas = policy.decide(t, replicas, replicas, np.full(replicas.shape, 86400.0))
        held.append(replicas[0].copy())
    after = np.array(held[25:])  # a day of history behind every plan
    assert after[:, 0].all()  # the steady node always
    assert not after[:, 1].any()  # the bursts' node never: 21 quiet hours a day


def test_the_label_names_the_rate_an_hour() -> None:
    setting = Setting(FLOOR, local=True, copy_weight=64.0, background=2.98)
    assert setting.label.endswith(" copies x64 background>=2.98/h")
    assert setting.planner.background_reads_per_hour == 2.98
    assert Setting(FLOOR).planner.background_reads_per_hour == 0.0


@pytest.mark.parametrize(
    "setting",
    [
        Setting(FLOOR, local=True, copy_weight=64.0, background=2.98),
        Setting(FLOOR, FLOOR, everywhere=3.0, everywhere_bytes=64 * MIB),  # session 25's
    ],
)
def test_the_label_reads_back_as_its_setting(setting: Setting) -> None:
    assert setting_of(setting.label) == setting
