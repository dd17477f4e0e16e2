"""The operator's services: everything its handlers share, built once at startup.

:class:`Services` holds the gateway to the API server, the agents' liveness, the demand
sampler and its history keeper, the forecaster, the self-tuner, the heat tracker and
the metrics. :func:`statecast.controller.handlers.start_services` builds one in kopf's
``@kopf.on.startup`` and keeps it in the operator memo (``memo.services``); kopf gives
every resource handler a copy of that memo, so each reaches the same services through
its ``memo`` argument. Nothing is built at import time. Tests build their own with
:meth:`Services.build` and a fake gateway, and pass it in the memo.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypeVar

from statecast.api.types import Ref
from statecast.controller.agent_link import AgentLink
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.gateway import Gateway, KubeGateway
from statecast.controller.heat import HeatTracker
from statecast.controller.history_keeper import SAVE_SECONDS, Activity, HistoryKeeper
from statecast.controller.issuer import CertificateIssuer, KubeSecrets
from statecast.controller.latency_source import LatencySource
from statecast.controller.lease_watch import LeaseWatch
from statecast.controller.metrics import OperatorMetrics
from statecast.controller.periodic import Periodic
from statecast.controller.sampling import CounterReader, DemandSampler
from statecast.controller.selftuning import SelfTuner
from statecast.controller.signer import KubeRequests, RequestSigner, agent_user
from statecast.controller.status_writes import HeldStatuses, StatusWrites
from statecast.controller.wakeups import Wakeups
from statecast.core.liveness import RenewalWatch, newer, renewed_at
from statecast.core.pki import PkiSettings
from statecast.core.reconcile.views import AgentLease, ReplicaView, agents_down
from statecast.pki.contexts import TlsMaterial

__all__ = ["AgentLiveness", "Services", "index_items"]

log = logging.getLogger(__name__)

#: Seconds between two rounds of the certificate issuer (with TLS).
ISSUE_SECONDS = 10.0
#: Seconds between two looks at the agents' certificate requests (an agent waits for one).
SIGN_SECONDS = 1.0


class AgentLiveness:
    """The agents' Leases, as a watch feeds them, else listed at most once per ``ttl`` s.

    With a Lease watch (:class:`~statecast.controller.lease_watch.LeaseWatch` calls
    :meth:`listed` and :meth:`changed`) a renewal is seen when the API server sends it;
    listed once a second, it was seen up to a second late (plus the LIST's own time),
    and so was its lapse. Without one (the watch is down, or none runs) the Leases are
    listed again when asked for and the last list is older than ``ttl``.

    Each Lease's ``renewTime`` is read on this operator's own clock: as the agent wrote
    it if that is at most a sixth of the Lease before this operator saw it change, else
    that sixth before (:func:`~statecast.core.liveness.renewed_at`,
    :class:`~statecast.core.liveness.RenewalWatch`): an agent whose clock runs behind is
    not judged dead while it renews, a lapse is not seen as late as the watch delivered
    the last renewal, and a Lease first seen counts as renewed then (less that sixth:
    the grace after a start, as the node controller gives a node).

    Args:
        gateway: where the Leases are listed.
        ttl: seconds a list is reused.
        clock: the monotonic clock the silences are measured on.
        wall: this operator's wall clock (the times handed out are on it).
    """

    def __init__(
        self,
        gateway: Gateway,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.gateway, self.ttl = gateway, ttl
        self.clock, self.wall = clock, wall
        self._lock = threading.Condition()
        self._leases: list[AgentLease] = []
        self._fetched = float("-inf")
        self._listing = False  # a thread is listing the Leases now
        self._listed = False  # a list has come back (or failed) once
        self._watch = RenewalWatch()
        self._watched: dict[str, AgentLease] | None = None  # node -> Lease, while watched
        self._confirmed = float("-inf")  # when down_confirmed last listed
        self._versions: dict[str, str] = {}  # node -> resourceVersion of the read held
        self._lapses: frozenset[str] = frozenset()  # lapses a list confirmed, while watched

    def listed(self, leases: list[AgentLease]) -> None:
        """The whole set of Leases, listed by a watch that (re)starts: watched from now."""
        with self._lock:
            self._leases = self._as_observed(leases)
            self._watched = {lease.node: lease for lease in self._leases}
            self._fetched, self._listed = self.clock(), True
            self._lapses = agents_down(self._leases, dt.datetime.fromtimestamp(self.wall(), dt.UTC))
            self._lock.notify_all()

    def changed(self, kind: str, lease: AgentLease) -> None:
        """A watch event: ``kind`` ADDED, MODIFIED or DELETED ``lease``."""
        with self._lock:
            if self._watched is None:
                return
            if kind == "DELETED":
                self._watched.pop(lease.node, None)
                self._watch.forget_others(list(self._watched))
                self._versions.pop(lease.node, None)
            elif newer(self._versions.get(lease.node, ""), lease.version):
                # one Lease at a time: a thousand agents renew 200 times a second
                wall = self.wall()
                seen = self._watched[lease.node] = self._observed(lease, self.clock(), wall)
                if not seen.expired(dt.datetime.fromtimestamp(wall, dt.UTC)):
                    self._lapses -= {lease.node}  # renewed: a next lapse is confirmed anew

    def unwatched(self) -> None:
        """The watch stopped: list again when asked, until it is back.

        Its view is kept as the last list (not the list the watch started from, minutes
        old by then): while the next list is under way, readers get that view, and a
        Lease the watch saw renewed a second ago does not look lapsed to them.
        """
        with self._lock:
            if self._watched is not None:
                self._leases = list(self._watched.values())
            self._watched = None

    def down_confirmed(self, now: dt.datetime, within: float = 0.0) -> frozenset[str]:
        """Nodes whose agent's Lease has lapsed, by a list (not the watch's view).

        Before a lapse is acted on: a watch that stalled without an error (or a list
        taken a moment before a renewal) would show a live agent's Lease as lapsed. A
        list made less than ``within`` seconds ago is used again (0: one made now). If
        the list fails, the last view answers.
        """
        with self._lock:
            if within > 0 and self.clock() - self._confirmed < within:
                return agents_down(self._leases, now)
        try:
            listed = self.gateway.agent_leases()
        except Exception as err:  # noqa: BLE001 - any API failure: keep what we knew
            log.warning("event=agent-leases-unavailable error=%s", err)
            return self.down(now)
        with self._lock:
            self._leases = self._as_observed(listed)
            if self._watched is not None:
                self._watched = {lease.node: lease for lease in self._leases}
            self._fetched = self._confirmed = self.clock()
            self._lapses = agents_down(self._leases, now)
            return self._lapses

    def current(self) -> list[AgentLease]:
        """The agents' Leases, listed again if the last list is older than ``ttl``.

        One thread lists at a time, without holding the others: while it waits for the
        API server they get the last list (a reconcile waited behind every Lease LIST on
        a slow API server), except before the first list has come back.
        Their ``renew_time`` is when this operator last saw each renewed, on its wall clock.
        """
        with self._lock:
            if self._watched is not None:
                return list(self._watched.values())
            if self.clock() - self._fetched < self.ttl or (self._listing and self._listed):
                return list(self._leases)
            if self._listing:  # the first list is under way: wait for it
                self._lock.wait_for(lambda: not self._listing)
                return list(self._leases)
            self._listing = True
        listed: list[AgentLease] | None = None
        try:
            listed = self.gateway.agent_leases()
        except Exception as err:  # noqa: BLE001 - any API failure: keep what we knew
            log.warning("event=agent-leases-unavailable error=%s", err)
        finally:
            with self._lock:
                if listed is not None:
                    self._leases = self._as_observed(listed)
                self._fetched, self._listing, self._listed = self.clock(), False, True
                self._lock.notify_all()
        with self._lock:
            return list(self._leases)

    def _as_observed(self, leases: list[AgentLease]) -> list[AgentLease]:
        """A list's Leases as observed; one older than the read held stays as held.

        A watch that lags can have shown a newer renewal than a list made meanwhile
        (and a list a newer one than the watch's next events): an older read is no
        renewal, or a dead agent's Lease would count as renewed again.
        """
        now, wall = self.clock(), self.wall()
        held = self._watched
        if held is None:
            held = {lease.node: lease for lease in self._leases}
        nodes = [lease.node for lease in leases]
        self._watch.forget_others(nodes)
        self._versions = {n: v for n, v in self._versions.items() if n in nodes}
        return [
            self._observed(lease, now, wall)
            if lease.node not in held or newer(self._versions.get(lease.node, ""), lease.version)
            else held[lease.node]
            for lease in leases
        ]

    def _observed(self, lease: AgentLease, now: float, wall: float) -> AgentLease:
        """``lease`` with its ``renew_time`` as when this operator saw it change."""
        self._versions[lease.node] = lease.version
        if lease.renew_time is None:
            return lease
        seen = wall - self._watch.silent_for(lease.node, lease.renew_time, now)
        renewed = renewed_at(lease.renew_time.timestamp(), seen, lease.duration_seconds)
        return replace(lease, renew_time=dt.datetime.fromtimestamp(renewed, dt.UTC))

    def down(self, now: dt.datetime) -> frozenset[str]:
        """Nodes whose agent's Lease has expired (none known if the list fails).

        While watched, a lapse in the watch's view counts once a list confirmed it
        (:meth:`down_confirmed`: the operator's look at the Leases makes one at each
        lapse) and no renewal came since: a watch that stalls without an error shows
        every Lease lapsing, and a reconcile that read that view would mark live
        agents' copies Lost and place copies elsewhere.
        """
        leases = self.current()
        with self._lock:
            confirmed = self._lapses if self._watched is not None else None
        seen = agents_down(leases, now)
        return seen if confirmed is None else seen & confirmed


@dataclass(frozen=True)
class Services:
    """What the operator's handlers share (see the module docstring).

    Build it with :meth:`build`; :meth:`start` and :meth:`stop` run its background
    threads (the sampler and the history keeper).
    """

    gateway: Gateway
    liveness: AgentLiveness
    activity: Activity
    """Acting (not a paused peering standby) while reconciles keep coming."""
    sampler: DemandSampler
    keeper: HistoryKeeper
    forecaster: DemandForecaster
    tuner: SelfTuner
    heat: HeatTracker
    metrics: OperatorMetrics
    events: EventMemory
    """The Events posted lately, so one cause posts one Event."""
    load: NodeLoad
    """What each node holds already, counted once a second for every reconcile."""
    wakeups: Wakeups = field(default_factory=Wakeups)
    """The resources due for a reconcile (see :mod:`statecast.controller.wakeups`)."""
    statuses: StatusWrites = field(default_factory=StatusWrites)
    """The status fields written lately that kopf's bodies may not show yet."""
    held: HeldStatuses = field(default_factory=HeldStatuses)
    """Status fields held back for the reports of new copies (see controller.apply)."""
    link: AgentLink = field(default_factory=AgentLink)
    """How the agents are called (plain HTTP, or mutual TLS)."""
    lease_watch: LeaseWatch | None = None
    """The agents' Lease watch that feeds ``liveness`` (None: it lists them on demand)."""
    issuer: Periodic | None = None
    """With TLS: the certificate issuer's thread (:mod:`statecast.controller.issuer`)."""
    signer: Periodic | None = None
    """With TLS: the agents' certificate requests' signer (:mod:`statecast.controller.signer`)."""
    writes: ThreadPoolExecutor | None = None
    """Threads that create a reconcile's Replicas at once (None: one after the other)."""
    latency: LatencySource | None = None
    """The latency between zones placement is planned with (None: the fixed default)."""

    @classmethod
    def build(
        cls,
        gateway: Gateway | None = None,
        *,
        sample_seconds: float = 10.0,
        acting_window: float = 15.0,
        save_seconds: float = SAVE_SECONDS,
        reader: CounterReader | None = None,
        tls: PkiSettings | None = None,
        io_threads: int = 0,
        latency_source: str = "fixed",
    ) -> Services:
        """Services around ``gateway`` (default: a :class:`KubeGateway`).

        Args:
            gateway: the API server's gateway (a fake in tests).
            sample_seconds: seconds between two readings of the agents' counters.
            acting_window: seconds after the last reconcile that still count as acting.
            save_seconds: seconds between two saves of the demand history.
            reader: where the agents' counters are read (default: their ``/v1/stats``).
            tls: with mutual TLS to the agents, the certificates' lifetimes (the
                operator issues them: :mod:`statecast.controller.issuer`).
            io_threads: threads that create a reconcile's Replicas at once, and as many
                that read saved demand histories in the background (0: none, each
                waits in the reconcile - a first pass over a thousand resources waited
                on every one of those requests in turn).
            latency_source: ``fixed`` or ``measured`` (:mod:`statecast.controller.latency_source`).
        """
        link = AgentLink(TlsMaterial() if tls is not None else None)
        gateway = gateway if gateway is not None else KubeGateway(link=link)
        liveness = AgentLiveness(gateway)
        activity = Activity(window=acting_window)
        wakeups = Wakeups()
        metrics = OperatorMetrics()
        sampler = DemandSampler(
            liveness.current,
            period=sample_seconds,
            active=activity.active,
            counted=lambda node, outcome: metrics.agent_samples.labels(node, outcome).inc(),
            reader=reader,
            link=link,
        )
        issuer = signer = None
        if tls is not None and link.tls is not None and isinstance(gateway, KubeGateway):
            secrets = KubeSecrets(gateway.core, gateway.agent_namespace)
            # every operator keeps the Secrets, standbys too: each write is made at the
            # resource version it read, so two operators never both win a round
            issuing = CertificateIssuer(secrets, liveness.current, link.tls, tls)
            period = min(ISSUE_SECONDS, tls.propagation / 3, tls.leaf_lifetime / 10)
            issuer = Periodic("issuer", period, issuing.round, failed_event="issuer-failed")
            signing = RequestSigner(
                KubeRequests(gateway.core.api_client),
                issuing.signing_pair,
                agent_user(gateway.agent_namespace),
                tls,
            )
            signer = Periodic("signer", SIGN_SECONDS, signing.round, failed_event="signer-failed")
        return cls(
            gateway=gateway,
            liveness=liveness,
            activity=activity,
            sampler=sampler,
            keeper=HistoryKeeper(
                sampler,
                gateway,
                activity,
                period=save_seconds,
                load_threads=io_threads,
                settled=lambda: not wakeups.busy(),
            ),
            wakeups=wakeups,
            forecaster=DemandForecaster(sampler),
            tuner=SelfTuner(sampler),
            heat=HeatTracker(sampler),
            metrics=metrics,
            events=EventMemory(),
            load=NodeLoad(),
            link=link,
            issuer=issuer,
            signer=signer,
            lease_watch=LeaseWatch(gateway, liveness) if isinstance(gateway, KubeGateway) else None,
            writes=ThreadPoolExecutor(io_threads, thread_name_prefix="replica-write")
            if io_threads > 0
            else None,
            latency=LatencySource(sampler, latency_source),
        )

    def start(self) -> None:
        """Start watching the agents' Leases, reading their counters and saving the history."""
        if self.lease_watch is not None:
            self.lease_watch.start()
        self.sampler.start()
        self.keeper.start()
        for periodic in (self.issuer, self.signer):
            if periodic is not None:
                periodic.start()

    def stop(self) -> None:
        """Stop the sampler thread and save the demand history (while acting)."""
        if self.lease_watch is not None:
            self.lease_watch.stop()
        self.sampler.stop()
        self.keeper.stop()  # saves the demand history once more
        for periodic in (self.issuer, self.signer):
            if periodic is not None:
                periodic.stop()
        if self.writes is not None:
            self.writes.shutdown(wait=True)

    def warm_up_steps(self) -> dict[str, Callable[[], object]]:
        """What the warm-up builds ahead of first use (none with a gateway other than Kube's)."""
        if isinstance(self.gateway, KubeGateway):
            return self.gateway.warm_up_steps()
        return {}

    def forget(self, ref: Ref) -> None:
        """Drop what is kept of a deleted resource: history, forecasts, Events, metrics."""
        self.forecaster.forget(ref)
        self.keeper.forget(ref)
        self.tuner.forget(ref)
        self.heat.forget(ref)
        self.events.forget(ref)
        self.metrics.forget(*ref)
        self.wakeups.forget(ref)
        self.statuses.forget(ref)
        self.held.release(ref)


K = TypeVar("K")
V = TypeVar("V")


def index_items(index: Mapping[K, Iterable[V]], tries: int = 5) -> list[tuple[K, list[V]]]:
    """A copy of a kopf index's keys and stores, taken while kopf may be changing it.

    kopf updates its indexes on its event loop while the reconciles read them in their
    threads: iterating one as it changes raised "dictionary changed size during
    iteration" (two reconciles failed so in a 1,000-resource run). A copy that meets a
    change is taken again.

    Raises:
        RuntimeError: every one of ``tries`` copies met a change.
    """
    for attempt in range(tries):
        try:
            return [(key, list(store)) for key, store in list(index.items())]
        except RuntimeError:
            if attempt == tries - 1:
                raise
    return []


class EventMemory:
    """The Events posted about each resource lately: one cause, one Event.

    A reconcile decides its Events from the resource's status as the handler saw it, and
    the status it patched a moment ago may not be there yet on the next resync; the same
    Event would be posted again. An Event (type, reason, message) posted about a resource
    within ``window`` seconds is not posted again.

    Args:
        window: Seconds during which the same Event is posted once.
    """

    def __init__(self, window: float = 600.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._posted: dict[Ref, dict[tuple[str, str, str], float]] = {}

    def due(self, ref: Ref, type_: str, reason: str, message: str, now: float) -> bool:
        """Whether to post this Event now (True records it as posted)."""
        key = (type_, reason, message)
        with self._lock:
            posted = self._posted.setdefault(ref, {})
            for old in [k for k, at in posted.items() if now - at >= self.window]:
                del posted[old]
            if key in posted:
                return False
            posted[key] = now
            return True

    def forget(self, ref: Ref) -> None:
        """Drop what was posted about a deleted resource."""
        with self._lock:
            self._posted.pop(ref, None)


class NodeLoad:
    """How busy each node is already, for the spread to put new copies on the least loaded.

    The replicas and bytes per node are summed over every resource at most once per
    ``ttl`` seconds (one pass over the Replica index shared by every reconcile, not one
    per resource), and each resource's own copies are taken out again. A copy a plan
    of this operator adds counts at once for the other resources (:meth:`added`), until
    the next sum finds it in the index: the plans within one period no longer all see
    the same figures and put their copies on the same least loaded node. (Not for its
    own resource: a second plan of it before the index shows the first's copies would
    take them for other resources' and place its copies elsewhere.)

    Args:
        ttl: Seconds a sum is used.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._totals: dict[str, tuple[int, int]] = {}
        self._added: dict[tuple[Ref, str], int] = {}

    def added(self, ref: Ref, node: str) -> None:
        """A plan of ``ref`` adds a copy on ``node``: one more there at once for the others."""
        with self._lock:
            self._added[(ref, node)] = self._added.get((ref, node), 0) + 1

    def of(
        self,
        ref: Ref,
        replicas: Mapping[Ref, Iterable[ReplicaView]],
        rates: Mapping[str, float],
        now: dt.datetime,
    ) -> dict[str, tuple[float, ...]]:
        """Node -> (replicas of resources other than ``ref``, their bytes, accesses/s)."""
        with self._lock:
            if now.timestamp() - self._at >= self.ttl:
                totals: dict[str, tuple[int, int]] = {}
                for _, store in index_items(replicas):
                    for view in store:
                        count, size = totals.get(view.node, (0, 0))
                        totals[view.node] = (count + 1, size + view.bytes)
                self._totals, self._at = totals, now.timestamp()
                self._added.clear()
            totals = dict(self._totals)
            added = [(node, n) for (other, node), n in self._added.items() if other != ref]
        for node, n in added:
            count, size = totals.get(node, (0, 0))
            totals[node] = (count + n, size)
        for view in replicas.get(ref, ()):
            count, size = totals.get(view.node, (0, 0))
            totals[view.node] = (max(count - 1, 0), max(size - view.bytes, 0))
        nodes = set(totals) | set(rates)
        return {n: (*totals.get(n, (0, 0)), round(rates.get(n, 0.0), 1)) for n in sorted(nodes)}
