"""A resource's predicted demand: its sampled history in, a forecast per node out.

:func:`forecast_demand` forecasts each node's accesses per ``prediction.interval`` over
``prediction.horizon`` from the sampled history (the vectorised fast path of
:func:`statecast.core.forecast.forecast_batch`), with the deviation of the previous
forecast for hedging, and with the consumer pods per node as a leading signal when the
resource has any (:mod:`statecast.core.forecast.pods`). The operator keeps it current
one interval at a time (:mod:`statecast.core.reconcile.demand_engine`); the predictive
placement policy (:mod:`statecast.core.reconcile.predictive`) places from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import DAY_S, parse_duration
from statecast.core.forecast import BatchForecast, forecast_batch
from statecast.core.forecast.events import (
    Event,
    deflate,
    factors,
    inflate,
    learned_effects,
    multipliers,
    shares,
)
from statecast.core.forecast.pods import Band, recombine, split_by_pods
from statecast.core.placement import DemandForecast, forecast_deviation

__all__ = [
    "MAX_HISTORY_STEPS",
    "MIN_HISTORY_STEPS",
    "DemandRows",
    "PredictedDemand",
    "demand_rows",
    "event_factors",
    "event_lags",
    "event_shares",
    "events_of",
    "forecast_demand",
    "known_recent",
    "predicted_demand",
    "seasons_of",
    "steps_of",
    "with_events",
]

#: Sampled intervals a forecast needs before the planner takes over from the spread.
MIN_HISTORY_STEPS = 3
#: Intervals of history fed to the one-shot forecaster at most: what the fine demand
#: ring holds (three days of 1-minute steps; the operator's engine reads weeks when a
#: weekly season is named, see :func:`~statecast.core.demand_series.history_steps`).
#: The fast path offers the daily season from two days of history on (two seasons), and
#: averages two seasons from about three.
MAX_HISTORY_STEPS = 4320


@dataclass(frozen=True)
class PredictedDemand:
    """A resource's forecast, ready for the planner and for its status.

    Attributes:
        forecast: per-node mean, lower and upper per step, and the last miss.
        models: the model chosen for each node's series.
        interval_s: seconds per step.
        generated_at: the end of the last complete interval the forecast starts from.
        level: nominal coverage of the bounds.
        writes_per_min: recent writes to the resource from every node.
    """

    forecast: DemandForecast
    models: tuple[str, ...]
    interval_s: float
    generated_at: dt.datetime
    level: float
    writes_per_min: float = 0.0

    def status(self, top: int = 8) -> dict[str, object]:
        """``status.forecast``: the models and the busiest nodes' forecasts.

        Per node: accesses per interval, averaged over the horizon.
        """
        f = self.forecast
        mean, lower, upper = f.mean.mean(axis=1), f.lower.mean(axis=1), f.upper.mean(axis=1)
        order = sorted(range(len(f.nodes)), key=lambda i: (-float(mean[i]), f.nodes[i]))
        nodes = [
            {
                "node": f.nodes[i],
                "mean": round(float(mean[i]), 2),
                "lower": round(float(lower[i]), 2),
                "upper": round(float(upper[i]), 2),
            }
            for i in order[:top]
            if upper[i] > 0
        ]
        return {
            "model": ",".join(sorted(set(self.models))) or "none",
            "generatedAt": self.generated_at.isoformat().replace("+00:00", "Z"),
            "level": self.level,
            "nodes": nodes,
        }


def steps_of(spec: SharedResourceSpec) -> tuple[float, int, int]:
    """(interval in seconds, horizon in steps, main season in steps) of a resource."""
    interval = parse_duration(spec.prediction.interval).total_seconds()
    horizon = max(1, round(parse_duration(spec.prediction.horizon).total_seconds() / interval))
    return interval, horizon, seasons_of(spec)[0]


def events_of(spec: SharedResourceSpec) -> tuple[Event, ...]:
    """``prediction.events`` as the forecaster's :class:`~statecast.core.forecast.events.Event`."""
    return tuple(
        Event(
            duration_s=parse_duration(e.duration).total_seconds(),
            effect=e.effect,
            schedule=e.schedule,
            at=None if e.at is None else e.at.timestamp(),
        )
        for e in spec.prediction.events
    )


