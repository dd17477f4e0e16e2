"""Observed heat for ``replication.policy: reactive``, and when each replica was last hot.

The handlers ask :class:`HeatTracker` for a reactive resource's
:class:`~statecast.core.reactive.ObservedHeat` on every reconcile: its nodes' access
rates over the last :data:`HEAT_WINDOW_S` seconds, and the mean and standard deviation
over every active (resource, node) pair the demand history holds (whatever the
resources' policies, as Anna compares every key with every other). The cluster-wide
figures are computed once per sampling period (one pass over the history, the window's
sum per pair), shared by every resource's reconcile in that period. When each replica
was last hot is kept here, in memory, per operator process (like the forecaster's
state): a restarted operator gives each existing replica a fresh grace period.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from statecast.api.types import Ref
from statecast.controller.sampling import DemandSampler
from statecast.core.reactive import HeatStats, ObservedHeat

__all__ = ["HEAT_WINDOW_S", "K_SIGMA", "HeatTracker"]

#: Anna's window: each pair's rate is its accesses over the last 15 minutes.
HEAT_WINDOW_S = 900.0
#: A pair more than this many standard deviations above the mean is hot.
K_SIGMA = 1.0


@dataclass(frozen=True)
class _ClusterHeat:
    """Every resource's rates and their statistics, for one window end."""

    end: float
    rates: dict[Ref, dict[str, float]]
    stats: HeatStats


class HeatTracker:
    """Heat per resource from a :class:`DemandSampler`, and the replicas' last hot times.

    Args:
        sampler: where the demand history is.
        window_s: seconds each rate is taken over.
        k_sigma: deviations above the mean that make a pair hot.
    """

    def __init__(
        self, sampler: DemandSampler, window_s: float = HEAT_WINDOW_S, k_sigma: float = K_SIGMA
    ) -> None:
        self.sampler, self.window_s, self.k_sigma = sampler, window_s, k_sigma
        self._lock = threading.Lock()
        # one reconcile computes a period's figures, the others wait for them: every
        # worker that came in before the first had finished computed them all again
        # (1,000 resources' rates each; session 13's profile at 1,000 x 50: 20-28 %)
        self._computing = threading.Lock()
        self._cluster: dict[float, _ClusterHeat] = {}  # per window, the latest end
        self._last_hot: dict[Ref, dict[str, float]] = {}

    def heat(
        self,
        ref: Ref,
        now: dt.datetime,
        window_s: float | None = None,
        k_sigma: float | None = None,
    ) -> ObservedHeat | None:
        """``ref``'s heat over the window before the last sampling round (None: no window yet).

        ``window_s`` and ``k_sigma``: the resource's own (``replication.heat``; None: the
        tracker's). The cluster's statistics are over every pair's rate at that window,
        computed once per sampling period for each window some resource asks for.
        None while no agent has been read lately or ``ref``'s history is younger than the
        window: the plain spread holds meanwhile.
        """
        window = self.window_s if window_s is None else window_s
        k = self.k_sigma if k_sigma is None else k_sigma
        covered = self.sampler.covered_until(now.timestamp())
        since = self.sampler.sampled_since()
        period = max(self.sampler.period, 1e-3)
        if covered is None or since is None or covered - since < period:
            return None  # no reading of this operator's own since the history was loaded
        end = math.floor(min(covered, now.timestamp()) / period) * period
        with self._lock:
            cluster = self._cluster.get(window)
        if cluster is None or cluster.end != end:
            cluster = self._computed(window, end)
        if ref not in cluster.rates:
            return None
        return ObservedHeat(cluster.rates[ref], cluster.stats, window, k)

    def _computed(self, window: float, end: float) -> _ClusterHeat:
        """The cluster-wide figures for ``window`` ending at ``end``, computed once."""
        with self._computing:
            with self._lock:
                cluster = self._cluster.get(window)
            if cluster is not None and cluster.end == end:
                return cluster  # another reconcile computed them meanwhile
            rates = self.sampler.rates(window, end)
            stats = HeatStats.of(r for per in rates.values() for r in per.values())
            cluster = _ClusterHeat(end, rates, stats)
            with self._lock:
                # a window no resource asked for in this period is dropped with its figures
                self._cluster = {
                    w: c for w, c in self._cluster.items() if c.end == end and w != window
                }
                self._cluster[window] = cluster
            return cluster

    def last_hot(self, ref: Ref) -> dict[str, float]:
        """Node -> when ``ref``'s pair there was last hot (or its replica first seen)."""
        with self._lock:
            return dict(self._last_hot.get(ref, {}))

    def remember(self, ref: Ref, last_hot: Mapping[str, float]) -> None:
        """Keep what the last reactive decision for ``ref`` said."""
        with self._lock:
            self._last_hot[ref] = dict(last_hot)

    def forget(self, ref: Ref) -> None:
        """Drop what is kept for ``ref`` (deleted, or no longer reactive)."""
        with self._lock:
            self._last_hot.pop(ref, None)
