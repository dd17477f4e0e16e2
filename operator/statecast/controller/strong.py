"""Carrying out the configuration master's decisions for strong resources.

:func:`carry_out` takes a :class:`~statecast.core.reconcile.strong.StrongDecision` and
makes it true, in this order, so that an operator stopped at any point (or two
operators acting at once) leaves nothing unsafe behind:

1. **Reserve** the new epoch in the resource's status (``epoch``, ``leader: null``,
   ``voters``) with a compare-and-swap on the configuration: only one operator can
   reserve a given epoch, and an epoch is never used before it is recorded. An epoch
   already reserved without a leader is finished, not reserved again (another process
   may be electing it: both fence it, the first record wins, the other stops).
2. **Fence** the replicas (``POST /v1/peer/strong/fence``): each promises the epoch on
   disk and answers its log position; from then on it refuses the old leader.
3. **Choose** the most up-to-date of a majority of the replaced voters
   (:func:`statecast.core.strong.election.choose_leader`); without a majority nothing
   more happens (the reserved epoch is simply skipped by the next election).
4. **Record** the leader with another compare-and-swap from the reservation.
5. **Tell** the Replicas (role, epoch; the leader's gets the voters): the leader's
   agent opens the epoch with a no-op entry and takes writes once it is committed.

A stop after 1 or 2 leaves an epoch without a leader: the next election finishes it.
A stop after 4 leaves Replica specs behind the status: step 5 runs again on every
pass (:attr:`StrongDecision.roles`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import kopf
from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.observe import Indexes
from statecast.controller.services import Services
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.strong import (
    RoleChange,
    StrongDecision,
    role_changes,
    strong_decision,
)
from statecast.core.reconcile.views import NodeView, ReplicaView, agents_down
from statecast.core.strong.election import Election, StrongConfig, choose_leader
from statecast.core.strong.log import LogPosition

__all__ = ["StrongGateway", "carry_out", "decide_and_carry_out", "elect", "lead"]

log = logging.getLogger(__name__)


@runtime_checkable
class StrongGateway(Protocol):
    """What electing a leader asks of the API server and the agents."""

    def read_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A SharedResource object (None when gone)."""
        ...

    def write_config(
        self, namespace: str, name: str, config: dict[str, Any], resource_version: str
    ) -> str | None:
        """Patch status fields if the object is still at ``resource_version``.

        Returns the new resource version, None on a conflict.
        """
        ...

    def set_replica_role(
        self, namespace: str, name: str, role: str, epoch: int, voters: list[str] | None
    ) -> None:
        """Patch a Replica's spec role, epoch and voters."""
        ...

    def fence(
        self, node: str, endpoint: str, namespace: str, name: str, epoch: int
    ) -> LogPosition | None:
        """Ask ``node``'s agent at ``endpoint`` to promise ``epoch``: its log position, or None."""
        ...


def _swap(
    gateway: StrongGateway,
    ref: tuple[str, str],
    expected: StrongConfig,
    new: StrongConfig,
    version: str,
) -> str | None:
    """Write ``new`` if the recorded configuration is still ``expected``; the new version."""
    written = gateway.write_config(*ref, new.to_status(), version)
    if written is not None:
        return written
    fresh = gateway.read_resource(*ref)  # another write moved the object: the config too?
    if fresh is None or StrongConfig.from_status(fresh.get("status") or {}) != expected:
        return None
    return gateway.write_config(*ref, new.to_status(), fresh["metadata"]["resourceVersion"])


def _fence_all(
    gateway: StrongGateway, ref: tuple[str, str], election: Election, endpoints: Mapping[str, str]
) -> dict[str, LogPosition]:
    """Fence every voter at once; the positions of those that answered.

    A node that may not lead (``election.exclude``) is fenced all the same but not waited
    for: its answer is no candidate's, and the candidates must be a majority of the
    replaced voters by themselves, so the epoch is safe without it. A voter whose Lease
    lapsed (frozen, cut off) answers nothing until the fence times out (2 s), and every
    failover election waited for that (session 9, ``leader-partition-lapsed``: 2.5 s a
    round, twice when both operators elected at once).
    """
    nodes = sorted({*election.fence_voters, *election.voters} & set(endpoints))
    pool = ThreadPoolExecutor(max_workers=max(len(nodes), 1))
    try:
        asked = {
            n: pool.submit(gateway.fence, n, endpoints[n], *ref, election.epoch) for n in nodes
        }
        futures.wait([f for n, f in asked.items() if n not in election.exclude])
    finally:
        pool.shutdown(wait=False)  # an excluded voter's fence finishes on its own
    done = {n: f.result() for n, f in asked.items() if f.done()}
    return {n: p for n, p in done.items() if p is not None}


