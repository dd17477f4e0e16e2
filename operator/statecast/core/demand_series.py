"""One resource's demand per interval: fixed-size numpy rings per node, weeks long.

:class:`ResourceDemand` keeps, for one resource, the accesses per node aggregated per
``prediction.interval`` in a ring (:mod:`statecast.core.interval_ring`; older than
an hour 16 bits a value, within 0.025 %) of :func:`fine_capacity` intervals (a day, at most
:data:`MAX_STEPS`), the same accesses
rolled up coarser (:func:`coarse_interval`: a whole number of intervals, at least an
hour) for :data:`KEEP_WEEKS` weeks (enough for a weekly season), the local share and
the writes for the last hour (:data:`RECENT_S`, for the hit ratio and the sync cost),
and the consumer pods per node as pod-seconds per interval (:func:`capacity`: three
days, at most :data:`MAX_STEPS`). Samples (:class:`Span`) are
kept raw only until their interval closes (the resource's newest time has passed its
end): then they are folded into the rings, each spread evenly over the time it covers.
Everything it holds can be taken out as a :class:`DemandSnapshot` and put back (the
operator persists it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from statecast.api.units import DAY_S
from statecast.core.forecast.family import MIN_ORIGINS, Grid
from statecast.core.interval_ring import CompactRing, IntervalRing, RingSnapshot, resample

__all__ = [
    "EVERY_NODE",
    "FINE_DAYS",
    "KEEP_DAYS",
    "KEEP_WEEKS",
    "MAX_STEPS",
    "RECENT_S",
    "Cursor",
    "DemandSnapshot",
    "ResourceDemand",
    "Span",
    "capacity",
    "coarse_capacity",
    "coarse_held",
    "coarse_interval",
    "coarse_steps",
    "fine_capacity",
    "fine_steps",
    "held_steps",
    "history_steps",
    "scored_column",
]

FloatArray = npt.NDArray[np.float64]
#: Days of demand kept per series (fewer when that would exceed :data:`MAX_STEPS`).
KEEP_DAYS = 3
#: Intervals kept per series at most (three days of 1-minute intervals).
MAX_STEPS = 4320
#: Seconds of local/remote split and writes kept (hit ratio and sync cost windows).
RECENT_S = 3600.0
#: The one row of the local and writes rings: they are read only summed over every node
#: (:meth:`ResourceDemand.recent`), so they hold the sum, not a row per node (session 13
#: kept a row per node: ~1.4 KiB per node and ring at 10 s intervals). Snapshots saved
#: with a row per node are restored as they are (their rows summed when read).
EVERY_NODE = "*"


def capacity(interval: float) -> int:
    """Intervals the pod ring holds, and a forecast's window at most, at ``interval`` seconds.

    Three days (at most :data:`MAX_STEPS`); the demand ring holds :func:`fine_capacity`.
    """
    return max(2, min(MAX_STEPS, math.ceil(KEEP_DAYS * DAY_S / interval)))


#: Days of demand held at the interval's resolution (fewer at :data:`MAX_STEPS`).
FINE_DAYS = 1.0


def fine_capacity(interval: float) -> int:
    """Intervals the demand ring holds at ``interval`` seconds: a day, at most :func:`capacity`.

    What a rebuild reads of it at the interval's resolution: its backtest's truth (the
    origins it scores, :func:`scored_column`: older intervals come from the coarse ring
    spread evenly, where a member cannot miss within an hour, so they are history but
    not truth), a day of it - every phase of a daily season, where the residuals the
    intervals are calibrated on differ - and the newest hours the forecast and the
    planner hold as they are (:func:`fine_steps`). Three days at 1-minute intervals
    were 17,280 bytes per node and resource.
    """
    return max(2, min(capacity(interval), math.ceil(FINE_DAYS * DAY_S / interval - 1e-9)))


#: Weeks of demand kept at the coarse resolution (:func:`coarse_interval`).
KEEP_WEEKS = 4
#: Shortest coarse interval, in seconds.
COARSE_MIN_S = 3600.0
#: Intervals a forecast may be given at most (four weeks of 1-minute intervals).
MAX_HISTORY_STEPS = 40320


def coarse_interval(interval: float) -> float:
    """Seconds per coarse interval: the fewest whole ``interval``s spanning an hour."""
    return interval * max(1, math.ceil(COARSE_MIN_S / interval - 1e-9))


def coarse_steps(interval: float) -> int:
    """Intervals in one coarse interval (:func:`coarse_interval`): a whole number."""
    return max(1, round(coarse_interval(interval) / interval))


#: Seasons at least this long are read at the coarse resolution beyond the fine span
#: (their lags a season back and more); shorter ones are held whole at the interval's.
FINE_SEASON_S = DAY_S
#: Seasons a profile averages at most (the fast path's grid).
PROFILE_SEASONS = max(Grid().seasons)


def fine_steps(interval: float, seasons: Sequence[int], horizon: int) -> int:
    """Newest intervals a forecast holds at ``interval``'s resolution; older ones: coarse.

    Between two rebuilds a resource's forecast engine reads of its window the newest
    interval (the level members and the deviation), and the seasonal members' lags: a
    season back and more, each averaged over neighbouring phases (up to a 96th of the
    season either side). A season of a day or longer (``FINE_SEASON_S``) is read at
    the coarse resolution (an hour: a rebuild gives it that way beyond the fine ring,
    and 24 values a day keep the daily shape); a shorter one needs its lags whole: as
    many seasons as a profile averages, the horizon and the phase width, and a week of
    the shortest (the interval hedge's week ago, while one season is modelled). The
    planner reads the newest intervals (its last minutes, the stretches since a copy
    was made, summed): held fine for the horizon and :data:`MIN_ORIGINS` intervals at
    least. At least one
    coarse interval; whole coarse intervals (the fine part then reaches one more, the
    one being filled).

    Args:
        interval: seconds per interval.
        seasons: the seasons in intervals (``prediction.seasonality``).
        horizon: steps ahead.
    """
    needs = [horizon + MIN_ORIGINS]
    short = [p for p in seasons if p * interval < FINE_SEASON_S]
    for period in short:
        width = max(1, round(period / 96))
        needs.append(PROFILE_SEASONS * period + horizon + width + 1)
    if short:  # the interval hedge of a single season modelled: its week ago
        needs.append(7 * min(short) + horizon + 7)
    every = coarse_steps(interval)
    return every * max(1, math.ceil(max(needs) / every))


def coarse_capacity(interval: float) -> int:
    """Coarse intervals held at most at ``interval`` seconds per interval: :data:`KEEP_WEEKS`."""
    return max(2, math.ceil(KEEP_WEEKS * 7 * DAY_S / coarse_interval(interval)))


def coarse_held(interval: float, window: int) -> int:
    """Coarse intervals a resource holds whose forecast reads ``window`` intervals.

    ``window`` is :func:`history_steps` of the seasons it models: the coarse ring reaches
    the window's oldest interval (and holds the one being filled), and no further - at
    most :func:`coarse_capacity`. With a daily season at 1-minute intervals three days
    (73 hours, not four weeks: 2,400 bytes less per node); with a weekly one the weeks.
    """
    need = math.ceil(window * interval / coarse_interval(interval) - 1e-9) + 1
    return max(2, min(coarse_capacity(interval), need))


def history_steps(interval: float, longest_season: int, horizon: int) -> int:
    """Intervals of history to forecast from, for a longest season of ``longest_season`` steps.

    The fine ring's days (:func:`capacity`) when they hold three of the season and what
    the forecaster needs to offer it (two seasons, the horizon and
    :data:`~statecast.core.forecast.family.MIN_ORIGINS` origins); otherwise three of
    that season and two horizons, or that need if larger (the older part from the
    coarse ring), never more than the coarse ring reaches nor :data:`MAX_HISTORY_STEPS`.
    (Hourly intervals: the fine ring's 72 steps hold three days but leave a daily season
    out of the forecaster, 72 < 48 + horizon + 24.)
    """
    fine = capacity(interval)
    usable = 2 * longest_season + horizon + MIN_ORIGINS
    if 3 * longest_season <= fine and usable <= fine:
        return fine
    wanted = max(3 * longest_season + 2 * horizon, usable)
    reach = math.floor(coarse_capacity(interval) * coarse_interval(interval) / interval)
    return max(fine, min(reach, MAX_HISTORY_STEPS, wanted))


def held_steps(first: float | None, end: float, interval: float, capacity: int) -> int:
    """Intervals before ``end`` a matrix must span to hold everything known since ``first``.

    A rebuild read ``capacity`` intervals (three days: 4,320 per node) whatever the
    history held, and cut the unknown ones off after: a resource minutes old read 4,320
    intervals per node each time its nodes changed. Never more than ``capacity``; at
    least one; ``first`` None (nothing known): one.
    """
    if first is None:
        return 1
    if not math.isfinite(first):
        return max(1, capacity)
    return max(1, min(capacity, math.ceil((end - first) / interval - 1e-9) + 1))


def scored_column(fine_from: float | None, end: float, interval: float, steps: int) -> int:
    """Column of a matrix of ``steps`` intervals before ``end`` from which it is held fine.

    ``fine_from``: the start of the oldest interval the fine ring holds
    (:meth:`ResourceDemand.fine_from`); the columns before the returned one were
    spread from the coarse ring. 0 when every column is fine (or nothing is held),
    ``steps`` when none is.
    """
    if fine_from is None:
        return 0
    start = end - steps * interval
    return max(0, min(steps, math.ceil((fine_from - start) / interval - 1e-9)))


#: Coarse intervals held as float32 (the one being filled, and the one before it, where
#: an agent read late still adds); older ones are 16 bits (:class:`CompactRing`).
COARSE_FRESH = 2


def _recent_capacity(interval: float) -> int:
    return max(2, math.ceil(RECENT_S / interval) + 1)


@dataclass(frozen=True, slots=True)
class Span:
    """Accesses one node made over ``[start, end]`` (counts may be fractional once trimmed).

    Slotted: no ``__dict__`` (43 bytes less each; a resource holds a span or two per
    node not folded yet).
    """

    start: float
    end: float
    local: float
    remote: float
    writes: float = 0.0

    @property
    def total(self) -> float:
        """Every access, wherever it was served."""
        return self.local + self.remote

    def before(self, cut: float) -> Span:
        """The part before ``cut``, its counts scaled by the share of time it covers."""
        if self.end <= cut:
            return self
        share = (cut - self.start) / max(self.end - self.start, 1e-9)
        return Span(self.start, cut, self.local * share, self.remote * share, self.writes * share)

    def after(self, cut: float) -> Span:
        """The part after ``cut``, its counts scaled by the share of time it covers."""
        share = (self.end - cut) / max(self.end - self.start, 1e-9)
        return Span(cut, self.end, self.local * share, self.remote * share, self.writes * share)


@dataclass(frozen=True, slots=True)
class Cursor:
    """An agent's cumulative counters for one resource, as last recorded.

    Slotted, as :class:`Span` (one per node and resource).
    """

    started_at: float
    time: float
    local: int
    remote: int
    writes: int


@dataclass(frozen=True)
class DemandSnapshot:
    """Everything a :class:`ResourceDemand` holds, as plain values."""

    interval: float
    total: RingSnapshot
    local: RingSnapshot
    writes: RingSnapshot
    pods: RingSnapshot
    coarse: RingSnapshot = field(
        default_factory=lambda: RingSnapshot((), None, np.zeros((0, 0), dtype=np.float32))
    )
    since: Mapping[str, float] = field(default_factory=dict)
    covered: Mapping[str, float] = field(default_factory=dict)
    cursors: Mapping[str, Cursor] = field(default_factory=dict)
    raw: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    folded: float = -math.inf
    pod_changes: tuple[tuple[float, Mapping[str, int]], ...] = ()
    pods_folded: float | None = None


class ResourceDemand:
    """One resource's demand and consumer pods per node, aggregated per interval.

    Args:
        interval: seconds per interval (the resource's ``prediction.interval``).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        #: Older than the hit ratio's hour 16 bits a value (:class:`CompactRing`: within
        #: 0.025 %): 3,124 bytes per node for a day of minutes, where float32 took 5,760.
        self.total: IntervalRing = CompactRing(fine_capacity(interval), _recent_capacity(interval))
        self.local = IntervalRing(_recent_capacity(interval))
        self.writes = IntervalRing(_recent_capacity(interval))
        self.pods = IntervalRing(capacity(interval))  # pod-seconds
        self.coarse_interval = coarse_interval(interval)
        # total, rolled up: the hour being filled and the one before float32, older 16 bits
        self.coarse: IntervalRing = CompactRing(coarse_capacity(interval), COARSE_FRESH)
        self.since: dict[str, float] = {}
        self.covered: dict[str, float] = {}
        self.cursors: dict[str, Cursor] = {}
        self.raw: dict[str, list[Span]] = {}
        self.folded = -math.inf
        self.pod_changes: list[tuple[float, dict[str, int]]] = []
        self.pods_folded: float | None = None

    # --- recording ------------------------------------------------------------------
    def add(self, node: str, span: Span) -> None:
        """Record what ``node`` accessed over ``span``.

        The part of a span before what this node already covers is dropped (its counts
        scaled down by the share of time dropped), so a restarted operator does not
        count twice what it had restored.
        """
        covered = self.covered.get(node, -math.inf)
        if span.end <= covered:
            return
        if span.start < covered:
            span = span.after(covered)
        self.since[node] = min(self.since.get(node, span.start), span.start)
        self.covered[node] = span.end
        self.raw.setdefault(node, []).append(span)
        self._fold(span.end)

    def nodes(self) -> frozenset[str]:
        """The nodes with demand (any sample, even of no accesses) or consumer pods held."""
        pods = {node for _, counts in self.pod_changes for node in counts}
        return frozenset(self.since.keys() | self.pods.rows.keys() | pods)

    def add_pods(self, time: float, pods: Mapping[str, int]) -> None:
        """Record that from ``time`` on there are ``pods`` consumer pods per node.

        Only changes count; a resource that never had a pod keeps nothing, and an
        observation older than the last one is ignored.
        """
        counts = {node: n for node, n in pods.items() if n > 0}
        if not self.pod_changes:
            if not counts:
                return
        elif self.pod_changes[-1][1] == counts or time < self.pod_changes[-1][0]:
            return
        self.pod_changes.append((time, counts))
        if self.pods_folded is None:
            self.pods_folded = time
        self._fold(time)

    def _fold(self, newest: float) -> None:
        """Fold everything before the interval holding ``newest`` into the rings."""
        cut = math.floor(newest / self.interval) * self.interval
        if cut <= self.folded:
            return
        for node, spans in self.raw.items():
            kept, done = [], []
            for span in spans:
                # a span of no accesses and no writes adds nothing to any ring: skipped
                # (most of a resource's nodes, most rounds: the sampling round's cost)
                if span.start < cut and (span.local or span.remote or span.writes):
                    done.append(span.before(cut))
                if span.end > cut:
                    kept.append(span.after(cut) if span.start < cut else span)
            if done:
                self._put(node, done)
            self.raw[node] = kept
        self._fold_pods(cut)
        self.folded = cut
        for ring in (self.total, self.local, self.writes, self.pods):
            ring.advance(math.floor(cut / self.interval) - 1)
        self.coarse.advance(math.ceil(cut / self.coarse_interval) - 1)

    def _put(self, node: str, spans: Sequence[Span]) -> None:
        """Fold ``node``'s closed ``spans`` into the rings (the demand ring's all at once)."""
        self.total.spans(node, [(s.start, s.end, s.total) for s in spans], self.interval)
        for span in spans:
            # resource-wide: only ever read summed over the nodes (the hit ratio, the sync cost)
            self.local.span(EVERY_NODE, span.start, span.end, span.local, self.interval)
            self.writes.span(EVERY_NODE, span.start, span.end, span.writes, self.interval)
            self.coarse.span(node, span.start, span.end, span.total, self.coarse_interval)

    def _fold_pods(self, cut: float) -> None:
        if self.pods_folded is None or cut <= self.pods_folded:
            return
        changes = self.pod_changes
        for i, (time, counts) in enumerate(changes):
            lo = max(time, self.pods_folded)
            hi = min(changes[i + 1][0] if i + 1 < len(changes) else cut, cut)
            if hi > lo:
                for node, n in counts.items():
                    self.pods.span(node, lo, hi, n * (hi - lo), self.interval)
        self.pods_folded = cut
        holding = max((i for i, (t, _) in enumerate(changes) if t <= cut), default=0)
        del changes[:holding]

    # --- reading --------------------------------------------------------------------
    def matrix(self, nodes: Sequence[str], interval: float, end: float, steps: int) -> FloatArray:
        """Accesses per node and ``interval`` for the ``steps`` intervals before ``end``.

        Intervals older than the fine ring holds come from the coarse ring, each coarse
        interval spread evenly over the intervals it covers. NaN before a node's first
        sample and before the oldest coarse interval held.
        """
        out = np.full((len(nodes), steps), np.nan)
        edges = end - interval * np.arange(steps, -1, -1, dtype=np.float64)
        held = self.total.held_from()
        held_from = -math.inf if held is None else held * self.interval
        coarse = self.coarse.held_from()
        reach = held_from if coarse is None else min(held_from, coarse * self.coarse_interval)
        old = edges[1:] <= held_from
        rows = [row for row, node in enumerate(nodes) if node in self.since]
        if not rows:
            return out
        names = [nodes[row] for row in rows]
        values = self._ring_block(self.total, names, edges, self.interval)
        if old.any():
            rolled = self._ring_block(self.coarse, names, edges, self.coarse_interval)
            values[:, old] = rolled[:, old]
        for k, node in enumerate(names):
            for span in self.raw.get(node, ()):
                values[k] += _overlaps(span.start, span.end, edges) * span.total
        # Folded samples are spread over their whole stored interval: from its start.
        step = self.interval
        firsts = np.array([math.floor(self.since[n] / step) * step for n in names])
        known = edges[1:][None, :] > np.maximum(firsts, reach)[:, None]
        out[rows] = np.where(known, values, np.nan)
        return out

    def first_known(self) -> float | None:
        """Start of the oldest interval :meth:`matrix` can answer for any node (None: none)."""
        if not self.since:
            return None
        first = math.floor(min(self.since.values()) / self.interval) * self.interval
        held = self.total.held_from()
        coarse = self.coarse.held_from()
        reach = [-math.inf if held is None else held * self.interval]
        if coarse is not None:
            reach.append(coarse * self.coarse_interval)
        return max(first, min(reach))

    def fine_from(self) -> float | None:
        """Start of the oldest interval :meth:`matrix` reads at the interval's resolution.

        Older intervals come from the coarse ring, spread - unless its interval is the
        same (hourly intervals and longer): then it answers as finely and reaches
        further (None: nothing held).
        """
        held = self.total.held_from()
        if held is None:
            return None
        coarse = self.coarse.held_from()
        if coarse is not None and self.coarse_interval <= self.interval:
            return min(held * self.interval, coarse * self.coarse_interval)
        return held * self.interval

    def pod_matrix(
        self, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> FloatArray:
        """Consumer pods per node averaged over each of the ``steps`` intervals before ``end``.

        A count holds until the next change; before the first one there were no pods.
        """
        out = np.zeros((len(nodes), steps))
        if self.pods_folded is None:
            return out
        edges = end - interval * np.arange(steps, -1, -1, dtype=np.float64)
        times = np.array([max(t, self.pods_folded) for t, _ in self.pod_changes])
        knots = np.append(times, max(float(edges[-1]), float(times[-1])) + interval)
        seen = set(self.pods.rows) | {n for _, c in self.pod_changes for n in c}
        for row, node in enumerate(nodes):
            if node not in seen:
                continue
            counts = np.array([c.get(node, 0) for _, c in self.pod_changes], dtype=np.float64)
            cumulative = np.concatenate(([0.0], np.cumsum(counts * np.diff(knots))))
            recent = np.diff(np.interp(edges, knots, cumulative, left=0.0))
            out[row] = (self._ring_sums(self.pods, node, edges, self.interval) + recent) / interval
        return out

    @classmethod
    def _ring_block(
        cls, ring: IntervalRing, nodes: Sequence[str], edges: FloatArray, ring_interval: float
    ) -> FloatArray:
        """:meth:`_ring_sums` of every node of ``nodes``, one row each (one read when aligned)."""
        steps, interval = len(edges) - 1, float(edges[1] - edges[0]) if len(edges) > 1 else 0.0
        first = float(edges[0]) / ring_interval if steps else 0.0
        aligned = steps > 0 and abs(first - round(first)) < 1e-9
        if aligned and abs(interval - ring_interval) < 1e-9:
            return ring.block(nodes, round(first), steps)
        per = interval / ring_interval if steps else 0.0
        if aligned and per > 1 and abs(per - round(per)) < 1e-9:
            # whole ring intervals per step (a rate over 15 minutes of 10 s intervals):
            # the ring's own values summed, not its whole capacity interpolated per node
            k = round(per)
            fine = ring.block(nodes, round(first), steps * k)
            summed: FloatArray = fine.reshape(len(nodes), steps, k).sum(axis=2)
            return summed
        return np.array([cls._ring_sums(ring, n, edges, ring_interval) for n in nodes]).reshape(
            len(nodes), steps
        )

    @staticmethod
    def _ring_sums(
        ring: IntervalRing, node: str, edges: FloatArray, ring_interval: float
    ) -> FloatArray:
        """A ring's values (``ring_interval`` seconds each) summed into ``edges``' intervals."""
        steps, interval = len(edges) - 1, float(edges[1] - edges[0]) if len(edges) > 1 else 0.0
        if node not in ring.rows or ring.last is None or steps == 0:
            return np.zeros(steps)
        first = float(edges[0]) / ring_interval
        if abs(interval - ring_interval) < 1e-9 and abs(first - round(first)) < 1e-9:
            return ring.window(node, round(first), steps)
        start = ring.last - ring.capacity + 1
        knots = (start + np.arange(ring.capacity + 1)) * ring_interval
        cumulative = np.concatenate(([0.0], np.cumsum(ring.series(node))))
        return np.diff(np.interp(edges, knots, cumulative))

    def recent(self, since: float) -> tuple[float, float, float]:
        """(local, total, writes) in intervals and samples ending after ``since``."""
        local = total = writes = 0.0
        held = self.local.held_from()
        if held is not None and self.local.last is not None:
            first = max(held, math.floor(since / self.interval))
            count = self.local.last - first + 1
            if count > 0:  # every row of each ring at once (a node not held adds 0)
                local = self.local.total_of(first, count)
                total = self.total.total_of(first, count)
                writes = self.writes.total_of(first, count)
        for spans in self.raw.values():
            for span in spans:
                if span.end > since:
                    local, total, writes = (
                        local + span.local, total + span.total, writes + span.writes,
                    )  # fmt: skip
        return local, total, writes

    # --- snapshots ------------------------------------------------------------------
    def snapshot(self, keep: int | None = None) -> DemandSnapshot:
        """Everything held, the demand and pod rings cut to their newest ``keep`` intervals."""
        return DemandSnapshot(
            interval=self.interval,
            total=self.total.snapshot(keep),
            local=self.local.snapshot(),
            writes=self.writes.snapshot(),
            pods=self.pods.snapshot(keep),
            coarse=self.coarse.snapshot(),
            since=dict(self.since),
            covered=dict(self.covered),
            cursors=dict(self.cursors),
            raw={node: tuple(spans) for node, spans in self.raw.items() if spans},
            folded=self.folded,
            pod_changes=tuple((t, dict(c)) for t, c in self.pod_changes),
            pods_folded=self.pods_folded,
        )

    @classmethod
    def from_snapshot(cls, snapshot: DemandSnapshot) -> ResourceDemand:
        """A resource's demand as a snapshot left it."""
        demand = cls(snapshot.interval)
        demand.total.restore(snapshot.total)
        demand.local.restore(snapshot.local)
        demand.writes.restore(snapshot.writes)
        demand.pods.restore(snapshot.pods)
        demand.since = dict(snapshot.since)
        held = demand.total.held_from()
        if snapshot.coarse.last is None and held is not None:
            # Saved before the coarse ring: rebuilt from the fine one, older is unknown.
            resample(demand.total, demand.interval, demand.coarse, demand.coarse_interval)
            demand.since = {n: max(t, held * demand.interval) for n, t in demand.since.items()}
        else:
            demand.coarse.restore(snapshot.coarse)
            demand._known_from(_first_held(snapshot))  # a ring saved shorter than this one
        demand.covered = dict(snapshot.covered)
        demand.cursors = dict(snapshot.cursors)
        demand.raw = {node: list(spans) for node, spans in snapshot.raw.items()}
        demand.folded = snapshot.folded
        demand.pod_changes = [(t, dict(c)) for t, c in snapshot.pod_changes]
        demand.pods_folded = snapshot.pods_folded
        return demand

    def hold_for(self, window: int) -> None:
        """Hold the coarse ring for a forecast of ``window`` intervals (:func:`coarse_held`).

        A shorter ring keeps its newest intervals; a longer one knows nothing before what
        the shorter held: each node's first sample moves up to it (read as unknown, not
        idle).
        """
        keep = coarse_held(self.interval, window)
        old = self.coarse
        if keep == old.capacity:
            return
        held = old.held_from()
        if keep > old.capacity and held is not None:
            self._known_from(held * self.coarse_interval)
        self.coarse = CompactRing(keep, COARSE_FRESH)
        self.coarse.restore(old.snapshot())

    def _known_from(self, first: float | None) -> None:
        """Nothing is known before ``first``: each node's first sample moves up to it."""
        if first is not None:
            self.since = {node: max(t, first) for node, t in self.since.items()}

    def resampled(self, interval: float) -> ResourceDemand:
        """The same demand at another interval (each old interval spread evenly over the new)."""
        other = ResourceDemand(interval)
        for old, new in (
            (self.total, other.total), (self.local, other.local),
            (self.writes, other.writes), (self.pods, other.pods),
        ):  # fmt: skip
            resample(old, self.interval, new, interval)
        resample(self.coarse, self.coarse_interval, other.coarse, other.coarse_interval)
        # What was folded is spread over its old interval: known from that interval's start.
        other.since = {
            node: math.floor(t / self.interval) * self.interval for node, t in self.since.items()
        }
        coarse = self.coarse.held_from()  # the new rings may reach further back
        other._known_from(None if coarse is None else coarse * self.coarse_interval)
        other.covered = dict(self.covered)
        other.cursors = dict(self.cursors)
        other.raw = {node: list(spans) for node, spans in self.raw.items()}
        other.folded = self.folded  # the raw spans start at or after it
        other.pod_changes = [(t, dict(c)) for t, c in self.pod_changes]
        other.pods_folded = self.pods_folded
        newest = max([s.end for spans in self.raw.values() for s in spans] + [self.folded])
        if math.isfinite(newest):
            other._fold(newest)
        return other


def _first_held(snapshot: DemandSnapshot) -> float | None:
    """Start of the oldest interval a snapshot's demand rings hold (None: none held)."""
    firsts = [
        (ring.last - ring.values.shape[1] + 1) * seconds
        for ring, seconds in (
            (snapshot.total, snapshot.interval),
            (snapshot.coarse, coarse_interval(snapshot.interval)),
        )
        if ring.last is not None and ring.values.shape[1] > 0
    ]
    return min(firsts, default=None)


def _overlaps(start: float, end: float, edges: FloatArray) -> FloatArray:
    """Share of ``[start, end]`` inside each interval between ``edges`` (a point: where it is)."""
    lo, hi = edges[:-1], edges[1:]
    if end - start <= 1e-9:
        return ((start >= lo) & (start < hi)).astype(np.float64)
    overlap: FloatArray = np.maximum(np.minimum(hi, end) - np.maximum(lo, start), 0.0)
    return overlap / (end - start)