def event_factors(
    events: Sequence[Event], end: float, interval: float, steps: int
) -> npt.NDArray[np.float64]:
    """Factor on demand per interval: the ``steps`` after ``end``, or before it if negative."""
    if steps < 0:
        edges = end - interval * np.arange(-steps, -1, -1, dtype=np.float64)
    else:
        edges = end + interval * np.arange(steps + 1, dtype=np.float64)
    return multipliers(events, edges) if events else np.ones(len(edges) - 1)


def event_shares(
    events: Sequence[Event], end: float, interval: float, steps: int
) -> npt.NDArray[np.float64]:
    """Each event's share per interval, ``(events, |steps|)``, over :func:`event_factors`' grid."""
    if steps < 0:
        edges = end - interval * np.arange(-steps, -1, -1, dtype=np.float64)
    else:
        edges = end + interval * np.arange(steps + 1, dtype=np.float64)
    return shares(events, edges)


def event_lags(seasons: Sequence[int]) -> tuple[int, ...]:
    """Reference lags for learning event effects: the seasons, then a week of the first."""
    return tuple(dict.fromkeys((*seasons, 7 * seasons[0])))


def with_events(forecast: BatchForecast, factors: npt.NDArray[np.float64]) -> BatchForecast:
    """A forecast multiplied, step by step, by the known events' factors."""
    if np.all(factors == 1.0):
        return forecast
    return BatchForecast(
        forecast.models,
        forecast.level,
        inflate(forecast.mean, factors),
        inflate(forecast.lower, factors),
        inflate(forecast.upper, factors),
        forecast.scores,
    )


def seasons_of(spec: SharedResourceSpec) -> tuple[int, ...]:
    """Every season of ``prediction.seasonality`` in steps of the interval, shortest first.

    Without any, the day. The forecaster would offer the week itself once a history holds
    two, but the operator's window is sized by the longest season named (three days for
    the day), so a weekly cycle is modelled only when ``7d`` is named. Each season is at
    least two steps; duplicates after rounding are dropped.
    """
    interval = parse_duration(spec.prediction.interval).total_seconds()
    lengths = [parse_duration(s).total_seconds() for s in spec.prediction.seasonality]
    return tuple(sorted({max(2, round(x / interval)) for x in lengths or [DAY_S]}))


def forecast_demand(
    history: npt.NDArray[np.float64],
    nodes: Sequence[str],
    spec: SharedResourceSpec,
    *,
    generated_at: dt.datetime,
    previous_next: Mapping[str, float] | None = None,
    writes_per_min: float = 0.0,
    pods: npt.NDArray[np.float64] | None = None,
    pods_now: npt.ArrayLike | None = None,
) -> PredictedDemand | None:
    """Forecast every node's demand; None while the history is too short.

    With consumer pods (in ``pods`` or ``pods_now``), demand is split into a per-pod
    rate and a per-node residual (:func:`~statecast.core.forecast.pods.split_by_pods`),
    both are forecast, and each node gets its residual's forecast plus the per-pod
    forecast times the pods it runs now; without, each node's series is forecast as it is.

    Args:
        history: accesses per node and interval, shape ``(len(nodes), T)``, oldest first,
            NaN before a node was first sampled.
        nodes: the row names.
        spec: the resource (interval, horizon, level, seasonality).
        generated_at: the end of the last interval in ``history``.
        previous_next: what the previous forecast said for the last interval, per node
            (for the deviation that drives hedging).
        writes_per_min: recent writes, carried to the planner's sync cost.
        pods: consumer pods per node and interval, the shape of ``history`` (None: none).
        pods_now: consumer pods per node now, shape ``(len(nodes),)`` (None: none).
    """
    known = ~np.isnan(history)
    if len(nodes) == 0 or int(known.any(axis=0).sum()) < MIN_HISTORY_STEPS:
        return None
    interval, horizon, _ = steps_of(spec)
    rows = demand_rows(history, pods, pods_now)
    end = generated_at.timestamp()
    events = events_of(spec)
    seasons = seasons_of(spec)
    past = event_shares(events, end, interval, -rows.series.shape[1])
    effects = learned_effects(
        rows.series, events, past, lags=event_lags(seasons), interval=interval
    )
    result = forecast_batch(
        deflate(rows.series, factors(past, effects)), period=seasons, horizon=horizon,
        level=spec.prediction.level,
    )  # fmt: skip
    ahead = factors(event_shares(events, end, interval, horizon), effects)
    return predicted_demand(
        with_events(result, ahead),
        nodes,
        spec,
        pods_now=pods_now,
        last=rows.last,
        generated_at=generated_at,
        previous_next=previous_next,
        writes_per_min=writes_per_min,
        recent=last_day(history, interval),
    )


