"""A planner run's cooldown, the knob the benchmark sweeps as reactive's grace: every copy
the planner adds stays at least that long (hypothesis, on random small traces).

The sweeps' runs price bytes with no reactive budget (``demand_priced=False``); the
default run's copies also go when the reactive rule's count falls below them (its own
copies were held through their grace), see ``test_placement_reactive_budget``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import PerfectForecast

MIB = 2**20
STEP_S = 60.0


def _trace(demand: np.ndarray, zones: tuple[str, ...], min_replicas: int) -> Trace:
    _, n_nodes, steps = demand.shape
    return Trace(
        name="cooldown",
        demand=demand,
        resources=("r0",),
        nodes=tuple(f"n{i}" for i in range(n_nodes)),
        zones=zones,
        step_s=STEP_S,
        available=np.ones((n_nodes, steps), dtype=bool),
        state_bytes=np.full(1, 512.0 * MIB),  # dear to hold: idle copies go
        writes_per_min=np.zeros(1),
        min_replicas=np.full(1, min_replicas, dtype=np.int64),
        max_replicas=np.zeros(1, dtype=np.int64),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Trace, float]:
    nodes = draw(st.integers(3, 5))
    zones = tuple(draw(st.sampled_from(("a", "b"))) for _ in range(nodes))
    steps, parts = 80, 6
    # Bursts: each node reads at one of a few rates, switching at random steps.
    rates = draw(
        st.lists(
            st.sampled_from((0.0, 5.0, 200.0, 3000.0)),
            min_size=nodes * parts,
            max_size=nodes * parts,
        )
    )
    cuts = sorted(draw(st.lists(st.integers(1, steps - 1), min_size=parts - 1, max_size=parts - 1)))
    demand = np.zeros((1, nodes, steps))
    bounds = [0, *cuts, steps]
    for i in range(nodes):
        for k in range(parts):
            demand[0, i, bounds[k] : bounds[k + 1]] = rates[i * parts + k]
    cooldown = draw(st.sampled_from((300.0, 900.0, 1800.0)))
    return _trace(demand, zones, draw(st.integers(1, 2))), cooldown


@settings(max_examples=40, deadline=None)
@given(cases())
def test_every_copy_the_planner_adds_stays_its_cooldown(case: tuple[Trace, float]) -> None:
    trace, cooldown = case
    result = replay(
        trace,
        PerfectForecast(cooldown_s=cooldown, demand_priced=False),
        SimConfig(bandwidth_bytes_per_s=1e12),
    )
    placement = result.timeline.placement  # (nodes, steps): one resource, all nodes up
    least = int(cooldown // STEP_S)
    for row in placement:
        edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for start, end in zip(starts, ends, strict=True):
            if start > 0 and end < trace.steps:  # added and removed within the trace
                assert end - start >= least, (start, end, cooldown)
