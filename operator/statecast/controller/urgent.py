"""Spec changes reconciled at once, ahead of the workers' queue.

A resource whose spec changed (:func:`statecast.core.reconcile.due.spec_changed`) used
to be queued first for the eight reconcile workers: at 1,000 resources on a loaded
machine it waited for one of them to finish a reconcile (each a forecast and a few
writes to a slow API server), then brought its forecast up to date, then wrote: 4.55 s
p99 from the PATCH to its new Replica (docs/scale-history.md, session 7).

:class:`UrgentChanges` takes the changed resources out of that queue
(:meth:`Wakeups.claim <statecast.controller.wakeups.Wakeups.claim>`: one a worker is
reconciling now is queued first for the workers instead) and reconciles them in a
thread of its own, every change pending at once as one batch, the way a lapse's wave
is (``run_wave``, :func:`statecast.controller.wave.reconcile_wave`): planned on each
resource's last forecast if it still serves
(:func:`~statecast.core.reconcile.urgent.last_forecast_serves`), no worker starting a
reconcile meanwhile, the Replica creations sent first, ``writes`` at a time. Each is
queued again after it for a reconcile with its forecast up to date.

While the operator does not act (a peering standby) the changes go to the workers'
queue, first, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from statecast.api.types import Ref
from statecast.controller.wakeups import Wakeups

__all__ = ["UrgentChanges"]

log = logging.getLogger(__name__)


class UrgentChanges:
    """The spec-change lane (see the module doc).

    Args:
        wakeups: the workers' queue (claimed from, and the fallback).
        run_wave: reconciles resources together, sending their writes to the executor
            it is given.
        acting: whether the operator acts now.
        writes: requests in flight at once for a batch.
        batch: resources at most in one batch (more wait for the next).
    """

    def __init__(
        self,
        wakeups: Wakeups,
        run_wave: Callable[[list[Ref], Executor], None],
        *,
        acting: Callable[[], bool] = lambda: True,
        writes: int = 4,
        batch: int = 64,
    ) -> None:
        self.wakeups, self.run_wave, self.acting = wakeups, run_wave, acting
        self.batch = max(1, batch)
        self._cond = threading.Condition()
        self._pending: dict[Ref, float] = {}  # ref -> when its change came (insertion order)
        self._stopped = False
        self._writes = ThreadPoolExecutor(max(1, writes), thread_name_prefix="urgent-write")
        self._thread = threading.Thread(target=self._run, name="urgent-changes", daemon=True)

    def start(self) -> None:
        """Start the lane's thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop it (a batch under way finishes); what is pending goes to the workers."""
        with self._cond:
            self._stopped = True
            left = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        self.wakeups.wake(left, first=True)
        self._thread.join(timeout=5.0)
        self._writes.shutdown(wait=False)

    def changed(self, ref: Ref) -> None:
        """``ref``'s spec changed: reconcile it now (once, however often it changes)."""
        with self._cond:
            if self._stopped:
                self.wakeups.wake([ref], first=True)
                return
            self._pending.setdefault(ref, time.perf_counter())
            self._cond.notify_all()

    def pending(self) -> int:
        """Changes waiting for the lane."""
        with self._cond:
            return len(self._pending)

    def _take(self) -> list[Ref] | None:
        """The next batch, waiting for one; None once stopped."""
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            refs = list(self._pending)[: self.batch]
            for ref in refs:
                del self._pending[ref]
            return refs

    def _run(self) -> None:
        while (refs := self._take()) is not None:
            self.run_batch(refs)

    def run_batch(self, refs: list[Ref]) -> None:
        """Reconcile ``refs`` now as one batch (those a worker is reconciling: after it)."""
        if not self.acting():
            self.wakeups.wake(refs, first=True)
            return
        taken = self.wakeups.claim(refs)  # a running one is queued first for the workers
        if not taken:
            return
        started = time.perf_counter()
        try:
            self.run_wave(taken, self._writes)
        except Exception:
            log.exception("event=urgent-changes-failed resources=%d", len(taken))
            self.wakeups.wake(taken, first=True)
        finally:
            for ref in taken:
                self.wakeups.done(ref)
        for ref in taken:  # where a spec change's time goes (bench.change_anatomy)
            log.info(
                "event=spec-reconcile resource=%s/%s lane=urgent batch=%d run_s=%.3f",
                *ref, len(taken), time.perf_counter() - started,
            )  # fmt: skip
