"""Sampling the agents' access counters into the operator's demand history.

Every ``period`` seconds a background thread reads the counters of every agent whose
Lease is fresh through a :class:`CounterReader`: by default :class:`StatsReader`, which
asks each agent's ``GET /v1/stats`` (its URL is the Lease's ``statecast.io/endpoint``
annotation); with ``--metrics-source prometheus`` the
:class:`~statecast.controller.prometheus_source.PrometheusReader`, which reads the same
counters from a Prometheus that scrapes the agents' ``/metrics``. The sampler
turns each agent's counters into the accesses made since the previous sample
(:func:`statecast.core.demand.step`) and adds them to a :class:`DemandHistory`. The
reconcile reads the history (for ``status.localHitRatio``, the forecasts and the heat of
reactive resources), and
records into it the consumer pods per node it sees (:meth:`DemandSampler.record_pods`).
An agent that does not answer is skipped for that round and logged. Rounds happen only
while ``active()`` says so (the operator acting, not a peering standby); the history is
in memory, saved and restored by :mod:`statecast.controller.history_keeper`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt

from statecast.api.types import Ref
from statecast.controller.agent_link import AgentLink
from statecast.controller.periodic import Periodic
from statecast.core.demand import AgentSample, DemandHistory, step
from statecast.core.demand_series import DemandSnapshot
from statecast.core.latency import RoundTrip
from statecast.core.reconcile.views import AgentLease, agent_sample

__all__ = ["CounterReader", "DemandSampler", "StatsReader"]

log = logging.getLogger(__name__)
#: A sample stamped further ahead of the operator's clock than this is ignored.
_MAX_CLOCK_AHEAD_S = 60.0


class CounterReader(Protocol):
    """Where the agents' cumulative access counters are read from."""

    def read(self, agents: Sequence[AgentLease]) -> dict[str, AgentSample | None]:
        """Each agent's counters now, by node (None: that agent could not be read)."""
        ...


class StatsReader:
    """Reads each agent's ``GET /v1/stats`` over HTTP, eight agents at a time.

    Args:
        timeout: Seconds to wait for one agent's answer.
        link: How agents are called (plain HTTP, or mutual TLS).
    """

    def __init__(self, timeout: float = 2.0, link: AgentLink | None = None) -> None:
        self.timeout = timeout
        self.link = link or AgentLink()

    def read(self, agents: Sequence[AgentLease]) -> dict[str, AgentSample | None]:
        """Ask every agent (see :class:`CounterReader`)."""
        client = httpx.Client(timeout=self.timeout, verify=self.link.verify())
        with client, ThreadPoolExecutor(8) as pool:
            samples = list(pool.map(lambda agent: self._read(client, agent), agents))
        return {agent.node: sample for agent, sample in zip(agents, samples, strict=True)}

    def _read(self, client: httpx.Client, agent: AgentLease) -> AgentSample | None:
        try:
            url = self.link.url(agent)
            if not url:
                raise ValueError("no mutual-TLS endpoint advertised yet")
            reply = client.get(
                f"{url.rstrip('/')}/v1/stats", extensions=self.link.extensions(agent.node)
            )
            reply.raise_for_status()
            sample = agent_sample(reply.json(), agent.node)
        except (httpx.HTTPError, ValueError) as err:
            log.info("event=agent-sample-failed node=%s error=%s", agent.node, err)
            return None
        log.debug("event=agent-sampled node=%s", agent.node)
        return sample


