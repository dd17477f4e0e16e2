"""Running the woken reconciles: worker threads, the safety resyncs, the Lease watch.

:class:`WokenReconciles` takes resources from :class:`~statecast.controller.wakeups.Wakeups`
and reconciles them in a few threads (off kopf's event loop), queues every resource's
safety resync once per ``resync_period`` (each at its own offset), and wakes the
resources with a copy on a node whose agent's Lease expired or came back (the Leases
are listed once per ``lease_period``). All of it runs only while the operator acts
(``acting``: kopf has not paused it, :mod:`statecast.controller.kopf_pause`), so a
peering standby does not act.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from statecast.api.types import Ref
from statecast.controller.services import AgentLiveness
from statecast.controller.wakeups import Wakeups

__all__ = ["WokenReconciles"]

log = logging.getLogger(__name__)


class WokenReconciles:
    """Worker threads for woken resources, and the Lease watch (see the module doc).

    Args:
        wakeups: the queue.
        liveness: the agents' Leases.
        run: reconciles one resource (its body read where the caller keeps it).
        acting: whether the operator acts now (default: always).
        resync_period: seconds between two safety resyncs of a resource (None: none).
        threads: worker threads.
        lease_period: seconds between two looks at the agents' Leases.
        clock: monotonic seconds (a test seam).
    """

    def __init__(
        self,
        wakeups: Wakeups,
        liveness: AgentLiveness,
        run: Callable[[Ref], None],
        *,
        acting: Callable[[], bool] = lambda: True,
        resync_period: float | None = None,
        threads: int = 2,
        lease_period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wakeups, self.liveness, self.run = wakeups, liveness, run
        self.acting, self.lease_period = acting, lease_period
        self.resync_period, self.clock = resync_period, clock
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"reconcile-{i}", daemon=True)
            for i in range(threads)
        ]
        self._threads.append(threading.Thread(target=self._watch_leases, daemon=True))
        if resync_period is not None:
            self._threads.append(threading.Thread(target=self._resyncs, daemon=True))
        self._down: frozenset[str] = frozenset()
        self.context: contextvars.Context | None = None
        """The context kopf handles resources in (its Event queue), once one was seen."""

    def start(self) -> None:
        """Start the workers and the Lease watch."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop them (each finishes the reconcile it is in)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5.0)

    def _work(self) -> None:
        while not self._stop.is_set():
            ref = self.wakeups.next(timeout=0.5)
            if ref is None:
                continue
            try:
                if self.acting():
                    self.run(ref)
            except Exception:
                log.exception("event=woken-reconcile-failed resource=%s/%s", *ref)
            finally:
                self.wakeups.done(ref)

    def _watch_leases(self) -> None:
        while not self._stop.wait(self.lease_period):
            if not self.acting():
                continue
            down = self.liveness.down(dt.datetime.now(dt.UTC))
            for node in down ^ self._down:
                log.info("event=agent-%s node=%s", "down" if node in down else "up", node)
                self.wakeups.wake_holders(node)
            self._down = down

    def _resyncs(self) -> None:
        """Queue the safety resyncs as they fall due (none while not acting)."""
        assert self.resync_period is not None
        tick = min(1.0, self.resync_period / 10)
        since = self.clock()
        while not self._stop.wait(tick):
            now = self.clock()
            if self.acting():
                self.wakeups.resync_round(since, now, self.resync_period)
            since = now
