"""Each resource's demand forecast, made once per ``prediction.interval``.

The handlers ask :class:`DemandForecaster` for a resource's :class:`PredictedDemand` on
every reconcile; it forecasts again only when a new interval has completed, from the
sampler's history, and remembers what it said for the next interval (so the next
forecast knows how far the last one missed: the deviation that drives hedging) and
when replicas were removed (the planner's hysteresis). State is in memory, per operator
process.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Sequence

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import parse_duration
from statecast.controller.predictive import (
    MAX_HISTORY_STEPS,
    PredictedDemand,
    forecast_demand,
    steps_of,
)
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import Ref

__all__ = ["DemandForecaster"]

#: Seconds of writes the sync-cost estimate looks back over.
_WRITES_WINDOW_S = 300.0


class DemandForecaster:
    """Forecasts per resource from a :class:`DemandSampler`, cached per interval.

    Args:
        sampler: where the demand history is.
    """

    def __init__(self, sampler: DemandSampler) -> None:
        self.sampler = sampler
        self._lock = threading.Lock()
        self._made: dict[Ref, tuple[float, tuple[str, ...], PredictedDemand | None]] = {}
        self._removed: dict[Ref, dict[str, float]] = {}

    def demand(
        self, ref: Ref, spec: SharedResourceSpec, nodes: Sequence[str], now: dt.datetime
    ) -> PredictedDemand | None:
        """The forecast from the last complete interval (None: not enough history)."""
        interval, _, _ = steps_of(spec)
        covered = self.sampler.covered_until(now.timestamp())
        if covered is None:
            return None
        # The last interval every agent's samples cover completely.
        end = math.floor(min(covered, now.timestamp()) / interval) * interval
        names = tuple(sorted(nodes))
        with self._lock:
            made = self._made.get(ref)
            if made is not None and made[0] == end and made[1] == names:
                return made[2]
        previous_next: dict[str, float] | None = None
        if made is not None and made[2] is not None and made[0] == end - interval:
            said = made[2].forecast
            previous_next = {n: float(said.mean[i, 0]) for i, n in enumerate(said.nodes)}
        held = self.sampler.history_limit * self.sampler.period  # seconds a series holds
        steps = min(MAX_HISTORY_STEPS, max(1, math.ceil(held / interval)))
        history = self.sampler.matrix(ref, names, interval, end, steps)
        demand = forecast_demand(
            history,
            names,
            spec,
            generated_at=dt.datetime.fromtimestamp(end, dt.UTC),
            previous_next=previous_next,
            writes_per_min=self.sampler.writes_per_minute(ref, _WRITES_WINDOW_S, now.timestamp()),
        )
        with self._lock:
            self._made[ref] = (end, names, demand)
        return demand

    def forget(self, ref: Ref) -> None:
        """Drop what is kept for a deleted resource."""
        with self._lock:
            self._made.pop(ref, None)
            self._removed.pop(ref, None)
        self.sampler.forget(ref)

    def removed(self, ref: Ref, node: str, now: dt.datetime) -> None:
        """Remember that a replica of ``ref`` was removed from ``node``."""
        with self._lock:
            self._removed.setdefault(ref, {})[node] = now.timestamp()

    def recently_removed(
        self, ref: Ref, spec: SharedResourceSpec, now: dt.datetime
    ) -> dict[str, float]:
        """Node -> seconds since a removal, for removals within two cooldowns."""
        horizon = 2 * parse_duration(spec.replication.cooldown).total_seconds()
        with self._lock:
            times = self._removed.get(ref, {})
            ages = {n: now.timestamp() - t for n, t in times.items()}
            kept = {n: age for n, age in ages.items() if age < horizon}
            self._removed[ref] = {n: times[n] for n in kept}
            return kept
