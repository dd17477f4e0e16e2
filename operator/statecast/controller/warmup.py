"""The operator's warm-up: build at start what it would build on first use anyway.

:class:`WarmUp` runs each step (the gateway's core API client:
:meth:`~statecast.controller.gateway.KubeGateway.warm_up_steps`) once, in a daemon thread,
when :func:`statecast.core.warmup.warm_up_due` says so: the operator has been ready (kopf
has listed its inputs, or it stands by) with nothing to reconcile for
:data:`~statecast.core.warmup.QUIET_S` (its first pass is over), at the latest
:data:`~statecast.core.warmup.LONGEST_WAIT_S` after the start. The start-up path (imports,
kopf's lists, the first reconciles) does not wait for it; the steady state's memory is
there a few seconds after the first pass rather than minutes later, and a standby that
takes over does not pay for the import then. It logs ``event=warm-up-done`` (the soak
starts measuring after that line). A step that fails is logged: what it would have built
is built on first use, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from statecast.controller.daemon import Daemon
from statecast.core.warmup import LONGEST_WAIT_S, QUIET_S, warm_up_due

__all__ = ["WarmUp"]

log = logging.getLogger(__name__)


class WarmUp(Daemon):
    """Runs ``steps`` once, in a daemon thread, when the operator is ready and idle.

    Args:
        steps: name -> what to build (its result is dropped; the builder keeps it).
        ready: whether the operator stands by (kopf paused it for a peer); :meth:`ready`
            marks the acting operator ready.
        busy: whether the first pass is under way (:meth:`Wakeups.busy`).
        quiet: seconds the operator must have been ready and not busy, without a break.
        longest: seconds after :meth:`start` when the steps run, ready or not.
        poll: seconds between two looks.
        clock: monotonic seconds (a test seam).
    """

    def __init__(
        self,
        steps: Mapping[str, Callable[[], object]],
        *,
        ready: Callable[[], bool] = lambda: False,
        busy: Callable[[], bool] = lambda: False,
        quiet: float = QUIET_S,
        longest: float = LONGEST_WAIT_S,
        poll: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.steps = dict(steps)
        self._standing_by, self._busy = ready, busy
        self.quiet, self.longest, self.poll, self.clock = quiet, longest, poll, clock
        super().__init__("warm-up")
        self._ready = threading.Event()
        self.done = threading.Event()
        """Set once every step has run (or failed)."""
        self.took: dict[str, float] = {}
        """Seconds each step took (a failed one is left out)."""

    def ready(self) -> None:
        """The operator is ready to act (kopf's indexes are populated)."""
        self._ready.set()

    def _idle(self) -> bool:
        ready = self._ready.is_set() or self._standing_by()
        return ready and not self._busy()

    def run(self) -> None:
        """Wait until the operator is ready and idle (or the longest wait), then build."""
        started = self.clock()
        idle_since: float | None = None
        while True:
            now = self.clock()
            idle_since = (now if idle_since is None else idle_since) if self._idle() else None
            idle_s = None if idle_since is None else now - idle_since
            if warm_up_due(
                idle_s=idle_s, since_start=now - started, quiet=self.quiet, longest=self.longest
            ):
                break
            if self.wait_stopping(self.poll):
                return
        began = self.clock()
        for name, step in self.steps.items():
            at = self.clock()
            try:
                step()
            except Exception as err:  # noqa: BLE001 - built on first use instead
                log.warning("event=warm-up-step-failed step=%s error=%s", name, err)
                continue
            self.took[name] = round(self.clock() - at, 3)
        self.done.set()
        log.info(
            "event=warm-up-done after_s=%.1f took_s=%.3f steps=%s",
            self.clock() - started,
            self.clock() - began,
            ",".join(f"{name}:{took}" for name, took in self.took.items()) or "none",
        )
