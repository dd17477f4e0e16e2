"""Builders for planner inputs shared by the placement tests (and two-resource traces
shared by the simulator's tests of the dear-copy runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from statecast.core.placement import (
    CostModel,
    CurrentReplica,
    DemandForecast,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
    plan,
)
from statecast.sim import SimConfig, Trace, replay
from statecast.sim.planned import ForecastCache
from statecast.sim.sweeps import Setting, predictive_variant

MIB = 2**20
HORIZON = 15
#: Prices pinned here so that the table rows do not move with the package defaults:
#: holding 64 MiB for the 15-minute horizon costs 1562 ms, copying it 625 ms more (bytes
#: only: the demand-relative floor has its own tests).
PRICES = CostModel(ms_per_gib_hour=100_000.0, ms_per_gib_moved=10_000.0, hot_sigma=None)


def nodes_from(text: str, down: str = "") -> tuple[NodeInfo, ...]:
    """``"a:z1,b:z1,c:z2"`` -> nodes; names in ``down`` are not ready."""
    gone = set(down.split(",")) if down else set()
    out = []
    for item in text.split(","):
        name, zone = item.split(":")
        out.append(NodeInfo(name, zone, ready=name not in gone))
    return tuple(out)


def forecast_of(
    nodes: tuple[NodeInfo, ...],
    mean: Mapping[str, float],
    upper: Mapping[str, float] | None = None,
    deviation: Mapping[str, float] | None = None,
    observed: Mapping[str, float] | None = None,
) -> DemandForecast:
    """Flat per-step forecasts; lower is 0 where an upper is given, else the mean."""
    names = tuple(n.name for n in nodes)
    m = np.array([[mean.get(n, 0.0)] * HORIZON for n in names], dtype=float)
    up = (
        m.copy()
        if upper is None
        else np.array([[upper.get(n, mean.get(n, 0.0))] * HORIZON for n in names])
    )
    lo = m.copy() if upper is None else np.zeros_like(m)
    dev = np.array([(deviation or {}).get(n, 0.0) for n in names])
    seen = None if observed is None else np.array([observed.get(n, 0.0) for n in names])
    return DemandForecast(names, m, lo, up, dev, seen)


def make_input(
    nodes: str,
    *,
    mean: Mapping[str, float] | None = None,
    upper: Mapping[str, float] | None = None,
    deviation: Mapping[str, float] | None = None,
    observed: Mapping[str, float] | None = None,
    replicas: tuple[CurrentReplica, ...] = (),
    down: str = "",
    consumers: frozenset[str] = frozenset(),
    recently_removed: Mapping[str, float] | None = None,
    **spec: object,
) -> PlanInput:
    inventory = nodes_from(nodes, down)
    return PlanInput(
        spec=PlacementSpec(**spec),  # type: ignore[arg-type]
        state=StateProfile(bytes=64 * MIB),
        nodes=inventory,
        forecast=forecast_of(inventory, mean or {}, upper, deviation, observed),
        replicas=replicas,
        step_s=60.0,
        costs=PRICES,
        consumer_nodes=consumers,
        recently_removed=recently_removed or {},
    )


def old(node: str, **kw: object) -> CurrentReplica:
    """A replica past any cooldown."""
    return CurrentReplica(node, age_s=3600.0, **kw)  # type: ignore[arg-type]


def history_forecast(
    nodes: tuple[NodeInfo, ...],
    history: Mapping[str, Sequence[float]],
    forecast: Mapping[str, float],
    *,
    horizon: int = HORIZON,
    said: Mapping[str, Sequence[float]] | None = None,
) -> DemandForecast:
    """A flat, certain forecast with the demand of the newest steps behind it.

    ``history`` per node, oldest first, right-aligned (a shorter history is zeros
    before); ``said``: what the forecasts said for the newest steps, per node.
    """
    names = tuple(n.name for n in nodes)
    steps = max((len(v) for v in history.values()), default=0)
    recent = np.zeros((len(names), steps))
    for i, name in enumerate(names):
        values = list(history.get(name, ()))
        if values:
            recent[i, steps - len(values) :] = values
    mean = np.array([[forecast.get(n, 0.0)] * horizon for n in names])
    record = None
    if said is not None:
        width = max((len(v) for v in said.values()), default=0)
        record = np.array([list(said.get(n, [0.0] * width)) for n in names]).reshape(-1, width)
    return DemandForecast(names, mean, mean, mean, np.zeros(len(names)), recent=recent, said=record)


def held_a_day(replicas: tuple[str, ...]) -> tuple[CurrentReplica, ...]:
    """Copies on ``replicas``, each held a day (past any cooldown or stay)."""
    return tuple(CurrentReplica(r, age_s=86_400.0) for r in replicas)


def held_input(
    nodes: tuple[NodeInfo, ...],
    forecast: DemandForecast,
    replicas: tuple[str, ...],
    *,
    costs: CostModel,
    step_s: float = 60.0,
    copy_bytes: Mapping[str, float] | None = None,
    **spec: object,
) -> PlanInput:
    """A plan of a 64 MiB state whose copies on ``replicas`` were each held a day.

    ``spec``: the :class:`PlacementSpec`'s fields; ``min_replicas`` and ``max_replicas``
    are the number of copies held unless given (at ``max == min`` only moves act).
    """
    spec.setdefault("min_replicas", len(replicas))
    spec.setdefault("max_replicas", len(replicas))
    return PlanInput(
        spec=PlacementSpec(**spec),  # type: ignore[arg-type]
        state=StateProfile(bytes=64 * MIB),
        nodes=nodes,
        forecast=forecast,
        replicas=held_a_day(replicas),
        step_s=step_s,
        costs=costs,
        copy_bytes=copy_bytes or {},
    )


# -- the floor's window (test_placement_floor_window, test_placement_floor_observed) --------

FLOOR_STEP_S = 60.0
FLOOR_HORIZON = 5
#: A 64 MiB copy costs 1,000 ms (1,200 with the margin), holding next to nothing; the value
#: window is the 10-step cooldown of :func:`floor_plan`.
FLOOR_PRICES = CostModel(ms_per_gib_hour=1.0, ms_per_gib_moved=16_000.0, hot_sigma=None)
#: Three nodes in three zones (a read served from another zone 2 ms, a local one 0.1).
FLOOR_NODES = (NodeInfo("x", "z1"), NodeInfo("y", "z2"), NodeInfo("z", "z3"))


def floor_forecast(
    history: Mapping[str, Sequence[float]],
    ahead: Mapping[str, float],
    deviation: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    recent: bool = True,
) -> DemandForecast:
    """:data:`FLOOR_NODES`' forecast: ``ahead`` a step over the horizon, the newest step of
    ``history`` observed and, with ``recent``, all of it (oldest first)."""
    names = tuple(n.name for n in FLOOR_NODES)
    mean = np.array([[ahead[n]] * FLOOR_HORIZON for n in names])
    steps = np.array([history[n] for n in names]) if recent else None
    observed = np.array([history[n][-1] for n in names])
    return DemandForecast(
        names, mean, mean, mean, np.array(deviation, dtype=float), observed, recent=steps
    )


def floor_plan(
    forecast: DemandForecast, replicas: tuple[str, ...], min_replicas: int, **spec: object
) -> tuple[str, ...]:
    """The nodes a plan on :data:`FLOOR_NODES` holds at most one copy on (``max`` 1), the
    copies on ``replicas`` held a day, a 10-step cooldown and no stay credit (the window
    alone); ``spec``: the other :class:`PlacementSpec` fields."""
    inputs = held_input(
        FLOOR_NODES,
        forecast,
        replicas,
        costs=FLOOR_PRICES,
        step_s=FLOOR_STEP_S,
        min_replicas=min_replicas,
        max_replicas=1,
        cooldown_s=600.0,
        move_residence_s=0.0,  # the window alone: no stay credit
        **spec,
    )
    return plan(inputs).nodes


def window_input(recent: np.ndarray, mean: np.ndarray, spec: PlacementSpec) -> PlanInput:
    """``window_demand``'s input: nodes ``a`` and ``b`` (listed b first) in one zone, with
    ``recent`` observed and ``mean`` forecast per node (a, b), no replica."""
    names = ("a", "b")
    forecast = DemandForecast(names, mean, mean, mean, np.zeros(2), recent=recent)
    return PlanInput(
        spec=spec,
        state=StateProfile(MIB),
        nodes=(NodeInfo("b", "z1"), NodeInfo("a", "z1")),
        forecast=forecast,
        replicas=(),
        step_s=FLOOR_STEP_S,
        costs=FLOOR_PRICES,
    )


# -- a quiet and a busy resource (test_sim_bytes_dear, test_sim_streams_dear) --------------


def quiet_and_busy(name: str, demand: npt.NDArray[np.float64]) -> Trace:
    """Two 8 MiB resources, ``quiet`` (written 0.1 times a minute) and ``busy`` (60 times:
    a copy's write stream 3.5 MiB an hour), min 1, on six nodes of three zones, hourly;
    ``demand``: (2, 6, steps) reads."""
    nodes, steps = demand.shape[1], demand.shape[2]
    return Trace(
        name=name,
        demand=demand,
        resources=("quiet", "busy"),
        nodes=tuple(f"n{i}" for i in range(nodes)),
        zones=("a", "a", "b", "b", "c", "c"),
        step_s=3600.0,
        available=np.ones((nodes, steps), dtype=bool),
        state_bytes=np.full(2, 8.0 * MIB),
        writes_per_min=np.array([0.1, 60.0]),
        min_replicas=np.ones(2, dtype=np.int64),
        max_replicas=np.zeros(2, dtype=np.int64),
    )


def predictive_run(trace: Trace, config: SimConfig, setting: Setting) -> tuple[float, float, float]:
    """Replica-hours, local-hit ratio and bytes moved of predictive's run at ``setting``."""
    result = replay(trace, predictive_variant(trace, ForecastCache(), setting).make(), config)
    return result.replica_hours, result.local_hit_ratio, result.bytes_moved


#: The rule-order tests' prices (moves_in_rule_order, swaps_in_rule_order): a 64 MiB copy
#: costs 1 ms, so at x1 a move toward a node's reads repays it and at x1024 it does not.
RULE_ORDER_PRICES = CostModel(ms_per_gib_hour=1.0, ms_per_gib_moved=16.0, hot_sigma=None)
#: Four nodes in one zone, for the rule-order tests.
ONE_ZONE_NODES = (
    NodeInfo("w", "z1"),
    NodeInfo("x", "z1"),
    NodeInfo("y", "z1"),
    NodeInfo("z", "z1"),
)


def rule_order_input(
    held: tuple[str, ...],
    rule: frozenset[str],
    reads: Mapping[str, float],
    *,
    copy_weight: float,
    hold_grace_slots: bool = False,
    swap: bool = False,
    min_replicas: int = 1,
    reactive_held: int | None = None,
    nodes: tuple[NodeInfo, ...] = ONE_ZONE_NODES,
) -> PlanInput:
    """A plan of the rule-order tests: 64 MiB at :data:`RULE_ORDER_PRICES`, 5-minute steps,
    a 15-minute cooldown, no move residence, filled and trimmed in the rule's order
    (``swap``: and swapped to its nodes); the plan holds ``held`` (a day), the reactive
    rule ``rule`` (``reactive_held`` of them for demand now, all unless set); ``reads``
    the day's reads a step per node."""
    return PlanInput(
        spec=PlacementSpec(
            min_replicas=min_replicas,
            cooldown_s=900.0,
            move_residence_s=0.0,
            hold_grace_slots=hold_grace_slots,
            copy_weight=copy_weight,
            trim_in_reactive_order=True,
            fill_in_reactive_order=True,
            swap_in_reactive_order=swap,
        ),
        state=StateProfile(64 * MIB),
        nodes=nodes,
        forecast=history_forecast(nodes, {}, reads, horizon=5),
        replicas=held_a_day(held),
        step_s=300.0,
        costs=RULE_ORDER_PRICES,
        reactive_copies=len(rule),
        reactive_held=len(rule) if reactive_held is None else reactive_held,
        reactive_nodes=rule,
    )


#: Four nodes in three zones, for the copies held on every node (``everywhere_input``).
EVERYWHERE_NODES = (
    NodeInfo("x", "z1"),
    NodeInfo("p", "z2"),
    NodeInfo("q", "z3"),
    NodeInfo("d", "z1"),
)
#: 64 MiB written once a minute (1 KiB a write): a copy is 45.5 days of one replica's stream.
QUIET = StateProfile(64 * MIB, 1.0)


def everywhere_input(
    days: float,
    *,
    least: int = 0,
    state: StateProfile = QUIET,
    held: tuple[str, ...] = ("x",),
    down: str = "",
    maximum: int | None = None,
) -> PlanInput:
    """min 1 with ``everywhere_copy_days`` (and ``everywhere_min_bytes``: ``least``); x
    reads hard, the others never; ``held`` hold copies a day old; ``down`` not ready."""
    nodes = tuple(replace(n, ready=n.name not in down) for n in EVERYWHERE_NODES)
    reads = {"x": 3000.0, "p": 0.0, "q": 0.0, "d": 0.0}
    return PlanInput(
        spec=PlacementSpec(
            min_replicas=1,
            max_replicas=maximum,
            cooldown_s=900.0,
            everywhere_copy_days=days,
            everywhere_min_bytes=least,
        ),
        state=state,
        nodes=nodes,
        forecast=history_forecast(nodes, {n: [r] * 3 for n, r in reads.items()}, reads),
        replicas=held_a_day(held),
        step_s=300.0,
        costs=PRICES,
    )
