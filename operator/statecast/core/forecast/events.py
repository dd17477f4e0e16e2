"""Known events: when they happen and by how much they multiply demand, per interval.

An event (``prediction.events``) recurs on a cron schedule (five fields: minute, hour,
day of month, month, day of week; ``*``, lists, ranges and ``/`` steps; UTC) or happens
once ``at`` a time, lasts ``duration_s`` and multiplies demand by ``effect`` meanwhile.
:func:`multipliers` turns events into one factor per interval (an interval the event
covers in part gets that share of the effect; overlapping events multiply).

The fast path takes events as an uplift: the history is divided by its factors before
fitting (so a profile is what demand does without the events) and the forecast
multiplied by the factors of the steps ahead (:func:`deflate`, :func:`inflate`).

The operator also treats them as regressors: :func:`learned_effects` estimates each
event's effect per series from its past occurrences (log-scale least squares of the
demand in the intervals it covered against the same phase a season earlier, where no
event was on), shrunk towards the stated ``effect`` by one occurrence's worth of
intervals, so the stated effect is a prior the history corrects; :func:`factors`
turns the learned effects into factors per series and interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.api.cron import CronSchedule
from statecast.api.cron import parse_cron as _parse_cron
from statecast.core.forecast.errors import ParameterError

__all__ = [
    "CronSchedule",
    "Event",
    "deflate",
    "factors",
    "inflate",
    "learned_effects",
    "multipliers",
    "parse_cron",
    "shares",
]

FloatArray = npt.NDArray[np.float64]


def parse_cron(expression: str) -> CronSchedule:
    """A five-field cron expression (see :func:`statecast.api.cron.parse_cron`).

    Raises:
        ParameterError: not five fields, or a field out of its bounds or not a number.
    """
    try:
        return _parse_cron(expression)
    except ValueError as err:
        raise ParameterError(str(err)) from None


@dataclass(frozen=True)
class Event:
    """A known event: a cron ``schedule`` or one time ``at`` (epoch seconds).

    Attributes:
        duration_s: How long it lasts, in seconds.
        effect: The factor on demand while it lasts.
        schedule: Five-field cron expression (UTC) on which it recurs.
        at: The one time it starts.
    """

    duration_s: float
    effect: float
    schedule: str | None = None
    at: float | None = None


def _starts(event: Event, lo: float, hi: float) -> list[float]:
    """Start times (epoch s) of ``event`` whose span reaches into ``[lo, hi)``."""
    if event.at is not None:
        return [event.at] if event.at < hi and event.at + event.duration_s > lo else []
    if event.schedule is None:
        return []
    cron = parse_cron(event.schedule)
    first = math.floor((lo - event.duration_s) / 60.0) * 60
    out = []
    for minute in range(int(first), int(math.ceil(hi / 60.0) * 60), 60):
        if cron.matches(dt.datetime.fromtimestamp(minute, dt.UTC)):
            out.append(float(minute))
    return out


def multipliers(events: Sequence[Event], edges: FloatArray) -> FloatArray:
    """The factor on demand in each interval between consecutive ``edges`` (epoch s).

    An interval an event covers in part gets ``1 + (effect - 1) * share``; events that
    overlap multiply.
    """
    lo, hi = edges[:-1], edges[1:]
    out = np.ones(len(lo))
    for event in events:
        for start in _starts(event, float(edges[0]), float(edges[-1])):
            end = start + event.duration_s
            share = np.clip(np.minimum(hi, end) - np.maximum(lo, start), 0.0, None) / (hi - lo)
            out *= 1.0 + (event.effect - 1.0) * share
    return out


def shares(events: Sequence[Event], edges: FloatArray) -> FloatArray:
    """Share of each interval between ``edges`` that each event covers, ``(events, T)``."""
    lo, hi = edges[:-1], edges[1:]
    out = np.zeros((len(events), len(lo)))
    for i, event in enumerate(events):
        for start in _starts(event, float(edges[0]), float(edges[-1])):
            end = start + event.duration_s
            covered = np.clip(np.minimum(hi, end) - np.maximum(lo, start), 0.0, None)
            out[i] += covered / (hi - lo)
    return np.asarray(np.minimum(out, 1.0), dtype=np.float64)


def learned_effects(
    history: FloatArray,
    events: Sequence[Event],
    share: FloatArray,
    *,
    lags: Sequence[int],
    interval: float,
) -> FloatArray:
    """Each event's effect per series, learned from its past occurrences, ``(n, events)``.

    For every interval an event covered alone (no other event on), with a reference
    interval ``lag`` steps earlier (the first of ``lags`` that is sampled and free of
    events), the log-scale change ``log1p(y_t) - log1p(y_ref)`` is regressed on the
    event's share of the interval (least squares through the origin). The estimate is
    shrunk towards ``log(effect)`` with the weight of one occurrence (its duration in
    intervals), so one occurrence counts as much as the stated effect.

    Args:
        history: Counts per series and interval, ``(n, T)``, NaN where missing.
        events: The events.
        share: :func:`shares` over the history's intervals, ``(events, T)``.
        lags: Reference lags in intervals, tried in order (the seasons).
        interval: Seconds per interval.
    """
    n, steps = history.shape
    prior = np.log([max(e.effect, 1e-6) for e in events])
    out = np.tile(prior, (n, 1))
    if not events or steps == 0:
        return np.asarray(np.exp(out), dtype=np.float64)
    z = np.log1p(history)
    on: npt.NDArray[np.bool_] = share > 0
    quiet: npt.NDArray[np.bool_] = ~np.any(on, axis=0)
    for i, event in enumerate(events):
        alone = on[i] & (on.sum(axis=0) == 1)
        change = np.full((n, steps), np.nan)
        for lag in (g for g in lags if 0 < g < steps):
            t = np.flatnonzero(alone[lag:]) + lag
            ref = t - lag
            usable = quiet[ref]
            t, ref = t[usable], ref[usable]
            diff = z[:, t] - z[:, ref]
            fill = np.isnan(change[:, t]) & ~np.isnan(diff)
            change[:, t] = np.where(fill, diff, change[:, t])
        x = np.where(np.isnan(change), 0.0, share[i][None, :])
        weight = (x**2).sum(axis=1)
        slope = (x * np.nan_to_num(change)).sum(axis=1)
        k = max(1.0, event.duration_s / interval)
        out[:, i] = (slope + k * prior[i]) / (weight + k)
    return np.asarray(np.exp(out), dtype=np.float64)


def factors(share: FloatArray, effects: FloatArray) -> FloatArray:
    """Factors per series and interval, ``(n, T)``, from shares and per-series effects."""
    out = np.ones((effects.shape[0], share.shape[1]))
    for i in range(share.shape[0]):
        out *= 1.0 + (effects[:, i : i + 1] - 1.0) * share[i][None, :]
    return out


def deflate(history: FloatArray, factors: FloatArray) -> FloatArray:
    """Demand without the events: each interval divided by its factor (last axis)."""
    return np.asarray(history / factors, dtype=np.float64)


def inflate(values: FloatArray, factors: FloatArray) -> FloatArray:
    """A forecast with the events: each step multiplied by its factor (last axis)."""
    return np.asarray(values * factors, dtype=np.float64)
