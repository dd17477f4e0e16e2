"""Frontiers: the best a policy family reaches at each replica-hour budget, and who wins.

A family (``predictive``, ``reactive``, ...) is run at several settings (a sweep); each
run is a :class:`Point`. Running one setting for part of the time (or of the
resources) and another for the rest reaches any mix of two runs (time sharing), so a
family's frontier for a metric is the upper concave hull of its runs in (replica-hours,
metric), made non-decreasing (more budget never hurts: the cheaper mix stays
allowed), and undefined below the family's cheapest run. Every family is read the same
way, but the frontier is a best over runs: a denser sweep can only raise it (the
benchmark also judges at equal run counts, ``bench.sim.equal_count``). Replica-hours
within :data:`HOURS_TOLERANCE` count as equal (a copy kept a step longer while its
successor syncs moves a run by a fraction of a percent): a budget reaches every run up
to that much above it, so a frontier starts that much below its cheapest run.

Two frontiers are piecewise linear, so comparing them at every budget needs only their
breakpoints. Bytes moved are compared at equal service, at every run of the rival: the
fewest bytes a mix of our runs moves within that run's budget at its latency and local
hits or better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from statecast.sim.replay import PolicyResult

#: Metric -> +1 when higher is better, -1 when lower is better.
METRICS = {"local_hit_ratio": 1, "mean_latency_ms": -1}
#: Replica-hours this close (relative) count as equal.
HOURS_TOLERANCE = 0.01
#: Bytes this close (relative) count as equal: the linear program's own precision (the
#: same run of ours and the rival's, 8,257,536 bytes each, read 8,257,544 on generated-36).
BYTES_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Point:
    """One run of one family at one setting."""

    family: str
    label: str
    replica_hours: float
    local_hit_ratio: float
    mean_latency_ms: float
    bytes_moved: float
    #: The run's bytes with every copy full (warm retention 0), from the same replay;
    #: None in studies saved before session 11.
    bytes_full_copies: float | None = None

    @classmethod
    def of(cls, family: str, result: PolicyResult) -> Point:
        """The point a replay's result makes."""
        return cls(
            family,
            result.policy,
            float(result.replica_hours),
            result.local_hit_ratio,
            result.mean_latency_ms,
            result.bytes_moved,
            result.bytes_full_copies,
        )


@dataclass(frozen=True)
class Frontier:
    """A family's frontier for one metric: hull vertices by replica-hours.

    Attributes:
        metric: the metric.
        hours: replica-hours of the vertices, increasing.
        values: the metric at each vertex (natural sign).
        bytes_moved: bytes moved by each vertex's run.
        labels: each vertex's run.
    """

    metric: str
    hours: np.ndarray
    values: np.ndarray
    bytes_moved: np.ndarray
    labels: tuple[str, ...]

    @property
    def start(self) -> float:
        """The least budget the frontier is defined at (its cheapest run, less the tolerance)."""
        return float(self.hours[0]) / (1 + HOURS_TOLERANCE)

    def at(self, budget: float) -> float | None:
        """The metric reachable within ``budget`` replica-hours (None: below every run)."""
        if budget < self.start - 1e-9:
            return None
        return float(np.interp(budget * (1 + HOURS_TOLERANCE), self.hours, self.values))

    def bytes_at(self, budget: float) -> float | None:
        """Bytes moved by the mix at ``budget`` (None: below every run)."""
        if budget < self.start - 1e-9:
            return None
        return float(np.interp(budget * (1 + HOURS_TOLERANCE), self.hours, self.bytes_moved))


def frontier(points: Sequence[Point], metric: str) -> Frontier:
    """The upper concave hull of ``points`` in (replica-hours, metric), non-decreasing."""
    sign = METRICS[metric]
    best: dict[float, Point] = {}
    for p in points:
        kept = best.get(p.replica_hours)
        if kept is None or sign * getattr(p, metric) > sign * getattr(kept, metric):
            best[p.replica_hours] = p
    ordered = [best[h] for h in sorted(best)]
    hull: list[Point] = []
    for p in ordered:
        if hull and sign * getattr(p, metric) <= sign * getattr(hull[-1], metric):
            continue  # no better than a cheaper run: not on the non-decreasing frontier
        while len(hull) >= 2 and _below(hull[-2], hull[-1], p, metric):
            hull.pop()
        hull.append(p)
    return Frontier(
        metric,
        np.array([p.replica_hours for p in hull]),
        np.array([float(getattr(p, metric)) for p in hull]),
        np.array([p.bytes_moved for p in hull]),
        tuple(p.label for p in hull),
    )


def _below(a: Point, b: Point, c: Point, metric: str) -> bool:
    """Whether ``b`` lies on or under the segment from ``a`` to ``c`` (signed metric)."""
    sign = METRICS[metric]
    ya, yb, yc = (sign * float(getattr(p, metric)) for p in (a, b, c))
    span = c.replica_hours - a.replica_hours
    if span <= 0:
        return True
    chord = ya + (yc - ya) * (b.replica_hours - a.replica_hours) / span
    return yb <= chord


@dataclass(frozen=True)
class Loss:
    """A budget at which our frontier is worse than the rival's by more than the margin."""

    metric: str
    budget: float
    ours: float | None
    theirs: float


