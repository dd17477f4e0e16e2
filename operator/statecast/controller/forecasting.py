"""Each resource's demand forecast, made once per ``prediction.interval``.

The handlers ask :class:`DemandForecaster` for a resource's :class:`PredictedDemand` on
every reconcile, with the consumer pods per node the reconcile sees (recorded into the
history as a leading signal of demand); it forecasts again only when a new interval has
completed or those pods changed, from the sampler's history, and remembers what it said
for the next interval (so the next forecast knows how far the last one missed: the
deviation that drives hedging) and when replicas were removed (the planner's
hysteresis). State is in memory, per operator process.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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
from statecast.core.demand_series import capacity

__all__ = ["DemandForecaster"]

#: Seconds of writes the sync-cost estimate looks back over.
_WRITES_WINDOW_S = 300.0


@dataclass(frozen=True)
class _Made:
    """The last forecast of a resource and what it was made from."""

    end: float
    nodes: tuple[str, ...]
    pods_now: tuple[int, ...]
    demand: PredictedDemand | None
    previous_next: dict[str, float] | None


class DemandForecaster:
    """Forecasts per resource from a :class:`DemandSampler`, cached per interval.

    Args:
        sampler: where the demand history is.
    """

    def __init__(self, sampler: DemandSampler) -> None:
        self.sampler = sampler
        self._lock = threading.Lock()
        self._made: dict[Ref, _Made] = {}
        self._removed: dict[Ref, dict[str, float]] = {}

    def demand(
        self,
        ref: Ref,
        spec: SharedResourceSpec,
        nodes: Sequence[str],
        now: dt.datetime,
        pods: Mapping[str, int] | None = None,
    ) -> PredictedDemand | None:
        """The forecast from the last complete interval (None: not enough history).

        Args:
            ref: the resource.
            spec: its spec (interval, horizon, level, seasonality).
            nodes: every node of the cluster.
            now: the current time.
            pods: the resource's consumer pods per node now; recorded into the history
                and counted in the forecast at once (a change forecasts again).
        """
        current = {n: c for n, c in (pods or {}).items() if c > 0}
        self.sampler.record_pods(ref, current, now.timestamp())
        interval, _, _ = steps_of(spec)
        covered = self.sampler.covered_until(now.timestamp())
        if covered is None:
            return None
        # The last interval every agent's samples cover completely.
        end = math.floor(min(covered, now.timestamp()) / interval) * interval
        names = tuple(sorted(nodes))
        pods_now = tuple(current.get(n, 0) for n in names)
        with self._lock:
            made = self._made.get(ref)
        if made is not None and (made.end, made.nodes, made.pods_now) == (end, names, pods_now):
            return made.demand
        previous_next: dict[str, float] | None = None
        if made is not None and made.end == end:  # the same interval, forecast again
            previous_next = made.previous_next
        elif made is not None and made.demand is not None and made.end == end - interval:
            said = made.demand.forecast
            previous_next = {n: float(said.mean[i, 0]) for i, n in enumerate(said.nodes)}
        self.sampler.set_interval(ref, interval)
        steps = min(MAX_HISTORY_STEPS, capacity(interval))
        history = self.sampler.matrix(ref, names, interval, end, steps)
        # From the first interval any node was sampled: older ones are not history.
        first = int(np.argmax(~np.isnan(history).all(axis=0))) if history.size else 0
        demand = forecast_demand(
            history[:, first:],
            names,
            spec,
            generated_at=dt.datetime.fromtimestamp(end, dt.UTC),
            previous_next=previous_next,
            writes_per_min=self.sampler.writes_per_minute(ref, _WRITES_WINDOW_S, now.timestamp()),
            pods=self.sampler.pod_matrix(ref, names, interval, end, steps)[:, first:],
            pods_now=np.array(pods_now, dtype=np.float64),
        )
        with self._lock:
            self._made[ref] = _Made(end, names, pods_now, demand, previous_next)
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
