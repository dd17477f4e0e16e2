"""The lowest mean latency any placement could reach with a given number of replica-hours.

Same model as :mod:`statecast.sim.bounds`: per measured step and resource a set ``S``
of replicas on live nodes, holding the consumers' nodes, at least ``need`` of them
over at least ``zones_needed`` zones; instant, free copies; an access from node ``i``
costs the local latency when ``i`` holds a replica, else the latency from ``i``'s zone
to the nearest zone holding one (the replay's latency model; no replica at all:
``no_replica_ms``). The replay's
latency of any policy is at least that of its own sets (copies in flight only make it
slower), so a lower bound under the model bounds every policy that keeps the floor.

The offline optimum couples every step through the replica-hour budget ``B`` (in
replica-steps), which is what makes it hard. :class:`LatencyBound` relaxes the budget
with a price ``lam`` per replica-step (Lagrangian relaxation)::

    LB(B) = max over lam >= 0 of  sum over rows of min over S [latency(S) + lam |S|] - lam B

Every ``lam`` gives a valid lower bound (weak duality: for any placement within the
budget, ``latency <= latency + lam (B - sum |S|)``), and the inner minimum is solved
exactly, row by row: enumerate the set ``C`` of zones that hold a replica (every subset
of at least ``zones_needed`` live zones); given ``C`` each node's latency without a
replica is fixed, so a replica on ``i`` is worth ``b_i = d_i (l_i(C) - local) - lam``
and the best ``S`` takes the consumers' nodes, every ``b_i > 0``, the best node of
each zone of ``C`` still empty, then the best remaining nodes up to ``need`` (``C``
must hold the consumers' zones; the exchange argument of
:mod:`statecast.sim.bounds`). Solving the integer inner problem exactly makes the bound
at least as tight as the linear-programming relaxation of the same model. ``lam`` is
taken on a geometric grid, so the figure is a valid bound, within the grid's step of
the dual optimum. The per-row minimisers at each ``lam`` are real placements (instant
copies, free moves): the best of them within the budget is an achievable latency, so
the true offline optimum lies between :meth:`LatencyBound.lower` and
:meth:`LatencyBound.offline`.

The enumeration costs ``2^zones`` passes over rows x nodes per price: tractable for
the few zones of real clusters; :func:`tractable` says when to skip it.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import numpy.typing as npt

from statecast.core.placement import LatencyModel
from statecast.sim.bounds import Measured
from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Prices per replica-step tried, from the largest useful one down by 2^(1/4) each.
PRICES = 96
#: Work (rows x nodes x zone subsets x prices) above which the bound is not computed.
MAX_WORK = 4e9


def tractable(trace: Trace) -> bool:
    """Whether :class:`LatencyBound` finishes in reasonable time for ``trace``."""
    zones = len(set(trace.zones))
    work = trace.steps * trace.n_resources * trace.n_nodes * (2**zones) * PRICES
    return zones <= 8 and work <= MAX_WORK


class LatencyBound:
    """Lower bound (and an achievable offline placement) of the mean latency per budget.

    Args:
        trace: the demand and the cluster.
        latency: the latency model of the replay.
        warmup_steps: steps not measured.
    """

    def __init__(self, trace: Trace, latency: LatencyModel, warmup_steps: int = 0) -> None:
        rows = Measured.of(trace, warmup_steps)
        self.step_h = rows.step_h
        self.total = float(rows.demand.sum())
        names = sorted(set(trace.zones))
        between = np.array([[latency.between(a, b) for b in names] for a in names])
        top = float(rows.demand.max(initial=0.0)) * (latency.no_replica_ms - latency.local_ms)
        prices = np.concatenate([top * 2.0 ** (-np.arange(PRICES) / 4.0), [0.0]])
        self._counts = np.zeros(len(prices))
        self._costs = np.zeros(len(prices))
        for k, price in enumerate(prices):
            self._counts[k], self._costs[k] = _relaxed(rows, between, latency, float(price))
        self._prices = prices

    def lower(self, replica_hours: float) -> float:
        """No placement with ``replica_hours`` has a lower mean latency (ms) under the model."""
        if self.total <= 0:
            return 0.0
        budget = replica_hours / self.step_h
        duals = self._costs + self._prices * (self._counts - budget)
        return float(duals.max()) / self.total

    def offline(self, replica_hours: float) -> float | None:
        """Mean latency (ms) of the best computed placement within ``replica_hours``.

        None when every computed placement needs more (the budget is at the floor and
        the prices tried all add replicas).
        """
        if self.total <= 0:
            return 0.0
        fits = self._counts <= replica_hours / self.step_h + 1e-9
        return float(self._costs[fits].min()) / self.total if fits.any() else None


def _subsets(n_zones: int) -> list[tuple[int, ...]]:
    return [c for k in range(n_zones + 1) for c in combinations(range(n_zones), k)]


def _relaxed(
    rows: Measured, between: FloatArray, latency: LatencyModel, price: float
) -> tuple[float, float]:
    """Per row, the set minimising latency + price x replicas; their total count and latency."""
    n_rows = rows.demand.shape[0]
    best = np.full(n_rows, np.inf)
    count = np.zeros(n_rows)
    cost = np.zeros(n_rows)
    onehot = np.eye(rows.n_zones, dtype=np.bool_)[rows.zone_id]
    live_zone = (rows.live.astype(np.int64) @ onehot.astype(np.int64)) > 0
    for zones in _subsets(rows.n_zones):
        chosen, feasible, latency_ms = _given_zones(rows, between, latency, price, zones, live_zone)
        objective = np.where(feasible, latency_ms + price * chosen, np.inf)
        better = objective < best
        best[better] = objective[better]
        count[better] = chosen[better]
        cost[better] = latency_ms[better]
    return float(count.sum()), float(cost.sum())


def _given_zones(
    rows: Measured,
    between: FloatArray,
    latency: LatencyModel,
    price: float,
    zones: tuple[int, ...],
    live_zone: BoolArray,
) -> tuple[FloatArray, BoolArray, FloatArray]:
    """The best set whose replicas are in exactly ``zones``: its size, feasibility, latency."""
    demand, live = rows.demand, rows.live
    n_rows = demand.shape[0]
    if not zones:
        feasible = (rows.need == 0) & ~rows.forced.any(axis=1)
        return np.zeros(n_rows), feasible, demand.sum(axis=1) * latency.no_replica_ms
    reach = between[:, list(zones)].min(axis=1)[rows.zone_id]  # latency without a replica
    inside = np.isin(rows.zone_id, zones)
    saving = demand * (reach - latency.local_ms)
    worth = np.where(live & inside[None, :], saving - price, -np.inf)
    chosen = (worth > 0) | (rows.forced & inside[None, :])
    for z in zones:
        in_zone = rows.zone_id == z
        empty = ~(chosen & in_zone[None, :]).any(axis=1)
        pick = np.argmax(np.where(in_zone[None, :], worth, -np.inf), axis=1)
        rows_empty = np.flatnonzero(empty)
        chosen[rows_empty, pick[rows_empty]] = True
    for _ in range(int(rows.need.max(initial=0))):
        short = chosen.sum(axis=1) < rows.need
        if not short.any():
            break
        pick = np.argmax(np.where(chosen, -np.inf, worth), axis=1)
        rows_short = np.flatnonzero(short & np.isfinite(worth[np.arange(n_rows), pick]))
        chosen[rows_short, pick[rows_short]] = True
    feasible = (
        live_zone[:, list(zones)].all(axis=1)
        & (len(zones) >= rows.zones_needed)
        & (chosen.sum(axis=1) >= rows.need)
        & ~(rows.forced & ~inside[None, :]).any(axis=1)
    )
    latency_ms = demand @ reach - np.where(chosen, saving, 0.0).sum(axis=1)
    return chosen.sum(axis=1).astype(np.float64), feasible, latency_ms
