"""Running the woken reconciles: worker threads, the safety resyncs, the Lease watch.

:class:`WokenReconciles` takes resources from :class:`~statecast.controller.wakeups.Wakeups`
and reconciles them in a few threads (off kopf's event loop), queues every resource's
safety resync once per ``resync_period`` (each at its own offset), and wakes the
resources with a copy on a node whose agent's Lease lapsed or came back.

The Leases are looked at once per ``lease_period``, and also exactly when the next
one still alive would lapse (:func:`~statecast.core.reconcile.lapse.next_lapse`), not
up to a period later. A lapse's resources (:meth:`Wakeups.lapse`) go two ways: those
it leaves short are reconciled at once as one wave (``run_wave``: planned together,
their writes sent ``wave_writes`` at a time; :mod:`statecast.controller.wave`), in a
thread of their own, and the others are queued ahead of the safety resyncs for the
workers. All of it runs only while the operator acts
(``acting``: kopf has not paused it, :mod:`statecast.controller.kopf_pause`), so a
peering standby does not act.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Executor, ThreadPoolExecutor

from statecast.api.types import Ref
from statecast.controller.services import AgentLiveness
from statecast.controller.wakeups import Wakeups
from statecast.core.reconcile.lapse import next_lapse, overdue_by
from statecast.core.reconcile.views import agents_down

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
        lease_period: seconds between two looks at the agents' Leases (at most).
        clock: monotonic seconds (a test seam).
        run_wave: reconciles a lapse's urgent resources together, sending its writes
            to the executor it is given (None: they are queued first, for the workers).
        wave_writes: requests a wave has in flight at once.
        wall: this operator's wall clock, as a datetime (a test seam).
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
        run_wave: Callable[[list[Ref], Executor], None] | None = None,
        wave_writes: int = 16,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.wakeups, self.liveness, self.run = wakeups, liveness, run
        self.run_wave, self.wall = run_wave, wall
        self._waves = ThreadPoolExecutor(1, thread_name_prefix="lapse-wave")
        self._wave_writes = ThreadPoolExecutor(max(1, wave_writes), thread_name_prefix="wave-write")
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
        self._waves.shutdown(wait=False, cancel_futures=True)
        self._wave_writes.shutdown(wait=False)

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
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                wait = self.look_at_leases()
            except Exception:  # the thread must outlive a surprise, or lapses go unseen
                log.exception("event=lease-look-failed")
                wait = self.lease_period

    def look_at_leases(self) -> float:
        """One look at the agents' Leases: handle the lapses and returns since the last.

        Returns:
            Seconds until the next look: a period, or until the next lapse if sooner.
        """
        if not self.acting():
            return self.lease_period
        now = self.wall()
        leases = self.liveness.current()
        down = agents_down(leases, now)
        lapsed, back = down - self._down, self._down - down
        overdue = {lease.node: overdue_by(lease, now) for lease in leases if lease.node in lapsed}
        if lapsed:  # confirmed by a list made now before anything is done
            down = self.liveness.down_confirmed(now)
            lapsed, back, leases = down - self._down, self._down - down, self.liveness.current()
        for node in sorted(lapsed | back):
            if node in down:  # how late the lapse was noticed, and confirmed by the list
                log.info(
                    "event=agent-down node=%s noticed-after=%.3f confirmed-after=%.3f",
                    node, overdue.get(node, 0.0), overdue.get(node, 0.0) + _since(now, self.wall()),
                )  # fmt: skip
            else:
                log.info("event=agent-up node=%s", node)
        if lapsed:
            self._lapse(lapsed, down)
        for node in sorted(back):
            self.wakeups.wake_holders(node)
        self._down = down
        upcoming = next_lapse(leases, now)
        # a hair after the lapse: a Lease lapses once it is *older* than its duration
        return self.lease_period if upcoming is None else min(self.lease_period, upcoming + 0.01)

    def _lapse(self, lapsed: Collection[str], down: Collection[str]) -> None:
        """Reconcile the resources ``lapsed`` leaves short as a wave; queue the others."""
        wave = self.wakeups.lapse(lapsed, down)
        log.info(
            "event=agent-lapse nodes=%s urgent=%d rest=%d",
            ",".join(sorted(lapsed)), len(wave.urgent), len(wave.rest),
        )  # fmt: skip
        if self.run_wave is None:
            self.wakeups.wake(wave.urgent, first=True)
        else:
            taken = self.wakeups.claim(wave.urgent)
            self._waves.submit(self._run_wave, taken)
        self.wakeups.wake(wave.rest)

    def _run_wave(self, refs: list[Ref]) -> None:
        assert self.run_wave is not None
        try:
            if self.acting():
                self.run_wave(refs, self._wave_writes)
            else:  # paused meanwhile: the workers take them when it acts again
                self.wakeups.wake(refs, first=True)
        except Exception:
            log.exception("event=lapse-wave-failed resources=%d", len(refs))
            self.wakeups.wake(refs, first=True)
        finally:
            for ref in refs:
                self.wakeups.done(ref)

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


def _since(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds()
