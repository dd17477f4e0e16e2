"""Which resources are due for a reconcile, and why: the operator's event-driven queue.

A resource is reconciled when something it depends on changed, not on a fast timer:
one of its Replicas changed (created, deleted, its agent reported), a node changed
(readiness, labels, taints), a consumer pod in its namespace appeared, moved or went,
an agent's Lease expired or came back (for the resources with a copy on that node).
:class:`Wakeups` collects those wake-ups; each resource is queued once however often it
is woken, and not reconciled again sooner than ``min_gap`` seconds after its last
reconcile (a burst of replica reports costs one reconcile, not one each). Every
resource is still reconciled now and then, as a safety net: once per resync period,
each at an offset of its own within it (:meth:`Wakeups.resync_round`,
:func:`statecast.core.reconcile.due.resync_due`), queued behind every woken one
(:meth:`Wakeups.resync`), so that a thousand safety resyncs never make a change wait;
they run in the same workers as woken reconciles, and write nothing unless something
changed.

:class:`Wakeups` also remembers which nodes hold a copy of which resource (from the
Replica events), so that a lost agent wakes exactly the resources it held, and which
resources each namespace has, so that a pod wakes the resources of its namespace.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator

from statecast.api.types import Ref
from statecast.core.reconcile.due import resync_due, resync_offset
from statecast.core.reconcile.lapse import Wave, lapse_wave

__all__ = ["Wakeups"]


class Wakeups:
    """Resources due for a reconcile, each once, oldest wake-up first (see the module doc).

    Args:
        min_gap: Seconds between two reconciles of one resource.
        clock: Monotonic seconds (a test seam).
    """

    def __init__(self, min_gap: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_gap, self.clock = min_gap, clock
        self._cond = threading.Condition()
        self._due: dict[Ref, float] = {}  # ref -> earliest time it may run (insertion order)
        self._resync: dict[Ref, float] = {}  # the same for safety resyncs (after _due)
        self._last: dict[Ref, float] = {}  # ref -> when its last reconcile started
        self._running: set[Ref] = set()
        self._known: dict[str, set[str]] = {}  # namespace -> resource names
        self._holders: dict[str, set[Ref]] = {}  # node -> resources with a copy there
        self._copies: dict[Ref, set[str]] = {}  # resource -> nodes with a copy
        self._locks: dict[Ref, threading.Lock] = {}
        self._seen: dict[object, object] = {}
        self._offsets: dict[Ref, float] = {}  # ref -> its resync offset, share of a period
        self._minimums: dict[Ref, int] = {}  # ref -> its replicas.min
        self._generations: dict[Ref, object] = {}  # ref -> latest metadata.generation seen
        self._uids: dict[Ref, object] = {}  # ref -> latest metadata.uid seen
        self._failures: dict[Ref, int] = {}  # ref -> reconciles failed in a row
        self._held = 0  # waves planning now: no worker starts a reconcile meanwhile
        self._planning = threading.BoundedSemaphore(8)  # workers planning at once
        self.woken = 0

    # --- what changed ------------------------------------------------------------------
    def changed(self, key: object, value: object) -> bool:
        """Whether ``value`` differs from the last one given for ``key`` (then kept)."""
        with self._cond:
            if key in self._seen and self._seen[key] == value:
                return False
            self._seen[key] = value
            return True

    # --- what exists ------------------------------------------------------------------
    def known(
        self, ref: Ref, minimum: int = 1, generation: object = None, uid: object = None
    ) -> None:
        """Note that resource ``ref`` exists, with ``minimum`` copies at least.

        ``generation``, ``uid``: its ``metadata.generation`` and ``metadata.uid`` in the
        event seen (None: not told).
        """
        with self._cond:
            self._minimums[ref] = minimum
            if generation is not None:
                self._generations[ref] = generation
            if uid is not None:
                self._uids[ref] = uid
            self._known.setdefault(ref[0], set()).add(ref[1])
            if ref not in self._offsets:
                self._offsets[ref] = resync_offset(f"{ref[0]}/{ref[1]}", 1.0)

    def generation(self, ref: Ref) -> object:
        """The latest ``metadata.generation`` seen for ``ref`` (None: none)."""
        with self._cond:
            return self._generations.get(ref)

    def uid(self, ref: Ref) -> object:
        """The latest ``metadata.uid`` seen for ``ref`` (None: none)."""
        with self._cond:
            return self._uids.get(ref)

    def replica(self, ref: Ref, node: str, present: bool) -> None:
        """Note that ``ref`` has (``present``) or no longer has a copy on ``node``."""
        with self._cond:
            holders = self._holders.setdefault(node, set())
            copies = self._copies.setdefault(ref, set())
            if present:
                holders.add(ref)
                copies.add(node)
            else:
                holders.discard(ref)
                copies.discard(node)

    def forget(self, ref: Ref) -> None:
        """Drop a deleted resource."""
        with self._cond:
            self._known.get(ref[0], set()).discard(ref[1])
            self._offsets.pop(ref, None)
            self._minimums.pop(ref, None)
            self._generations.pop(ref, None)
            self._uids.pop(ref, None)
            for holders in self._holders.values():
                holders.discard(ref)
            self._copies.pop(ref, None)
            self._due.pop(ref, None)
            self._resync.pop(ref, None)
            self._failures.pop(ref, None)
            self._last.pop(ref, None)
            self._locks.pop(ref, None)

    # --- waking -------------------------------------------------------------------------
    def wake(self, refs: Iterable[Ref], *, first: bool = False) -> None:
        """Queue ``refs`` (each once; a queued one keeps its place).

        One a failed reconcile's retry had waiting is due at once. ``first``: ahead of
        every resource queued already (a queued one moves up too), and due now even
        within ``min_gap`` of its last reconcile - the gap folds a burst of replica
        reports into one reconcile; a spec change or a copy left at risk is no burst
        (a spec change that came within a second of a resync waited out the second).
        """
        with self._cond:
            ahead: dict[Ref, float] = {}
            now = self.clock()
            for ref in refs:
                due = now if first else self._last.get(ref, float("-inf")) + self.min_gap
                if ref not in self._due:
                    self.woken += 1
                elif self._due[ref] <= due and not first:
                    continue
                if first:
                    ahead[ref] = min(due, self._due.pop(ref, due))
                else:
                    self._due[ref] = due  # new, or sooner than a failure's retry
            if ahead:
                self._due = {**ahead, **self._due}
            self._cond.notify_all()

    def resync(self, refs: Iterable[Ref]) -> None:
        """Queue safety resyncs of ``refs``: each once, after every woken resource."""
        with self._cond:
            for ref in refs:
                if ref not in self._due and ref not in self._resync:
                    self._resync[ref] = self._last.get(ref, float("-inf")) + self.min_gap
            self._cond.notify_all()

    def resync_round(self, since: float, now: float, period: float) -> int:
        """Queue the safety resyncs due in ``(since, now]`` (clock seconds); how many.

        Each known resource is resynced once per ``period``, at its own offset in it.
        """
        with self._cond:
            due = [
                ref
                for ref, share in self._offsets.items()
                if resync_due(share * period, since, now, period)
            ]
        self.resync(due)
        return len(due)

    def failed(self, ref: Ref, first: float = 2.0, longest: float = 60.0) -> float:
        """Queue ``ref`` again after a failed reconcile; return the delay in seconds.

        The delay doubles with each failure in a row (``first``, twice that, ... at most
        ``longest``); :meth:`succeeded` starts it over. Without this a reconcile that
        failed on a busy API server waited for the next change or safety resync.
        """
        with self._cond:
            count = self._failures.get(ref, 0)
            self._failures[ref] = count + 1
            delay = min(longest, first * 2.0**count)
            if ref not in self._due:  # one woken already keeps its (earlier) place
                self._due[ref] = self.clock() + delay
            self._cond.notify_all()
            return delay

    def later(self, ref: Ref, delay: float) -> None:
        """Queue ``ref`` to run ``delay`` seconds from now (one queued sooner keeps its place).

        For a reconcile that knows when its decision may change with nothing else
        happening (a copy's grace running out).
        """
        with self._cond:
            due = self.clock() + delay
            if ref in self._due and self._due[ref] <= due:
                return
            if ref not in self._due:
                self.woken += 1
            self._due[ref] = due
            self._cond.notify_all()

    def succeeded(self, ref: Ref) -> None:
        """``ref``'s reconcile succeeded: the next failure waits ``first`` again."""
        with self._cond:
            self._failures.pop(ref, None)

    def wake_holders(self, node: str) -> None:
        """Queue the resources with a copy on ``node`` (its agent went, or came back).

        Those the loss leaves at risk go first, ahead of every resource queued; the rest
        follow in the usual order, the fewest copies left first
        (:func:`~statecast.core.reconcile.lapse.lapse_wave`). A lapse the woken
        reconciles handle as a wave uses :meth:`lapse` instead.
        """
        wave = self.lapse([node], [node])
        self.wake(wave.urgent, first=True)
        self.wake(wave.rest)

    def lapse(self, lapsed: Collection[str], down: Collection[str]) -> Wave:
        """The resources affected by the Leases of ``lapsed`` nodes lapsing, urgent apart.

        ``down``: every node down now. Nothing is queued.

        At 1,000 resources a lost node woke ~400, and the few left short waited behind
        the rest for up to 90 s (each of the others a Lost mark to write).
        """
        with self._cond:
            holders = set().union(*(self._holders.get(n, set()) for n in lapsed))
            copies = {ref: set(self._copies.get(ref, set())) for ref in holders}
            minimums = {ref: self._minimums.get(ref, 1) for ref in holders}
        return lapse_wave(lapsed, down, copies, minimums)

    def claim(self, refs: Iterable[Ref]) -> list[Ref]:
        """Take ``refs`` to reconcile now, outside the queue (a lapse's urgent resources).

        Each is taken out of the queues and marked running (:meth:`done` ends it), with
        no regard for ``min_gap``: a copy lost a moment after a reconcile is replaced now.
        One that a worker is reconciling now is not taken: it is queued ahead of every
        other, to run again once that reconcile is done.

        Returns:
            The resources taken, in the order given.
        """
        with self._cond:
            now, taken, busy = self.clock(), [], []
            for ref in refs:
                if ref in self._running:
                    busy.append(ref)
                    continue
                self._due.pop(ref, None)
                self._resync.pop(ref, None)
                self._running.add(ref)
                self._last[ref] = now
                taken.append(ref)
        self.wake(busy, first=True)
        return taken

    def wake_namespace(self, namespace: str) -> None:
        """Queue every resource of ``namespace``."""
        with self._cond:
            refs = [(namespace, name) for name in self._known.get(namespace, ())]
        self.wake(refs)

    def wake_all(self) -> None:
        """Queue every known resource."""
        with self._cond:
            refs = [(ns, name) for ns, names in self._known.items() for name in names]
        self.wake(refs)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """No worker starts a reconcile while this is held (one under way goes on).

        A lapse's wave holds it while it plans: at 1,000 resources the eight workers'
        reconciles took the interpreter from the wave's plans, and its last creation
        went out 14 s after the lapse.
        """
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def plan_slots(self, slots: int) -> None:
        """Let at most ``slots`` reconciles plan at once (:meth:`planning`); set at start."""
        self._planning = threading.BoundedSemaphore(max(1, slots))

    def planning(self) -> threading.BoundedSemaphore:
        """Held by a worker's reconcile while it plans (observes and decides: CPU).

        Few slots leave the interpreter to kopf's event loop while workers rebuild
        forecasts (at 1,000 resources a spec change's event reached the operator up to
        1.7 s after the API server answered its PATCH); as many as the workers by
        default (:data:`statecast.controller.handlers.PLAN_SLOTS`). A lapse's wave and
        the spec-change lane plan without a slot.
        """
        return self._planning

    # --- running ------------------------------------------------------------------------
    def next(self, timeout: float) -> Ref | None:
        """The next resource due (marked running), waiting up to ``timeout`` s; None if none.

        Woken resources come first, then safety resyncs, each in the order queued. A
        resource another thread is reconciling, or reconciled less than ``min_gap``
        seconds ago, waits its turn; none is given out while a wave is :meth:`held`.
        """
        deadline = self.clock() + timeout
        with self._cond:
            while True:
                now = self.clock()
                ref = None
                if not self._held:
                    ref = self._ready(self._due, now) or self._ready(self._resync, now)
                if ref is not None:
                    self._due.pop(ref, None)
                    self._resync.pop(ref, None)
                    self._running.add(ref)
                    self._last[ref] = now
                    return ref
                waits = [
                    at - now
                    for queue in (self._due, self._resync)
                    for r, at in queue.items()
                    if r not in self._running and not self._held  # held: until let go
                ]
                left = min([deadline - now, *waits])
                if deadline - now <= 0:
                    return None
                self._cond.wait(max(0.01, left))

    def _ready(self, queue: dict[Ref, float], now: float) -> Ref | None:
        """The first resource of ``queue`` due by ``now`` and not running."""
        return next((r for r, at in queue.items() if at <= now and r not in self._running), None)

    def done(self, ref: Ref) -> None:
        """``ref``'s reconcile (from :meth:`next`) finished."""
        with self._cond:
            self._running.discard(ref)
            self._cond.notify_all()

    def lock(self, ref: Ref) -> threading.Lock:
        """The lock that keeps two reconciles of ``ref`` apart (a woken one and another's)."""
        with self._cond:
            return self._locks.setdefault(ref, threading.Lock())

    def reconciled(self, ref: Ref) -> None:
        """Note a reconcile of ``ref`` run outside the workers (a queued wake-up still holds)."""
        with self._cond:
            self._last[ref] = self.clock()

    def busy(self) -> bool:
        """Whether a first pass is under way (the operator's warm-up waits for its end).

        A resource known was never reconciled, or a woken one is due now; safety
        resyncs, the steady state's work, do not count.
        """
        with self._cond:
            now = self.clock()
            if any(at <= now for at in self._due.values()):
                return True
            return any(ref not in self._last for ref in self._offsets)

    def pending(self) -> int:
        """How many resources are queued (woken or for a safety resync)."""
        with self._cond:
            return len(self._due.keys() | self._resync.keys())
