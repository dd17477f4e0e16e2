"""Failovers of strong resources from every operator process, whether kopf lets it act or not.

kopf's peering lets one operator pod act; a standby stays paused until the acting pod's
record in the peering lapses (``--peering-lifetime``, 10 s), then restarts its watches,
indexes and timers. A strong resource whose leader is lost while the acting pod dies
(one node failure can take both, and the chaos scenario ``operator-kill-failover`` kills
the acting pod around the leader's Lease expiry) waited for that hand-over: 34.5 s at
the median from the leader's kill, against a target of two agent Lease durations plus a
second.

An election does not need kopf's exclusivity: the epoch is reserved and the leader
recorded by compare-and-swap on the resource's status, so of two pods electing at once
one fails its first write and stops (:mod:`statecast.controller.strong`). So every
operator process runs :class:`StandbyElections`, a thread that, while this process's
kopf does not act (kopf's peering paused it, and its ``strong_leader`` timer has not run
here in the last 3 s: :func:`~statecast.core.reconcile.strong.standby_looks`),

- lists the agents' Leases every second, so that its view of which agents renew is
  current when it is needed (a Lease first seen counts as renewed then: a standby that
  looked only after the hand-over would give a dead leader one more Lease duration);
- when an agent is down (and every ``sweep_every`` passes anyway, for an epoch reserved
  by a pod that died before it recorded a leader) lists the strong SharedResources, and
  for those whose leader's agent is down or whose epoch has no leader, their Replicas
  and the nodes, and carries out the ``failover`` election itself.

Everything else - the first election, membership steps, a leader cut off from a
majority, the Replica roles outside an election - stays with the acting pod's kopf
timer (``strong_leader``), which also elects: a failover that both reach is decided by
the compare-and-swap.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

import kopf

from statecast.controller.services import Services
from statecast.controller.strong import decide_and_carry_out
from statecast.core.reconcile.strong import standby_looks
from statecast.core.reconcile.views import NodeView, agents_down, node_view, replica_view

__all__ = ["FAILOVER", "StandbyElections", "StrongLister"]

log = logging.getLogger(__name__)

#: The elections a standby carries out: the leader is gone (or none was recorded).
FAILOVER = frozenset({"failover"})
#: kopf acts in this process while its strong timer ran within this many intervals.
KOPF_ACTS_WITHIN = 3


@runtime_checkable
class StrongLister(Protocol):
    """What a standby lists itself (it has no kopf indexes while kopf is paused)."""

    def strong_resources(self) -> list[dict[str, Any]]:
        """Every SharedResource with ``consistency: strong``."""
        ...

    def replicas_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The Replicas of one resource."""
        ...

    def nodes(self) -> list[dict[str, Any]]:
        """Every Node."""
        ...


def _needs_failover(status: dict[str, Any], down: frozenset[str]) -> bool:
    """A recorded configuration whose leader is gone or was never recorded."""
    if not status.get("voters"):
        return False  # no configuration yet: the first election is the acting pod's
    leader = status.get("leader")
    return not leader or leader in down


class StandbyElections:
    """Carries out leader failovers of strong resources while kopf here does not act.

    Args:
        services: the operator's services (gateway, liveness, activity, metrics).
        lister: where the resources, Replicas and nodes are listed.
        interval: seconds between passes.
        sweep_every: look at the resources every this many passes even with no agent
            down (an epoch reserved without a leader by a pod that died).
        now: the wall clock (a test seam).
        clock: the monotonic clock (a test seam).
        acting: whether kopf's peering lets this process act
            (:meth:`KopfPause.acting <statecast.controller.kopf_pause.KopfPause.acting>`;
            default: never said, the ``strong_leader`` timer alone tells).
    """

    def __init__(
        self,
        services: Services,
        lister: StrongLister,
        *,
        interval: float = 1.0,
        sweep_every: int = 10,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        clock: Callable[[], float] = time.monotonic,
        acting: Callable[[], bool] = lambda: False,
    ) -> None:
        self.services, self.lister, self.acting = services, lister, acting
        self.interval, self.sweep_every, self.now, self.clock = interval, sweep_every, now, clock
        self._passes = 0
        self._kopf_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kopf_pass(self) -> None:
        """Note that the ``strong_leader`` timer ran in this process: kopf acts here."""
        self._kopf_at = self.clock()

    def tick(self) -> list[tuple[str, str]]:
        """One pass; the resources it started an election for."""
        since = self.clock() - self._kopf_at
        if not standby_looks(self.acting(), since, self.interval, KOPF_ACTS_WITHIN):
            return []  # kopf acts in this process: its strong_leader timer elects
        leases = self.services.liveness.current()  # every pass: keeps the view current
        now = self.now()
        down = agents_down(leases, now)
        if down:  # as the acting operator's: a list at most a second old, not the watch
            down = self.services.liveness.down_confirmed(now, within=1.0)
        self._passes += 1
        if not down and self._passes % self.sweep_every:
            return []
        elected: list[tuple[str, str]] = []
        nodes: list[NodeView] | None = None
        for raw in self.lister.strong_resources():
            if not _needs_failover(raw.get("status") or {}, down):
                continue
            body = kopf.Body(cast(kopf.RawBody, raw))
            ref = (body.metadata.namespace or "", body.metadata.name or "")
            if nodes is None:
                nodes = [node_view(node) for node in self.lister.nodes()]
            replicas = [replica_view(r) for r in self.lister.replicas_of(*ref)]
            log.info("event=standby-failover resource=%s/%s down=%s", *ref, ",".join(down))
            if decide_and_carry_out(self.services, body, nodes, replicas, now, reasons=FAILOVER):
                elected.append(ref)
        return elected

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # one failed pass must not end the thread
                log.exception("event=standby-elections-failed")

    def start(self) -> None:
        """Run :meth:`tick` every ``interval`` seconds in a daemon thread.

        The thread runs in a copy of the caller's context, so that kopf's Event posting
        (its queue is a context variable of the operator) works from it.
        """
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="strong-standby", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits for a pass under way)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
