"""One default: ``statecast simulate``'s planner prices copies as the installed operator does.

The chart gives the agents a warm retention (``agent.warmRetention``, 1 h) and the
operator the same value (``STATECAST_AGENT_WARM_RETENTION``): the operator prices a copy
back on a node that kept a removed copy's files at the writes it missed. A user who
simulates what they install, with a spec that sets nothing, must get that planner:
``statecast simulate``'s ``--warm-retention`` defaults to the agents' retention, and
its ``predictive`` and ``perfect-forecast`` (the registry's, and the benchmark's default
run) price warm copies at it. ``--warm-retention 0s`` charges and prices every copy in
full (the simulator before warm copies).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import yaml

from statecast.api.units import parse_duration
from statecast.commands import simulate
from statecast.core.warm import WARM_RETENTION_S
from statecast.sim import Trace, replay
from statecast.sim.planned import ForecastCache, PerfectForecast, PlannerPolicy
from statecast.sim.registry import make_policy
from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import DEFAULT, predictive_variant
from tests.unit._plan_spy import spy_on_plans

CHART = Path(__file__).parents[2] / "manifests" / "chart" / "statecast"
#: What the planner is built from: every knob a Setting or the registry can set (``spec``:
#: every planner knob of the PlacementSpec).
KNOBS = (
    "warm_copies",
    "spec",
    "demand_priced",
    "cost_weight",
    "storage_weight",
    "cooldown_s",
    "valuation",
    "tuner",
    "holding_per_replica",
)


def _simulate_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    simulate.register(sub, "simulate", "")
    return parser.parse_args(["simulate", "--scenario", "drift", "--json", "x.json", *extra])


def _chart_retention_s() -> float:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return parse_duration(str(values["agent"]["warmRetention"])).total_seconds()


def test_simulate_defaults_to_the_retention_the_chart_gives_agents_and_operator() -> None:
    operator = (CHART / "templates" / "operator.yaml").read_text()
    assert "STATECAST_AGENT_WARM_RETENTION" in operator
    assert ".Values.agent.warmRetention" in operator
    args = _simulate_args()
    config = simulate._config(args, scenario("drift"))
    assert config.warm_retention_s == _chart_retention_s() == WARM_RETENTION_S
    assert (
        simulate._config(
            _simulate_args("--warm-retention", "0s"), scenario("drift")
        ).warm_retention_s
        == 0.0
    )


@pytest.mark.parametrize(
    "name", ["predictive", "perfect-forecast", "predictive@2", "oracle", "predictive+tune"]
)
def test_the_registrys_planners_price_warm_copies(name: str) -> None:
    policy = make_policy(name, 24)
    assert isinstance(policy, PlannerPolicy)
    assert policy.warm_copies


def test_the_registrys_predictive_is_the_benchmarks_default_run() -> None:
    trace = scenario("drift")
    ours = make_policy("predictive", trace.period)
    bench = predictive_variant(trace, ForecastCache(), DEFAULT).make()
    assert bench.name == ours.name == "predictive"
    assert {k: getattr(ours, k) for k in KNOBS} == {k: getattr(bench, k) for k in KNOBS}


def _warm_trace() -> Trace:
    """One 64 MiB resource (1 write a minute, one replica), read on n1 two hours, on n2
    for half an hour, on n1 again: the copy moves to n2 and back, n1's files still warm.
    """
    n1 = [5000.0] * 24 + [0.0] * 6 + [5000.0] * 24
    demand = np.zeros((1, 3, len(n1)))
    demand[0, 1] = n1
    demand[0, 2] = 5000.0 - np.array(n1)
    return Trace(
        name="warm",
        demand=demand,
        resources=("r0",),
        nodes=("n0", "n1", "n2"),
        zones=("z0", "z1", "z2"),
        step_s=300.0,
        available=np.ones((3, len(n1)), dtype=np.bool_),
        state_bytes=np.full(1, 64.0 * 2**20),
        writes_per_min=np.full(1, 1.0),
        min_replicas=np.ones(1, dtype=np.int64),
        max_replicas=np.ones(1, dtype=np.int64),
    )


def _prices_seen(
    monkeypatch: pytest.MonkeyPatch, policy: PlannerPolicy, *extra: str
) -> tuple[list[dict[str, float]], float]:
    given = spy_on_plans(monkeypatch)
    trace = _warm_trace()
    config = simulate._config(_simulate_args(*extra), trace)
    moved = replay(trace, policy, config).bytes_moved
    return [dict(i.copy_bytes) for i in given if i.copy_bytes], moved


def test_with_simulates_defaults_a_copy_back_is_priced_warm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = make_policy("perfect-forecast")
    assert isinstance(policy, PerfectForecast)
    seen, _ = _prices_seen(monkeypatch, policy)
    assert seen, "the copy left n1 and may come back within the hour: priced warm"
    assert all(0 < price < 64.0 * 2**20 for p in seen for price in p.values())


def test_warm_retention_0s_is_the_full_copy_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    default = make_policy("perfect-forecast")
    assert isinstance(default, PlannerPolicy)
    seen, default_bytes = _prices_seen(monkeypatch, default, "--warm-retention", "0s")
    assert not seen
    full = PerfectForecast(warm_copies=False)
    monkeypatch.undo()
    _, old_bytes = _prices_seen(monkeypatch, full, "--warm-retention", "0s")
    assert default_bytes == old_bytes
