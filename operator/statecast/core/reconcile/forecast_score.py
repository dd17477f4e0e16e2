"""How well a resource's forecasts have done lately: rolling MAE and interval coverage.

Each time an interval completes, the forecast made one interval earlier is scored on
it: per node, the absolute error of its mean for that interval and whether its
interval (lower, upper) held the demand. :class:`ForecastScore` keeps the last
``window`` intervals and answers the mean absolute error per node and interval, and
the share of node-intervals covered (to compare with ``prediction.level``). Nodes
without a reading for the interval are not scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from statecast.core.placement import DemandForecast

__all__ = ["ForecastScore"]


class ForecastScore:
    """The rolling score of one resource's one-interval-ahead forecasts.

    The last ``window`` intervals' (error, scored, inside) in one array: a deque of
    tuples of Python numbers was ~6.5 KiB per resource at 60 intervals.

    Args:
        window: intervals kept (the oldest is dropped when a new one comes).
    """

    def __init__(self, window: int = 60) -> None:
        self._rows = np.zeros((max(1, window), 3))
        self._added = 0

    def add(self, said: DemandForecast, actual: Mapping[str, float]) -> None:
        """Score the first step of ``said`` against the demand each node then made."""
        error, scored, inside = 0.0, 0, 0
        for i, node in enumerate(said.nodes):
            value = actual.get(node)
            if value is None or math.isnan(value):
                continue
            error += abs(float(said.mean[i, 0]) - value)
            scored += 1
            inside += int(float(said.lower[i, 0]) <= value <= float(said.upper[i, 0]))
        if scored:
            self._rows[self._added % len(self._rows)] = (error, scored, inside)
            self._added += 1

    def value(self) -> tuple[float, float] | None:
        """(mean absolute error per node-interval, share covered); None: nothing scored."""
        rows = self._rows[: min(self._added, len(self._rows))]
        scored = float(rows[:, 1].sum())
        if not scored:
            return None
        return float(rows[:, 0].sum()) / scored, float(rows[:, 2].sum()) / scored
