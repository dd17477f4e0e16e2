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
from collections import deque
from collections.abc import Mapping

from statecast.core.placement import DemandForecast

__all__ = ["ForecastScore"]


class ForecastScore:
    """The rolling score of one resource's one-interval-ahead forecasts.

    Args:
        window: intervals kept (the oldest is dropped when a new one comes).
    """

    def __init__(self, window: int = 60) -> None:
        self._rows: deque[tuple[float, int, int]] = deque(maxlen=window)

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
            self._rows.append((error, scored, inside))

    def value(self) -> tuple[float, float] | None:
        """(mean absolute error per node-interval, share covered); None: nothing scored."""
        scored = sum(row[1] for row in self._rows)
        if not scored:
            return None
        error = sum(row[0] for row in self._rows)
        inside = sum(row[2] for row in self._rows)
        return error / scored, inside / scored
