"""One holistic reconcile of a SharedResource, as a pure function of what was observed.

:func:`reconcile` takes an :class:`~statecast.core.reconcile.observed.Observed` and
returns every change to make and the whole status to report, in four steps: survey the
cluster for the resource, ask its placement policy which nodes it wants, apply the
hand-off rule once, and build the status. The kopf handlers only gather the inputs,
call it, apply the result and post the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.custody import guard
from statecast.core.reconcile.custody import StandIn, custody_of, stand_ins
from statecast.core.reconcile.observed import Observed
from statecast.core.reconcile.policies import policy_for
from statecast.core.reconcile.status import (
    Event,
    LostReplica,
    build_status,
    invalid_status,
    lost_replicas,
    resource_events,
)
from statecast.core.reconcile.strong import keep_voters
from statecast.core.reconcile.survey import survey
from statecast.core.replica_set import (
    ReplicaChange,
    ReplicaSetPlan,
    hand_off,
    keep_unreplaced,
    unreplaced,
    within_max,
)
from statecast.core.storage import storage_recheck_after
from statecast.core.strong.election import StrongConfig

__all__ = ["ReconcileResult", "reconcile"]


@dataclass(frozen=True)
class ReconcileResult:
    """What a reconcile decided: changes to make, status to write, events to post.

    ``events`` are about the resource's state; each change made gets its own Event
    from :func:`~statecast.core.reconcile.status.change_event` once it has been applied.
    """

    changes: tuple[ReplicaChange, ...]
    status: dict[str, Any]
    events: tuple[Event, ...] = field(default_factory=tuple)
    lost: tuple[LostReplica, ...] = field(default_factory=tuple)
    """Replica objects to mark Lost: their agent cannot report any more."""
    last_hot: Mapping[str, float] | None = None
    """With policy reactive and heat observed: node -> when it was last hot, to pass
    back as the next ``DemandView.last_hot`` (None: nothing to keep)."""
    stand_ins: tuple[StandIn, ...] = field(default_factory=tuple)
    """Replicas whose ``spec.standInFor`` is to change (see :mod:`statecast.core.custody`)."""
    recheck_after: float | None = None
    """Seconds after which to reconcile again though nothing changes: a copy whose
    files fail passes its grace then (:mod:`statecast.core.storage`). None: not needed."""


def reconcile(observed: Observed) -> ReconcileResult:
    """Decide the replicas and the status of one SharedResource."""
    spec = observed.spec
    if spec is None:
        try:
            spec = SharedResourceSpec.model_validate(observed.resource.get("spec", {}))
        except ValidationError as err:
            status, events = invalid_status(err, observed)
            return ReconcileResult((), status, events)
    seen = survey(observed, spec)
    decided = policy_for(spec.replication.policy).place(seen, observed.demand)
    plan = hand_off(decided.wanted, seen.existing)
    held = custody_of(seen)  # no lost copy with unmerged writes goes; stand-ins are marked
    plan = ReplicaSetPlan(plan.wanted, guard(plan.changes, held))
    # a copy leaving a node that takes none goes only once a copy elsewhere stands for it
    leaving = seen.leaving
    plan = keep_unreplaced(plan, leaving, seen.count)
    kept = unreplaced(plan.wanted, leaving, seen.count)
    plan = within_max(  # max is a bound during a hand-off too
        plan, seen.existing, spec.replicas.max, leaving, decided.wanted.removals
    )
    if spec.consistency == "strong":  # a voter's copy goes only after a membership step
        plan = keep_voters(plan, StrongConfig.from_status(observed.previous_status).voters)
    lost = lost_replicas(seen)
    return ReconcileResult(
        changes=plan.changes,
        status=build_status(observed, seen, decided, plan, held, kept),
        events=resource_events(observed, seen, lost, held, kept),
        lost=lost,
        last_hot=decided.last_hot,
        stand_ins=stand_ins(seen, held),
        recheck_after=storage_recheck_after([r.storage for r in seen.replicas], observed.now),
    )
