"""A resource's forecast kept current one interval at a time, refitted on a schedule.

:func:`~statecast.core.reconcile.predicted.forecast_demand` fits every node's series from
the whole history (up to 4,320 intervals), which costs ~0.2 s for 10 nodes and ~1.5 s
for 100, per resource and interval. :class:`DemandEngine` does what the simulator does:
it fits a :class:`~statecast.core.forecast.ForecastEngine` from the history once (a
*rebuild*: the same series and the same fit as ``forecast_demand``), then takes each
newly completed interval as a cheap update (the levels move, the parameters stay), and
rebuilds on a schedule: every :data:`REFIT_EVERY_S` (daily) and, while the history is
young, whenever it has doubled since the last rebuild or completed another season
(:func:`season_completed`: the season is used from the rebuild at which the history
first holds enough of it, not from the next doubling).

The decisions are pure functions, table-tested: :func:`next_step` (rebuild, update or
nothing new, from what the engine was built for and the interval now complete),
:func:`refit_every` (the schedule: daily, and early on whenever the history doubled,
:func:`~statecast.core.forecast.incremental.due_for_refit`, the rule the engine keeps
too) and :func:`series_changed` (what the newest intervals
reveal that the engine cannot take as an update: pods for the first time, a node
sampled for the first time).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.units import DAY_S
from statecast.core.demand_series import coarse_steps
from statecast.core.forecast import BatchForecast, ForecastEngine
from statecast.core.forecast.events import Event, deflate, factors, learned_effects
from statecast.core.forecast.incremental import due_for_refit
from statecast.core.forecast.pods import split_step
from statecast.core.newest_columns import NewestColumns
from statecast.core.reconcile.predicted import (
    MIN_HISTORY_STEPS,
    PredictedDemand,
    day_steps,
    demand_rows,
    event_lags,
    event_shares,
    predicted_demand,
    with_events,
)

__all__ = [
    "MAX_CATCH_UP_STEPS",
    "REFIT_EVERY_S",
    "DemandEngine",
    "EngineSettings",
    "Step",
    "next_step",
    "refit_every",
    "season_completed",
    "series_changed",
]

FloatArray = npt.NDArray[np.float64]

#: Seconds between two rebuilds of a resource's forecast from its whole history (daily:
#: the parameters and the calibrated intervals follow a day's drift; between rebuilds
#: each interval is a cheap update). Early on a rebuild also comes whenever the history
#: has doubled since the last one.
REFIT_EVERY_S = DAY_S
#: Intervals the engine catches up on by updates when the reconciles skipped some (a
#: resync period longer than ``prediction.interval``); further behind, it rebuilds. The
#: skipped intervals are read from the history, so catching up feeds real counts.
MAX_CATCH_UP_STEPS = 60


@dataclass(frozen=True)
class EngineSettings:
    """What an engine is built for; any change means a rebuild.

    Attributes:
        nodes: the node names, sorted (the rows).
        interval: seconds per step (``prediction.interval``).
        horizon: steps ahead.
        season: season length in steps.
        level: nominal coverage of the bounds.
        capacity: steps of history kept.
        generation: the sampler's :meth:`~statecast.controller.sampling.DemandSampler.generation`
            of the resource's history (a reload replaces it).
        longer: further seasons in steps (``prediction.seasonality`` beyond the main one),
            modelled once the history holds two of them.
        events: the known events (``prediction.events``): the history is divided by
            their factors before it is fitted or fed, the forecast multiplied by them.
        fine: steps held at the interval's resolution
            (:func:`~statecast.core.demand_series.fine_steps`); older ones, in the
            engine's window and the planner's last day, one value per coarse interval
            (an hour). 0: every step as it is (session 14's windows).
    """

    nodes: tuple[str, ...]
    interval: float
    horizon: int
    season: int
    level: float
    capacity: int
    generation: tuple[int, int] = (0, 0)
    longer: tuple[int, ...] = ()
    events: tuple[Event, ...] = ()
    fine: int = 0


class Step(enum.Enum):
    """What to do with a resource's engine for the interval now complete."""

    REBUILD = "rebuild"
    UPDATE = "update"
    SAME = "same"  # the interval it already holds


@dataclass(frozen=True)
class Built:
    """What :func:`next_step` needs to know about an engine.

    Attributes:
        settings: what it was built for.
        end: the end of the newest interval it holds.
        steps: intervals of history it holds.
        refitted_steps: intervals of history it held at its last rebuild.
        since_refit: intervals it has taken as updates since its last rebuild.
    """

    settings: EngineSettings
    end: float
    steps: int
    refitted_steps: int
    since_refit: int


def refit_every(interval: float) -> int:
    """Intervals between two scheduled rebuilds: :data:`REFIT_EVERY_S` in ``interval`` steps."""
    return max(1, math.ceil(REFIT_EVERY_S / interval))


#: While the history holds fewer seasons than this, each season it completes rebuilds.
YOUNG_SEASONS = 14


def season_completed(refitted_steps: int, steps: int, season: int) -> bool:
    """Whether a young history completed a season since the last rebuild.

    The forecaster can offer the season only once the history holds enough of it (two
    seasons and its backtest's origins), and an engine uses what it offered at its
    last rebuild; the doubling schedule alone may jump past that length (a chain
    ..., 144, 288 of 18-step seasons missed 167; at one-minute intervals and a daily
    season a chain ..., 2816 missed 2880 and the daily refit brought the season a day
    late). Rebuilding at each completed season while the history is young puts the
    rebuild at the first whole season with enough history.

    Args:
        refitted_steps: intervals held at the last rebuild.
        steps: intervals held now.
        season: season length in intervals.
    """
    if season < 2 or steps >= YOUNG_SEASONS * season:
        return False
    return steps // season > refitted_steps // season


def next_step(built: Built | None, settings: EngineSettings, end: float) -> tuple[Step, str]:
    """Rebuild, update or nothing new, and why.

    Args:
        built: the resource's engine (None: there is none).
        settings: what the resource asks for now.
        end: the end of the newest complete interval.

    Returns:
        The step and its reason; for an update the reason is empty and the number of
        intervals to feed is ``(end - built.end) / interval``.
    """
    if built is None:
        return Step.REBUILD, "no-engine"
    if built.settings != settings:
        return Step.REBUILD, _changed(built.settings, settings)
    behind = round((end - built.end) / settings.interval)
    if behind == 0:
        return Step.SAME, ""
    if behind < 0:
        return Step.REBUILD, "history-went-back"
    if behind > MAX_CATCH_UP_STEPS:
        return Step.REBUILD, "intervals-skipped"
    steps = min(built.steps + behind, settings.capacity)
    every = refit_every(settings.interval)
    if due_for_refit(built.since_refit + behind, every, steps, built.refitted_steps):
        return Step.REBUILD, "refit-due"
    if season_completed(built.refitted_steps, steps, settings.season):
        return Step.REBUILD, "season-completed"
    return Step.UPDATE, ""


def _blocks(settings: EngineSettings, end: float, steps: int) -> tuple[int, int, int] | None:
    """``(fine, every, align)`` of a history of ``steps`` ending at ``end``: hourly blocks.

    A block starts where a coarse interval does (``end`` and the coarse intervals are
    whole intervals from time 0), counted from the history's first step. None: dense.
    """
    if settings.fine <= 0:
        return None
    every = coarse_steps(settings.interval)
    return settings.fine, every, (steps - round(end / settings.interval)) % every


def _changed(old: EngineSettings, new: EngineSettings) -> str:
    if old.generation != new.generation:
        return "history-reloaded"
    if old.nodes != new.nodes:
        return "nodes-changed"
    return "prediction-changed"


def series_changed(
    with_pods: bool,
    sampled: npt.NDArray[np.bool_],
    demand: FloatArray,
    pods: FloatArray,
    pods_now: FloatArray,
) -> str | None:
    """Why the new intervals need a rebuild rather than an update (None: they do not).

    Args:
        with_pods: whether the engine follows the per-pod split.
        sampled: per node, whether the engine has seen it sampled.
        demand: the new intervals, nodes x steps.
        pods: the pods in them, nodes x steps.
        pods_now: the pods per node now.
    """
    if not with_pods and ((pods > 0).any() or (pods_now > 0).any()):
        return "pods-appeared"
    if (~sampled & ~np.isnan(demand).all(axis=1)).any():
        return "node-sampled-first"
    return None


class DemandEngine:
    """One resource's forecast engine, its pod split carried forward, and its last forecast.

    Build it with :meth:`build`; feed each newly completed interval with :meth:`update`;
    :meth:`demand` gives the forecast with the pods running now.
    """

    def __init__(
        self,
        settings: EngineSettings,
        end: float,
        history: FloatArray,
        pods: FloatArray,
        pods_now: FloatArray,
        scored_from: int = 0,
    ) -> None:
        rows = demand_rows(history, pods, pods_now)
        self.settings = settings
        self.end = end
        self.steps = history.shape[1]
        self.refitted_steps = self.steps
        self.since_refit = 0
        self.with_pods = rows.with_pods
        self.sampled = rows.sampled
        self.last = rows.last
        blocks = _blocks(settings, end, history.shape[1])
        #: Each node's demand over the newest day (the planner's break-even look-back),
        #: unknown as 0, float32, appended in place (:class:`NewestColumns`), older than
        #: ``settings.fine`` steps one value per coarse interval; :attr:`recent` is its
        #: read-only view, handed to the planner itself.
        self._day = NewestColumns(len(history), day_steps(settings.interval), blocks)
        self._day.append(history)  # its newest day (NewestColumns keeps that many)
        self._residual = rows.residual
        self._per_pod = rows.per_pod
        self._engine = ForecastEngine(
            len(rows.series),
            period=(settings.season, *settings.longer),
            horizon=settings.horizon,
            level=settings.level,
            capacity=settings.capacity,
            refit_every=refit_every(settings.interval),
            blocks=blocks,
        )
        past = event_shares(settings.events, end, settings.interval, -history.shape[1])
        #: Each event's effect per series, learned from its past occurrences.
        self.effects = learned_effects(
            rows.series, settings.events, past,
            lags=event_lags((settings.season, *settings.longer)), interval=settings.interval,
        )  # fmt: skip
        self._engine.refit(deflate(rows.series, factors(past, self.effects)), scored_from)
        self.forecast: BatchForecast = self._engine.forecast()

    @classmethod
    def build(
        cls,
        settings: EngineSettings,
        end: float,
        history: FloatArray,
        pods: FloatArray,
        pods_now: FloatArray,
        scored_from: int = 0,
    ) -> DemandEngine | None:
        """An engine fitted to ``history`` (nodes x intervals up to ``end``); None if too short.

        ``history`` starts at the first interval any node was sampled (NaN before a
        node's first sample), like :func:`~statecast.core.reconcile.predicted.forecast_demand`'s.
        ``scored_from``: its first column held at the interval's resolution (older ones
        spread from the coarse ring): the refit's backtest scores from there.
        """
        known = ~np.isnan(history)
        if not settings.nodes or int(known.any(axis=0).sum()) < MIN_HISTORY_STEPS:
            return None
        return cls(settings, end, history, pods, pods_now, scored_from)

    @property
    def recent(self) -> npt.NDArray[np.float32]:
        """Each node's demand over the newest day, oldest first, read-only (never changes).

        The same view of the engine's buffer until the next update; once older hours are
        held hourly (:attr:`recent_spread`), a new array each time (the older hours
        spread from their values): whoever keeps a forecast then keeps it without this
        (see :class:`~statecast.controller.forecasting.DemandForecaster`).
        """
        return self._day.view()

    @property
    def recent_spread(self) -> bool:
        """Whether :attr:`recent` is a new array each time (older hours spread)."""
        return self._day.spread

    @property
    def nbytes(self) -> int:
        """Bytes of the history it holds: its window and the last day."""
        return self._engine.nbytes + self._day.nbytes

    @property
    def built(self) -> Built:
        """What :func:`next_step` decides from."""
        return Built(self.settings, self.end, self.steps, self.refitted_steps, self.since_refit)

    def update(self, demand: FloatArray, pods: FloatArray, end: float) -> None:
        """Take the intervals up to ``end`` (nodes x steps, oldest first) as updates.

        The caller has checked :func:`series_changed`: no node is sampled first here,
        and pods appear only if the engine already follows the per-pod split.
        """
        for k in range(demand.shape[1]):
            column = np.where(self.sampled, demand[:, k], 0.0)
            if self.with_pods:
                self._residual, self._per_pod = split_step(
                    column, pods[:, k], self._residual, self._per_pod
                )
                masked = np.where(np.isnan(column), np.nan, self._residual)
                values = np.append(masked, self._per_pod)
            else:
                values = column
            step_end = end - (demand.shape[1] - 1 - k) * self.settings.interval
            share = event_shares(self.settings.events, step_end, self.settings.interval, -1)
            self.forecast = self._engine.update(deflate(values, factors(share, self.effects)[:, 0]))
            self.last = np.nan_to_num(column)
        self._day.append(demand)
        self.end = end
        self.steps = min(self.steps + demand.shape[1], self.settings.capacity)
        self.since_refit += demand.shape[1]

    def demand(
        self,
        spec: SharedResourceSpec,
        pods_now: FloatArray,
        *,
        previous_next: Mapping[str, float] | None,
        writes_per_min: float,
        said_history: Mapping[str, Sequence[float]] | None = None,
    ) -> PredictedDemand:
        """The forecast from the newest interval, with the pods running now."""
        ahead = event_shares(self.settings.events, self.end, self.settings.interval,
                             self.settings.horizon)  # fmt: skip
        return predicted_demand(
            with_events(self.forecast, factors(ahead, self.effects)),
            self.settings.nodes,
            spec,
            pods_now=pods_now,
            last=self.last,
            generated_at=dt.datetime.fromtimestamp(self.end, dt.UTC),
            previous_next=previous_next,
            writes_per_min=writes_per_min,
            recent=self.recent,
            said_history=said_history,
        )
