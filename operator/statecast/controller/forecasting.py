"""Each resource's demand forecast, made once per ``prediction.interval``.

The handlers ask :class:`DemandForecaster` for a resource's :class:`PredictedDemand` on
every reconcile, with the consumer pods per node the reconcile sees (recorded into the
history as a leading signal of demand); it forecasts again only when a new interval has
completed or those pods changed, and remembers what it said for the next interval (so
the next forecast knows how far the last one missed: the deviation that drives hedging)
and when replicas were removed (the planner's hysteresis). State is in memory, per
operator process.

The forecast of a resource comes from its
:class:`~statecast.core.reconcile.demand_engine.DemandEngine`: fitted from the sampler's
whole history when there is none, when the nodes, the prediction settings or the series
change, after the history was reloaded, and on schedule (daily; early on whenever the
history doubled); otherwise each newly completed interval is a cheap update. Right after
a rebuild it says what :func:`~statecast.core.reconcile.predicted.forecast_demand` says.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import Ref
from statecast.api.units import parse_duration
from statecast.controller.sampling import DemandSampler
from statecast.core.demand_series import fine_steps, held_steps, history_steps, scored_column
from statecast.core.placement import DemandForecast
from statecast.core.reconcile.demand_engine import (
    DemandEngine,
    EngineSettings,
    Step,
    next_step,
    series_changed,
)
from statecast.core.reconcile.forecast_score import ForecastScore
from statecast.core.reconcile.predicted import (
    PredictedDemand,
    events_of,
    known_recent,
    seasons_of,
    steps_of,
)
from statecast.core.reconcile.urgent import forecast_basis, last_forecast_serves

__all__ = ["DemandForecaster"]

log = logging.getLogger(__name__)

#: Seconds of writes the sync-cost estimate looks back over.
_WRITES_WINDOW_S = 300.0
#: Intervals of what the forecasts said kept per node (the planner's change test reads
#: the newest ``PlacementSpec.change_steps`` of them).
_SAID_KEPT = 8


@dataclass(frozen=True)
class _Said:
    """What the forecasts said one interval ahead for the newest intervals, per node.

    One array for every node (session 16 kept a dict of tuples of Python floats: ~360
    bytes per node and resource, 64 now): row ``i`` is node ``nodes[i]``, oldest
    first, the newest interval last; a row's ``counts[i]`` newest values are known
    (NaN before them). The newest column is what the previous forecast said for the
    newest interval (``previous_next``); None there: no previous forecast.
    """

    nodes: tuple[str, ...]
    values: npt.NDArray[np.float64]  # nodes x _SAID_KEPT
    counts: npt.NDArray[np.uint8]

    @classmethod
    def after(cls, before: _Said | None, said: DemandForecast) -> _Said:
        """``before`` moved on one interval: each node of ``said`` adds its first step."""
        nodes, n = said.nodes, len(said.nodes)
        values = np.full((n, _SAID_KEPT), np.nan)
        counts = np.zeros(n, dtype=np.uint8)
        if before is not None:
            rows = {node: i for i, node in enumerate(before.nodes)}
            for i, node in enumerate(nodes):
                j = rows.get(node)
                if j is not None:
                    values[i, :-1], counts[i] = before.values[j, 1:], before.counts[j]
        values[:, -1] = said.mean[:, 0]
        return cls(nodes, values, np.minimum(counts + 1, _SAID_KEPT).astype(np.uint8))

    def previous_next(self) -> dict[str, float]:
        """What the previous forecast said for the newest interval, per node."""
        return dict(zip(self.nodes, self.values[:, -1].tolist(), strict=True))

    def history(self) -> dict[str, tuple[float, ...]]:
        """Node -> what the forecasts said, oldest first (the planner's ``said_history``)."""
        return {
            node: tuple(self.values[i, _SAID_KEPT - int(self.counts[i]) :].tolist())
            for i, node in enumerate(self.nodes)
        }


@dataclass(frozen=True)
class _Made:
    """The last forecast of a resource and what it was made from."""

    end: float
    nodes: tuple[str, ...]
    pods_now: tuple[int, ...]
    demand: PredictedDemand | None
    said: _Said | None  # one step ahead, per interval up to ``end`` (None: none before)
    basis: str | None = None  # what of the spec it was made from (forecast_basis)


class DemandForecaster:
    """Forecasts per resource from a :class:`DemandSampler`, cached per interval.

    A forecast kept for the rest of its interval whose planner's last day of demand
    (``DemandForecast.recent``) is a new array (older hours held hourly, spread) is kept
    without it, and the engine's day is put back each time it is handed out again: kept,
    it would be the whole day at the interval's resolution per resource. A day that is
    a view of the engine's own buffer is kept as it is (it costs nothing more).

    Args:
        sampler: where the demand history is.
        dense: hold every engine's window and last day at the interval's resolution
            (session 14's engines; for the quality comparison of ``bench.operator_forecast``).
            By default older than :func:`~statecast.core.demand_series.fine_steps` they
            are held one value per coarse interval.
    """

    def __init__(self, sampler: DemandSampler, *, dense: bool = False) -> None:
        self.sampler = sampler
        self.dense = dense
        self._lock = threading.Lock()
        self._made: dict[Ref, _Made] = {}
        self._engines: dict[Ref, DemandEngine] = {}
        self._removed: dict[Ref, dict[str, float]] = {}
        self._lost: dict[Ref, set[str]] = {}  # nodes whose last removal lost the copy
        self._scores: dict[Ref, ForecastScore] = {}

    def demand(
        self,
        ref: Ref,
        spec: SharedResourceSpec,
        nodes: Sequence[str],
        now: dt.datetime,
        pods: Mapping[str, int] | None = None,
        *,
        latest: bool = False,
    ) -> PredictedDemand | None:
        """The forecast from the last complete interval (None: not enough history).

        Args:
            ref: the resource.
            spec: its spec (interval, horizon, level, seasonality).
            nodes: every node of the cluster.
            now: the current time.
            pods: the resource's consumer pods per node now; recorded into the history
                and counted in the forecast at once (a change forecasts again).
            latest: the last forecast made, if there is one, as it is (an interval old
                at most while reconciles come): for a lapse's wave, whose replacements
                must not wait for forecast updates and rebuilds (0.1-0.3 s each at
                1,000 resources on a loaded machine); the reconcile after it catches up.
                Also a spec change's (:mod:`statecast.controller.urgent`). A forecast made
                from other prediction or consumers settings is made again
                (:func:`~statecast.core.reconcile.urgent.last_forecast_serves`).
        """
        if latest:
            with self._lock:
                made = self._made.get(ref)
            if (
                made is not None
                and made.demand is not None
                and last_forecast_serves(made.basis, spec)
            ):
                return self._with_day(ref, made.demand)
        current = {n: c for n, c in (pods or {}).items() if c > 0}
        self.sampler.record_pods(ref, current, now.timestamp())
        interval, _, _ = steps_of(spec)
        covered = self.sampler.covered_until(now.timestamp())
        since = self.sampler.sampled_since()
        if covered is None or since is None or covered - since < interval:
            return None  # not one interval of this operator's own readings yet
        # The last interval every agent's samples cover completely.
        end = math.floor(min(covered, now.timestamp()) / interval) * interval
        names = self._forecast_nodes(ref, nodes)
        pods_now = tuple(current.get(n, 0) for n in names)
        with self._lock:
            made = self._made.get(ref)
        basis = forecast_basis(spec)
        if made is not None and (made.end, made.nodes, made.pods_now, made.basis) == (
            end, names, pods_now, basis
        ):  # fmt: skip
            return None if made.demand is None else self._with_day(ref, made.demand)
        said_before: _Said | None = None
        if made is not None and made.end == end:  # the same interval, forecast again
            said_before = made.said
        elif made is not None and made.demand is not None and made.end == end - interval:
            said_before = _Said.after(made.said, made.demand.forecast)
            self._score(ref, made.demand.forecast, interval, end)
        previous_next = None if said_before is None else said_before.previous_next()
        history = {} if said_before is None else said_before.history()
        _, horizon, _ = steps_of(spec)
        window = history_steps(interval, max(seasons_of(spec)), horizon)
        self.sampler.set_interval(ref, interval, window)  # the coarse ring reaches the window
        running = np.array(pods_now, dtype=np.float64)
        engine = self._engine(ref, spec, names, end, running)
        demand = None
        if engine is not None:
            demand = engine.demand(
                spec,
                running,
                previous_next=previous_next,
                said_history=history,
                writes_per_min=self.sampler.writes_per_minute(
                    ref, _WRITES_WINDOW_S, now.timestamp()
                ),
            )
        kept = demand
        if demand is not None and engine is not None and engine.recent_spread:
            kept = _without_day(demand)
        with self._lock:
            self._made[ref] = _Made(end, names, pods_now, kept, said_before, basis)
        return demand

    def _with_day(self, ref: Ref, demand: PredictedDemand) -> PredictedDemand:
        """``demand`` with its engine's last day of demand put back if it was kept without."""
        if demand.forecast.recent is not None:
            return demand
        with self._lock:
            engine = self._engines.get(ref)
        if engine is None or engine.settings.nodes != demand.forecast.nodes:
            return demand
        forecast = dataclasses.replace(demand.forecast, recent=known_recent(engine.recent))
        return dataclasses.replace(demand, forecast=forecast)

    def _forecast_nodes(self, ref: Ref, nodes: Sequence[str]) -> tuple[str, ...]:
        """The nodes to forecast ``ref`` on: those its history has demand or pods on.

        A node that never read the resource and never ran a consumer of it is forecast no
        demand by the planner anyway; leaving it out keeps the engine as small as the
        resource's readers (a resource read on 3 of 50 nodes: 3 series, not 50). Every
        node while none has (a forecast of no demand anywhere).
        """
        known = set(nodes)
        seen = self.sampler.nodes_of(ref) & known
        return tuple(sorted(seen or known))

    def _engine(
        self,
        ref: Ref,
        spec: SharedResourceSpec,
        names: tuple[str, ...],
        end: float,
        pods_now: npt.NDArray[np.float64],
    ) -> DemandEngine | None:
        """``ref``'s engine brought up to ``end``: updated, or rebuilt (see :func:`next_step`)."""
        interval, horizon, season = steps_of(spec)
        seasons = seasons_of(spec)
        settings = EngineSettings(
            names,
            interval,
            horizon,
            season,
            spec.prediction.level,
            history_steps(interval, max(seasons), horizon),
            self.sampler.generation(ref),
            seasons[1:],
            events_of(spec),
            0 if self.dense else fine_steps(interval, seasons, horizon),
        )
        with self._lock:
            engine = self._engines.get(ref)
        step, why = next_step(None if engine is None else engine.built, settings, end)
        if engine is not None and step is not Step.REBUILD:
            behind = round((end - engine.end) / interval)  # 0 when the same interval
            demand = self.sampler.matrix(ref, names, interval, end, behind)
            pods = self.sampler.pod_matrix(ref, names, interval, end, behind)
            changed = series_changed(engine.with_pods, engine.sampled, demand, pods, pods_now)
            if changed is None:
                engine.update(demand, pods, end)
                return engine
            why = changed
        engine = self._rebuild(ref, settings, end, pods_now)
        if engine is not None:
            log.info(
                "event=forecast-rebuilt resource=%s/%s reason=%s steps=%d nodes=%d",
                ref[0], ref[1], why, engine.steps, len(names),
            )  # fmt: skip
        with self._lock:
            if engine is None:
                self._engines.pop(ref, None)
            else:
                self._engines[ref] = engine
        return engine

    def _rebuild(
        self,
        ref: Ref,
        settings: EngineSettings,
        end: float,
        pods_now: npt.NDArray[np.float64],
    ) -> DemandEngine | None:
        """An engine fitted to ``ref``'s whole history (None: too short)."""
        names, interval = settings.nodes, settings.interval
        # only the intervals the history holds (not the whole capacity, cut off below)
        steps = held_steps(self.sampler.first_known(ref), end, interval, settings.capacity)
        history = self.sampler.matrix(ref, names, interval, end, steps)
        # From the first interval any node was sampled: older ones are not history.
        first = int(np.argmax(~np.isnan(history).all(axis=0))) if history.size else 0
        pods = self.sampler.pod_matrix(ref, names, interval, end, steps)
        # copies of the sampled part: the matrices are sized for the engine's whole
        # capacity (three days), mostly NaN early on, and anything kept of a slice kept them
        history, pods = (
            np.ascontiguousarray(history[:, first:]),
            np.ascontiguousarray(pods[:, first:]),
        )
        fine = scored_column(self.sampler.fine_from(ref), end, interval, steps) - first
        return DemandEngine.build(settings, end, history, pods, pods_now, max(0, fine))

    def _score(self, ref: Ref, said: DemandForecast, interval: float, end: float) -> None:
        """Score the forecast made for the interval ending at ``end`` against its demand."""
        actual = self.sampler.matrix(ref, said.nodes, interval, end, 1)[:, 0]
        with self._lock:
            score = self._scores.setdefault(ref, ForecastScore())
            score.add(said, dict(zip(said.nodes, actual.tolist(), strict=True)))

    def score(self, ref: Ref) -> tuple[float, float] | None:
        """``ref``'s rolling (MAE, interval coverage) one interval ahead (None: none yet)."""
        with self._lock:
            score = self._scores.get(ref)
            return None if score is None else score.value()

    def forget(self, ref: Ref) -> None:
        """Drop what is kept for a deleted resource."""
        with self._lock:
            self._scores.pop(ref, None)
            self._made.pop(ref, None)
            self._engines.pop(ref, None)
            self._removed.pop(ref, None)
            self._lost.pop(ref, None)
        self.sampler.forget(ref)

    def removed(self, ref: Ref, node: str, now: dt.datetime, lost: bool = False) -> None:
        """Remember that a replica of ``ref`` was removed from ``node`` (``lost`` with it)."""
        with self._lock:
            self._removed.setdefault(ref, {})[node] = now.timestamp()
            gone = self._lost.setdefault(ref, set())
            if lost:
                gone.add(node)
            else:
                gone.discard(node)

    def recently_lost(self, ref: Ref) -> frozenset[str]:
        """The remembered removals of ``ref`` that lost the copy with its node."""
        with self._lock:
            return frozenset(self._lost.get(ref, set()) & set(self._removed.get(ref, {})))

    def recently_removed(
        self, ref: Ref, spec: SharedResourceSpec, now: dt.datetime, keep_s: float = 0.0
    ) -> dict[str, float]:
        """Node -> seconds since a removal, within two cooldowns or ``keep_s`` if longer."""
        horizon = max(2 * parse_duration(spec.replication.cooldown).total_seconds(), keep_s)
        with self._lock:
            times = self._removed.get(ref, {})
            ages = {n: now.timestamp() - t for n, t in times.items()}
            kept = {n: age for n, age in ages.items() if age < horizon}
            self._removed[ref] = {n: times[n] for n in kept}
            return kept


def _without_day(demand: PredictedDemand) -> PredictedDemand:
    """``demand`` without the planner's last day (kept so; put back when handed out)."""
    if demand.forecast.recent is None:
        return demand
    return dataclasses.replace(demand, forecast=dataclasses.replace(demand.forecast, recent=None))