class DemandSampler:
    """Reads the agents' counters into a demand history, thread-safely.

    Args:
        leases: Returns the agents' Leases (called once per round).
        period: Seconds between rounds.
        timeout: Seconds to wait for one agent's answer (of the default reader).
        active: Whether to sample now (default: always).
        counted: Called with (node, outcome) for each reading: ``ok``, ``failed`` (no
            answer, or a malformed one) or ``ignored`` (its clock runs ahead).
        reader: Where the counters come from (default: a :class:`StatsReader`).
        link: How the default reader calls agents (plain HTTP, or mutual TLS).
    """

    def __init__(
        self,
        leases: Callable[[], Iterable[AgentLease]],
        period: float = 10.0,
        timeout: float = 2.0,
        active: Callable[[], bool] = lambda: True,
        counted: Callable[[str, str], None] = lambda node, outcome: None,
        reader: CounterReader | None = None,
        link: AgentLink | None = None,
    ) -> None:
        self.leases, self.period, self.timeout = leases, period, timeout
        self.active, self.counted = active, counted
        self.reader: CounterReader = reader if reader is not None else StatsReader(timeout, link)
        self._gap: dict[str, float] = {}  # node -> seconds between its readings (usually)
        self._gap_last: dict[str, float] = {}  # node -> seconds before its last reading
        self._history = DemandHistory()
        self._last: dict[str, AgentSample] = {}
        self._resets = 0
        self._restores = 0
        self._restored: dict[Ref, int] = {}  # ref -> the restore that loaded it
        self._since: float | None = None  # the first reading since start (or reset)
        self._node_rates: dict[str, float] = {}  # node -> accesses/s between its last two
        # _lock: the sampler's own state and the history object; each resource's history
        # has a lock of its own, so that a long read of one (a forecast rebuild reads days
        # of it) does not hold up the reconciles and the recording of every other.
        self._lock = threading.Lock()
        self._ref_locks: dict[Ref, threading.Lock] = {}
        self._loop = Periodic(
            "demand-sampler",
            period,
            self.sample_once,
            failed_event="agent-sampling-failed",
            join_timeout=period + timeout * 2,
        )

    def _locked(self, ref: Ref) -> threading.Lock:
        """The lock of ``ref``'s history."""
        lock = self._ref_locks.get(ref)
        if lock is None:
            with self._lock:
                lock = self._ref_locks.setdefault(ref, threading.Lock())
        return lock

    # --- reading ------------------------------------------------------------------
    def local_hit_ratio(self, ref: Ref, window: float, now: float) -> float | None:
        """Share of ``ref``'s accesses served locally over the last ``window`` seconds."""
        with self._locked(ref):
            return self._history.local_hit_ratio(ref, now - window)

    def matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Accesses per node and interval (see :meth:`DemandHistory.matrix`)."""
        with self._locked(ref):
            return self._history.matrix(ref, nodes, interval, end, steps)

    def pod_matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Consumer pods per node and interval (see :meth:`DemandHistory.pod_matrix`)."""
        with self._locked(ref):
            return self._history.pod_matrix(ref, nodes, interval, end, steps)

    def first_known(self, ref: Ref) -> float | None:
        """Start of the oldest interval ``ref``'s history knows (None: nothing yet)."""
        with self._locked(ref):
            return self._history.first_known(ref)

    def fine_from(self, ref: Ref) -> float | None:
        """Start of the oldest interval ``ref``'s history holds at its own interval."""
        with self._locked(ref):
            return self._history.fine_from(ref)

    def nodes_of(self, ref: Ref) -> frozenset[str]:
        """The nodes ``ref`` has demand or consumer pods on in its history."""
        with self._locked(ref):
            return self._history.nodes_of(ref)

    def record_pods(self, ref: Ref, pods: Mapping[str, int], now: float) -> None:
        """Record ``ref``'s consumer pods per node as seen at ``now``."""
        with self._locked(ref):
            self._history.add_pods(ref, now, pods)

    def forget(self, ref: Ref) -> None:
        """Drop the demand history of a deleted resource."""
        with self._locked(ref), self._lock:
            self._history.drop(ref)
            self._restored.pop(ref, None)
            self._ref_locks.pop(ref, None)

    def set_interval(self, ref: Ref, interval: float, window: int | None = None) -> None:
        """Aggregate ``ref``'s history per ``interval`` seconds (its ``prediction.interval``).

        ``window``: the intervals its forecast reads; its coarse ring holds that far back.
        """
        with self._locked(ref):
            self._history.set_interval(ref, interval, window)

    def snapshot(self, ref: Ref) -> DemandSnapshot | None:
        """What the history holds for ``ref`` (None: nothing)."""
        with self._locked(ref):
            return self._history.snapshot(ref)

    def restore(self, ref: Ref, snapshot: DemandSnapshot) -> None:
        """Replace ``ref``'s history by a saved one."""
        with self._locked(ref), self._lock:
            self._history.restore(ref, snapshot)
            self._restores += 1
            self._restored[ref] = self._restores

    def generation(self, ref: Ref) -> tuple[int, int]:
        """Changes whenever ``ref``'s history is replaced (restored from its save, or reset).

        Whatever was derived from the history before (a fitted forecast) is stale then.
        """
        with self._lock:
            return self._resets, self._restored.get(ref, 0)

    def reset(self) -> None:
        """Drop every history and every agent's last reading (another operator acted since)."""
        with self._lock:
            self._history = DemandHistory()
            self._last.clear()
            self._gap.clear()
            self._gap_last.clear()
            self._resets += 1
            self._since = None

    def node_rates(self) -> dict[str, float]:
        """Node -> accesses per second its agent served between its last two readings."""
        with self._lock:
            return dict(self._node_rates)

    def round_trips(self, now: float) -> list[RoundTrip]:
        """The round-trip times the agents read lately reported to their peers.

        "Lately" as in :meth:`covered_until`: an agent not read for three periods (or
        three of its gaps) is left out, with what it measured.
        """
        with self._lock:
            recent = self._read_lately(now)
        return [RoundTrip(s.node, peer, rtt) for s in recent for peer, rtt in s.rtts.items()]

    def sampled_since(self) -> float | None:
        """When this operator first read the agents since it started acting (None: not yet).

        History older than that was loaded (saved by this operator before a restart, or
        by the peer that acted meanwhile), not sampled; decisions wait until this
        operator's own readings cover what they look at.
        """
        with self._lock:
            return self._since

    def covered_until(self, now: float) -> float | None:
        """Until when every agent sampled lately has been read (None: none has).

        An interval ending later than this is not complete in the history yet. "Lately"
        is three periods, or three of the agent's gaps between readings where they are
        longer (a Prometheus that scrapes less often than the sampler reads).
        """
        with self._lock:
            recent = [s.time for s in self._read_lately(now)]
        return min(recent) if recent else None

    def _read_lately(self, now: float) -> list[AgentSample]:
        """The last readings of the agents read within three periods (or three of their gaps)."""
        return [
            s
            for node, s in self._last.items()
            if s.time > now - 3 * max(self.period, self._gap.get(node, 0.0))
        ]

    def rates(self, window: float, end: float) -> dict[Ref, dict[str, float]]:
        """Every resource's accesses per second per node (see :meth:`DemandHistory.rates`)."""
        history, out = self._history, {}
        for ref in history.refs():
            with self._locked(ref):
                rates = history.rates_of(ref, window, end)
            if rates is not None:
                out[ref] = rates
        return out

    def writes_per_minute(self, ref: Ref, window: float, now: float) -> float:
        """Recent writes to ``ref`` per minute, from every node."""
        with self._locked(ref):
            return self._history.writes_per_minute(ref, now - window, now)

    # --- sampling -----------------------------------------------------------------
    def sample_once(self) -> int:
        """One round over the live agents; return how many answered (0 while inactive)."""
        if not self.active():
            return 0
        now = dt.datetime.now(dt.UTC)
        live = [a for a in self.leases() if a.endpoint and not a.expired(now)]
        if not live:
            return 0
        samples = self.reader.read(live)
        for node, sample in samples.items():
            if sample is None:
                self.counted(node, "failed")
        answered = [s for s in samples.values() if s is not None and self._plausible(s, now)]
        for sample in answered:
            self.record(sample)
            self.counted(sample.node, "ok")
        return len(answered)

    def record(self, sample: AgentSample) -> None:
        """Add one agent's reading: the accesses since its previous one go to the history.

        A reading no newer than the last one of the same agent run adds nothing (a
        Prometheus that has not scraped the agent again answers the same scrape).
        """
        with self._lock:
            last = self._last.get(sample.node)
            if last is not None and last.started_at == sample.started_at:
                if sample.time <= last.time:
                    return
                gap = sample.time - last.time  # the shorter of its last two: an outage
                self._gap[sample.node] = min(gap, self._gap_last.get(sample.node, gap))
                self._gap_last[sample.node] = gap  # does not make a dead agent count long
            if self._since is None:
                self._since = sample.time
            if last is not None and last.started_at == sample.started_at:
                seconds = sample.time - last.time
                accesses = sum(sample.counts.values()) - sum(last.counts.values())
                if seconds > 0 and accesses >= 0:
                    self._node_rates[sample.node] = accesses / seconds
            self._last[sample.node] = sample
            history = self._history
        # One resource at a time; those being read (a forecast rebuild) come last.
        busy = []
        for ref, demand_step in step(last, sample).items():
            lock = self._locked(ref)
            if not lock.acquire(blocking=False):
                busy.append((ref, demand_step))
                continue
            try:
                history.add_step(ref, demand_step, sample)
            finally:
                lock.release()
        for ref, demand_step in busy:
            with self._locked(ref):
                history.add_step(ref, demand_step, sample)

    def _plausible(self, sample: AgentSample, now: dt.datetime) -> bool:
        """Whether a sample's time can be true (not ahead of the operator's clock).

        A sample from an agent whose clock runs ahead would move the history's intervals
        forward and clear the days before them.
        """
        ahead = sample.time - now.timestamp()
        if ahead > _MAX_CLOCK_AHEAD_S:
            log.warning(
                "event=agent-sample-ignored node=%s reason=clock-ahead seconds=%.0f",
                sample.node, ahead,
            )  # fmt: skip
            self.counted(sample.node, "ignored")
            return False
        return True

    # --- background thread ----------------------------------------------------------
    def start(self) -> None:
        """Sample every ``period`` seconds in a daemon thread until :meth:`stop`."""
        self._loop.start()

    def stop(self) -> None:
        """Stop the thread (waits for the round in progress)."""
        self._loop.stop()
