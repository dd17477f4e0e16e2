"""How many local hits any policy could get for a given number of replica-hours.

:func:`local_hit_bound` places replicas with perfect knowledge of every step's demand
and instant copies: each step, every resource first gets its ``min`` replicas on the
busiest live nodes (covering ``min(min, zones)`` zones first when ``spread`` is on, as
the planner's invariant demands), then the remaining replica budget goes, across all
steps and resources at once, to the (step, resource, node) pairs with the most
accesses. No policy that holds as many replica-hours (and, with ``spread``, keeps the
zone spread) can serve more accesses locally. The benchmark uses it to tell a missed
target from an impossible one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from statecast.sim.trace import Trace

FloatArray = npt.NDArray[np.float64]


def _floor(demand: FloatArray, zones: npt.NDArray[np.intp], need: int, spread: bool) -> list[int]:
    """The ``need`` nodes a step's floor puts replicas on (new zones first when spreading)."""
    order = [int(i) for i in np.argsort(-demand, kind="stable")]
    chosen: list[int] = []
    covered: set[int] = set()
    target = min(need, len({int(z) for z in zones})) if spread else 0
    while len(chosen) < need and len(chosen) < len(order):
        fresh = len(covered) < target
        pick = next(
            i for i in order if i not in chosen and (not fresh or int(zones[i]) not in covered)
        )
        chosen.append(pick)
        covered.add(int(zones[pick]))
    return chosen


def local_hit_bound(
    trace: Trace, replica_hours: float, *, warmup_steps: int = 0, spread: bool = True
) -> float:
    """The highest local-hit ratio reachable with ``replica_hours`` over the measured steps.

    Args:
        trace: the demand and the cluster.
        replica_hours: the budget, measured like the replay measures it (after warm-up).
        warmup_steps: steps not measured.
        spread: keep every resource's floor over ``min(min, zones)`` zones.

    Returns:
        Local accesses over all accesses (0 when there are none). When the budget is
        below what the floors need, the floors are still placed (the bound is then an
        overestimate, as every policy keeps ``min``). ``max`` is not applied (the
        bound can only be higher for it).
    """
    demand = trace.demand[:, :, warmup_steps:] * trace.available[None, :, warmup_steps:]
    n_res, _, steps = demand.shape
    total = float(demand.sum())
    if total <= 0 or steps == 0:
        return 0.0
    zone_names = sorted(set(trace.zones))
    zone_of = np.array([zone_names.index(z) for z in trace.zones], dtype=np.intp)
    served = 0.0
    used = 0
    extras: list[FloatArray] = []
    for t in range(steps):
        live = np.flatnonzero(trace.available[:, warmup_steps + t])
        for r in range(n_res):
            row = demand[r, live, t]
            need = min(int(trace.min_replicas[r]), len(live))
            floor = _floor(row, zone_of[live], need, spread)
            served += float(row[floor].sum())
            used += len(floor)
            extras.append(np.delete(row, floor))
    budget = round(replica_hours * 3600.0 / trace.step_s) - used
    if budget > 0 and extras:
        pool = np.sort(np.concatenate(extras))[::-1]
        served += float(pool[:budget].sum())
    return served / total
