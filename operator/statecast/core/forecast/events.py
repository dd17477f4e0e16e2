"""Known events: when they happen and by how much they multiply demand, per interval.

An event (``prediction.events``) recurs on a cron schedule (five fields: minute, hour,
day of month, month, day of week; ``*``, lists, ranges and ``/`` steps; UTC) or happens
once ``at`` a time, lasts ``duration_s`` and multiplies demand by ``effect`` meanwhile.
:func:`multipliers` turns events into one factor per interval (an interval the event
covers in part gets that share of the effect; overlapping events multiply).

The fast path takes events as an uplift: the history is divided by its factors before
fitting (so a profile is what demand does without the events) and the forecast
multiplied by the factors of the steps ahead (:func:`deflate`, :func:`inflate`).
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

__all__ = ["CronSchedule", "Event", "deflate", "inflate", "multipliers", "parse_cron"]

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


def deflate(history: FloatArray, factors: FloatArray) -> FloatArray:
    """Demand without the events: each interval divided by its factor (last axis)."""
    return np.asarray(history / factors, dtype=np.float64)


def inflate(values: FloatArray, factors: FloatArray) -> FloatArray:
    """A forecast with the events: each step multiplied by its factor (last axis)."""
    return np.asarray(values * factors, dtype=np.float64)