def elect(
    services: Services,
    body: kopf.Body,
    decision: StrongDecision,
    endpoints: Mapping[str, str],
) -> StrongConfig | None:
    """Open ``decision.election``'s epoch (steps 1-4 of the module docstring)."""
    gateway = services.gateway
    assert isinstance(gateway, StrongGateway) and decision.election is not None
    election = decision.election
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    counter = services.metrics.elections
    reserved = StrongConfig(election.epoch, None, election.voters)
    version: str | None = str(body.metadata.get("resourceVersion") or "")
    if decision.config != reserved:  # (reserved already: that election is finished here)
        version = _swap(gateway, ref, decision.config, reserved, version or "")
    if version is None:
        counter.labels(reason=election.reason, outcome="conflict").inc()
        return None
    positions = _fence_all(gateway, ref, election, endpoints)
    choice = choose_leader(election, positions, decision.alive)
    if choice.leader is None:
        counter.labels(reason=election.reason, outcome="no_leader").inc()
        message = f"epoch {election.epoch} ({election.reason}): no leader: {choice.reason}"
        log.warning("event=election-failed resource=%s/%s %s", *ref, message)
        gateway.post_event(body, "Warning", "ElectionFailed", message)
        return None
    chosen = StrongConfig(election.epoch, choice.leader, election.voters)
    if _swap(gateway, ref, reserved, chosen, version) is None:
        counter.labels(reason=election.reason, outcome="conflict").inc()
        return None
    counter.labels(reason=election.reason, outcome="elected").inc()
    message = (
        f"{choice.leader} leads epoch {election.epoch} ({election.reason}), "
        f"log {positions[choice.leader].epoch}.{positions[choice.leader].index}, "
        f"voters {', '.join(election.voters)}"
    )
    log.info("event=leader-elected resource=%s/%s %s", *ref, message)
    gateway.post_event(body, "Normal", "LeaderElected", message)
    return chosen


def _tell(gateway: StrongGateway, namespace: str, changes: tuple[RoleChange, ...]) -> None:
    """Step 5: the leader's Replica last, once its followers know the epoch."""
    for change in sorted(changes, key=lambda c: c.role == "leader"):
        voters = list(change.voters) if change.voters is not None else None
        gateway.set_replica_role(namespace, change.name, change.role, change.epoch, voters)


def carry_out(
    services: Services,
    body: kopf.Body,
    decision: StrongDecision,
    replicas: list[ReplicaView],
    endpoints: Mapping[str, str],
) -> None:
    """Elect if the decision says so, then bring the Replica specs in line."""
    gateway = services.gateway
    if not isinstance(gateway, StrongGateway):
        return  # a gateway without the strong calls (some tests): nothing to carry out
    changes = decision.roles
    if decision.election is not None:
        config = elect(services, body, decision, endpoints)
        if config is None:
            return
        changes = role_changes(config, replicas)
    _tell(gateway, body.metadata.namespace or "", changes)


def lead(services: Services, body: kopf.Body, indexes: Indexes, now: dt.datetime) -> None:
    """One pass of the configuration master over a strong resource: decide, carry out."""
    ref = (body.metadata.namespace or "", body.metadata.name or "")
    nodes = [view for store in indexes.nodes.values() for view in store]
    decide_and_carry_out(services, body, nodes, list(indexes.replicas.get(ref, [])), now)


def decide_and_carry_out(
    services: Services,
    body: kopf.Body,
    nodes: Sequence[NodeView],
    replicas: Sequence[ReplicaView],
    now: dt.datetime,
    *,
    reasons: Collection[str] | None = None,
) -> bool:
    """Decide over a strong resource from what was observed, and carry it out.

    Args:
        services: the operator's services (gateway, liveness, metrics).
        body: the SharedResource.
        nodes: every node.
        replicas: the resource's Replicas.
        now: the time of the observation.
        reasons: carry out only an election for one of these reasons (None: anything,
            the Replica roles included).

    Returns:
        Whether an election was started.
    """
    try:
        spec = SharedResourceSpec.model_validate(body.get("spec", {}))
    except ValidationError:
        return False  # the reconcile reports an invalid spec
    leases = services.liveness.current()
    down = agents_down(leases, now)
    if down:  # an election is decided on a list at most a second old, not on the watch
        down = services.liveness.down_confirmed(now, within=1.0)
        leases = services.liveness.current()
    observed = Observed(body, list(nodes), list(replicas), now, agents_down=down, spec=spec)
    decision = strong_decision(observed, spec)
    election = decision.election
    if reasons is not None and (election is None or election.reason not in reasons):
        return False
    endpoints = {lease.node: url for lease in leases if (url := services.link.url(lease))}
    carry_out(services, body, decision, list(observed.replicas), endpoints)
    return election is not None