def last_day(history: npt.NDArray[np.float64], interval_s: float) -> npt.NDArray[np.float64]:
    """The newest day of ``history`` (nodes x intervals), or all of it when shorter.

    What the planner's break-even rule looks back over. A copy: a slice would keep all of
    ``history`` alive (a forecast engine kept its resource's whole history matrix, sized
    for three days, from one rebuild to its next update: 250 KB a resource).
    """
    return np.array(history[:, -day_steps(interval_s) :], dtype=np.float64)


def day_steps(interval_s: float) -> int:
    """Intervals of ``interval_s`` seconds in a day (at least one): :func:`last_day`'s width."""
    return max(1, round(DAY_S / interval_s))


@dataclass(frozen=True)
class DemandRows:
    """The series a resource's forecast follows, made from its history.

    Attributes:
        series: one row per node (its demand), or with consumer pods the residual per
            node then the per-pod rate (:func:`~statecast.core.forecast.pods.split_by_pods`).
        with_pods: whether the per-pod row is there.
        sampled: per node, whether it was ever sampled (a never-sampled node is 0, not
            unknown, once others have history).
        last: each node's demand in the newest interval (0 where unknown).
        residual: with pods, each node's residual after the newest interval (the
            carried-forward value the next interval's split starts from); else ``last``.
        per_pod: the per-pod rate after the newest interval (0 without pods).
    """

    series: npt.NDArray[np.float64]
    with_pods: bool
    sampled: npt.NDArray[np.bool_]
    last: npt.NDArray[np.float64]
    residual: npt.NDArray[np.float64]
    per_pod: float


def demand_rows(
    history: npt.NDArray[np.float64],
    pods: npt.NDArray[np.float64] | None = None,
    pods_now: npt.ArrayLike | None = None,
) -> DemandRows:
    """The series :func:`forecast_demand` forecasts for ``history`` (nodes x intervals).

    Pods (in the history or now) switch to the residual-plus-per-pod split; without
    them each node's series is forecast as it is.
    """
    known = ~np.isnan(history)
    sampled: npt.NDArray[np.bool_] = np.asarray(known.any(axis=1), dtype=np.bool_)
    filled = np.where(sampled[:, None], history, 0.0)
    past = np.zeros_like(filled) if pods is None else np.asarray(pods, dtype=np.float64)
    now = np.zeros(len(filled)) if pods_now is None else np.asarray(pods_now, dtype=np.float64)
    last = np.nan_to_num(filled[:, -1]) if filled.shape[1] else np.zeros(len(filled))
    if not ((past > 0).any() or (now > 0).any()):
        return DemandRows(filled, False, sampled, last, last, 0.0)
    split = split_by_pods(filled[None], past[None])
    masked = np.where(np.isnan(filled), np.nan, split.residual[0])  # unsampled stays unknown
    series = np.vstack([masked, split.per_pod])  # the per-pod rate is the last row
    return DemandRows(
        series, True, sampled, last, split.residual[0][:, -1], float(split.per_pod[0, -1])
    )


