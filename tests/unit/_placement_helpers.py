"""Builders for planner inputs shared by the placement tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from statecast.core.placement import (
    CostModel,
    CurrentReplica,
    DemandForecast,
    NodeInfo,
    PlacementSpec,
    PlanInput,
    StateProfile,
)

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
