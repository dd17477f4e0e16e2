"""How long the agent's event loop went without running: every request waits that long.

A timer is due every few milliseconds; how late it runs is how long the loop was busy
with something else (a long handler, a pass over the state, a thread holding the GIL).
Exported on ``/metrics`` as ``statecast_agent_event_loop_lag_seconds`` (a histogram of
the lateness of each tick) and ``statecast_agent_event_loop_lag_max_seconds`` (the
worst since start).

One cause is shortened here: a thread of the agent busy in Python (a full sync's answer
encoded, the Kubernetes client, a hand-off) keeps the interpreter lock for up to the
*switch interval* after the loop asks for it back, and the loop asks at every system
call it makes (5 ms each by default: several in one loop turn add up).
:func:`shorten_switch_interval` makes it 1 ms.
"""

from __future__ import annotations

import asyncio
import sys
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["SWITCH_INTERVAL", "LoopLag", "LoopLagCollector", "shorten_switch_interval"]

#: Seconds another thread may keep the interpreter lock once the event loop wants it.
#: Measured in one process at load ~19, a timer due every 5 ms while a thread encoded a
#: full sync of 1M keys: 60-159 ticks over 20 ms late at 5 ms, 15-18 at 1 ms.
SWITCH_INTERVAL = 0.001


def shorten_switch_interval() -> float:
    """Set the interpreter's switch interval to :data:`SWITCH_INTERVAL`; the one before."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    return before


#: Upper bounds of the histogram's buckets, in seconds.
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LoopLag:
    """Measures the lateness of a timer due every ``interval`` seconds.

    Args:
        interval: Seconds between ticks.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.max = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(loop.time() + self.interval, self._tick, loop.time())

    def stop(self) -> None:
        """Stop ticking."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def record(self, lag: float) -> None:
        """Count one tick that ran ``lag`` seconds late."""
        self.counts[bisect_left(BUCKETS, lag)] += 1
        self.total += lag
        self.max = max(self.max, lag)

    def _tick(self, scheduled: float) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = scheduled + self.interval
        self.record(max(0.0, now - due))
        self._handle = loop.call_at(now + self.interval, self._tick, now)


class LoopLagCollector(Collector):
    """Exports a :class:`LoopLag` to a Prometheus registry."""

    def __init__(self, lag: LoopLag) -> None:
        self._lag = lag

    def collect(self) -> Iterator[HistogramMetricFamily | GaugeMetricFamily]:
        """The histogram of tick lateness and the worst lateness."""
        lag = self._lag
        buckets = []
        cumulative = 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), lag.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "statecast_agent_event_loop_lag_seconds",
            "How late a timer due every few milliseconds ran: time the loop was busy",
            buckets=buckets,
            sum_value=lag.total,
        )
        yield GaugeMetricFamily(
            "statecast_agent_event_loop_lag_max_seconds",
            "The longest the event loop was busy (timer lateness) since start",
            value=lag.max,
        )