def predicted_demand(
    result: BatchForecast,
    nodes: Sequence[str],
    spec: SharedResourceSpec,
    *,
    pods_now: npt.ArrayLike | None,
    last: npt.NDArray[np.float64],
    generated_at: dt.datetime,
    previous_next: Mapping[str, float] | None = None,
    writes_per_min: float = 0.0,
    recent: npt.NDArray[np.floating[Any]] | None = None,
    said_history: Mapping[str, Sequence[float]] | None = None,
) -> PredictedDemand:
    """The :class:`PredictedDemand` of a forecast of :func:`demand_rows`' series.

    With a per-pod row (``result`` has one row more than ``nodes``), each node gets its
    residual's forecast plus the per-pod forecast times the pods it runs now.

    Args:
        result: the forecast of the rows.
        nodes: the node names.
        spec: the resource.
        pods_now: consumer pods per node now (None: none).
        last: each node's demand in the newest interval (for the deviation).
        generated_at: the end of the newest interval.
        previous_next: what the previous forecast said for the newest interval, per node.
        writes_per_min: recent writes, carried to the planner's sync cost.
        recent: each node's demand in the last intervals (nodes x intervals, oldest
            first, up to a day; NaN counts as no read), for the planner's break-even
            rule (None: not known, the planner drops idle copies as the forecast says).
        said_history: what the forecasts said for the newest intervals, one interval ahead, per
            node (oldest first; the last is the newest interval's): with ``recent``,
            the planner's test of demand that moved away (None: not known).
    """
    n = len(nodes)
    band = Band(result.mean[:n], result.lower[:n], result.upper[:n])
    if len(result.models) > n:
        now = np.zeros(n) if pods_now is None else np.asarray(pods_now, dtype=np.float64)
        joined = recombine(
            Band(band.mean[None], band.lower[None], band.upper[None]),
            Band(result.mean[None, n:], result.lower[None, n:], result.upper[None, n:]),
            now[None],
        )
        band = Band(joined.mean[0], joined.lower[0], joined.upper[0])
    said = np.array([(previous_next or {}).get(node, np.nan) for node in nodes])
    deviation = np.where(np.isnan(said), 0.0, forecast_deviation(np.nan_to_num(said), last))
    return PredictedDemand(
        DemandForecast(
            tuple(nodes),
            band.mean,
            band.lower,
            band.upper,
            deviation,
            np.asarray(last, dtype=np.float64),
            None if recent is None else known_recent(recent),
            _said_matrix(nodes, said_history),
        ),
        result.models[:n],
        steps_of(spec)[0],
        generated_at,
        spec.prediction.level,
        writes_per_min,
    )


def known_recent(recent: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """``recent`` with NaN as 0: itself when it has none (a forecast engine's, shared).

    Float32 stays float32 (a forecast engine's last day, :class:`NewestColumns`: half the
    bytes of float64, every count it holds within float32's rounding of the history's);
    the planner reads it as it reads float64 (typed as the planner's float64 arrays).
    """
    values = np.asarray(recent)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    known = values if not np.isnan(values).any() else np.nan_to_num(values)
    return cast("npt.NDArray[np.float64]", known)


def _said_matrix(
    nodes: Sequence[str], said: Mapping[str, Sequence[float]] | None
) -> npt.NDArray[np.float64] | None:
    """What the forecasts said per node, as rows aligned on the newest interval (NaN pad)."""
    if not said:
        return None
    width = max((len(v) for v in said.values()), default=0)
    out = np.full((len(nodes), width), np.nan)
    for i, node in enumerate(nodes):
        values = said.get(node, ())
        if values:
            out[i, width - len(values) :] = values
    return out