def losses(ours: Frontier, theirs: Frontier, margin: float = 0.0) -> list[Loss]:
    """Budgets where ``ours`` falls short of ``theirs`` by more than ``margin``.

    ``margin`` is absolute for the local-hit ratio, relative for latency and bytes. Checked
    at every breakpoint of either frontier from the rival's cheapest run on.
    """
    sign = METRICS.get(ours.metric, -1)
    budgets = np.union1d(theirs.hours, np.concatenate([ours.hours, [ours.start]]))
    budgets = budgets[budgets >= theirs.hours[0] - 1e-9]
    found = []
    for budget in budgets:
        rival = theirs.at(float(budget))
        if rival is None:
            continue
        mine = ours.at(float(budget))
        slack = margin if ours.metric == "local_hit_ratio" else margin * abs(rival)
        if mine is None or sign * mine < sign * rival - slack - 1e-12:
            found.append(Loss(ours.metric, float(budget), mine, rival))
    return found


def least_bytes(
    points: Sequence[Point], budget: float, latency_ms: float, hits: float | None = None
) -> float | None:
    """The fewest bytes a mix of ``points`` moves within ``budget`` at the rival's service.

    A linear program over the mixes (time sharing) of the runs: weights summing to one,
    replica-hours within the budget (and its tolerance), mean latency no worse than
    ``latency_ms`` and, when ``hits`` is given, a local-hit ratio no lower. None when no
    mix serves that within the budget.
    """
    weights = least_bytes_mix(points, budget, latency_ms, hits)
    if weights is None:
        return None
    return float(np.array([p.bytes_moved for p in points]) @ weights)


def least_bytes_mix(
    points: Sequence[Point], budget: float, latency_ms: float, hits: float | None = None
) -> np.ndarray | None:
    """The weights of ``points`` in the mix :func:`least_bytes` finds (None: no mix serves).

    The runs a bytes verdict stands on are those of positive weight.
    """
    from scipy.optimize import linprog

    hours = np.array([p.replica_hours for p in points])
    ms = np.array([p.mean_latency_ms for p in points])
    moved = np.array([p.bytes_moved for p in points])
    rows, limits = [hours, ms], [budget * (1 + HOURS_TOLERANCE), latency_ms * (1 + 1e-9)]
    if hits is not None:
        rows.append(-np.array([p.local_hit_ratio for p in points]))
        limits.append(-hits + 1e-9)
    scale = max(float(moved.max()), 1.0)
    solution = linprog(
        moved / scale,
        A_ub=np.vstack(rows),
        b_ub=np.array(limits),
        A_eq=np.ones((1, len(points))),
        b_eq=np.array([1.0]),
        bounds=(0.0, None),
        method="highs",
    )
    if solution.status != 0:
        return None
    weights: np.ndarray = np.clip(solution.x, 0.0, None)
    return weights


def bytes_ratios(
    ours: Sequence[Point],
    theirs: Sequence[Point],
    margin_hits: float = 0.0,
    margin_latency: float = 0.0,
) -> list[tuple[Point, float | None]]:
    """Each rival run with our fewest bytes at its service over its own (None: not served).

    The ratio :func:`bytes_losses` compares with one: our fewest bytes of any mix within
    the run's replica-hours at its service less the margins (:func:`least_bytes`), over
    the run's bytes (a run that moves none: our bytes over one byte). Above ``1 +
    margin`` it is a bytes loss; None is a service loss, where bytes are not compared.
    """
    ratios: list[tuple[Point, float | None]] = []
    for run in sorted(theirs, key=lambda p: (p.replica_hours, p.label)):
        mine = least_bytes(
            ours,
            run.replica_hours,
            run.mean_latency_ms * (1 + margin_latency),
            run.local_hit_ratio - margin_hits,
        )
        ratios.append((run, None if mine is None else mine / max(run.bytes_moved, 1.0)))
    return ratios


def bytes_losses(
    ours: Sequence[Point],
    theirs: Sequence[Point],
    margin_hits: float = 0.0,
    margin_latency: float = 0.0,
    margin: float = 0.0,
) -> list[Loss]:
    """The rival's runs whose service we cannot match moving no more bytes.

    For every run of the rival (its whole sweep, not one point per budget) our bytes
    are the fewest any mix of our runs moves within that run's replica-hours at its mean
    latency or better and its local hits or better (:func:`least_bytes`), less the
    margins (``margin_hits`` absolute, ``margin_latency`` relative). Checking every run
    checks every mix of the rival's runs too: the service-and-bytes a mix of ours can
    reach (with anything worse) is a convex set, so it holds the rival's mixes once it
    holds the rival's runs. Where no mix of ours serves a run (a service loss), the
    bytes are not compared and the run is a loss with ``ours`` None: reading our
    best-latency run instead (sessions 8-9) compared bytes at worse service.
    ``budget`` of a loss is the run's replica-hours, ``theirs`` its bytes.
    """
    found = []
    for run in sorted(theirs, key=lambda p: (p.replica_hours, p.label)):
        mine = least_bytes(
            ours,
            run.replica_hours,
            run.mean_latency_ms * (1 + margin_latency),
            run.local_hit_ratio - margin_hits,
        )
        if mine is None or mine > run.bytes_moved * (1 + margin) * (1 + BYTES_TOLERANCE):
            found.append(Loss("bytes_moved", run.replica_hours, mine, run.bytes_moved))
    return found
