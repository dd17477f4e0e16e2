"""Whether a reconcile's decision was made on a spec that is no longer the resource's.

A reconcile plans on the SharedResource's body as it was when the reconcile began: it
may first wait for the resource's lock, and planning itself takes time (an operator
that just took over loads the resource's demand history first: 2.4 s at load ~15).
When the resource's spec changes meanwhile, the watch event arrives and wakes the
resource again, but the reconcile under way would still write what the old spec asked
for, and the next one undo it. Seen in the ``operator-restart`` chaos scenario: the
operator that resumed after a restart planned with ``replicas.min: 3``, the spec said 2
again 1.6 s before it wrote, and it added a failover copy that the next reconcile
removed 0.5 s later.

A spec change moves ``metadata.generation``; the operator notes the latest generation
of every resource as its events arrive, and a plan made on an older one is dropped
before anything is written (:func:`plan_superseded`). Status and metadata changes do not
move the generation and do not drop a plan.

A resource deleted and created again under the same name is another object: its
generation starts again at 1, below the plan's, so the generation alone kept a plan
made on the old one (it would have written the old spec's copies and status to the new
resource). The operator notes each resource's ``metadata.uid`` with its generation, and
a plan made on another uid than the latest seen is dropped too.

What this does not close: the narrow window between this check and the writes that
follow it (an event that arrives then is acted on by the next reconcile).
"""

from __future__ import annotations

__all__ = ["plan_superseded"]


def plan_superseded(
    planned: object, latest: object, planned_uid: object = None, latest_uid: object = None
) -> bool:
    """Whether a plan made on generation ``planned`` is outdated by ``latest``.

    Args:
        planned: ``metadata.generation`` of the body the plan was made on.
        latest: the latest generation the operator has seen for the resource (None:
            none seen, e.g. a resource deleted meanwhile: its Replicas go with it).
        planned_uid: ``metadata.uid`` of the body the plan was made on.
        latest_uid: the uid of the latest event seen for the resource's name.

    Another uid (both known) supersedes: the resource was deleted and created again.
    Otherwise only a newer integer generation supersedes; anything unknown or malformed
    keeps the plan (the behaviour without this check).
    """
    if isinstance(planned_uid, str) and isinstance(latest_uid, str) and planned_uid != latest_uid:
        return True
    if not isinstance(planned, int) or not isinstance(latest, int):
        return False
    if isinstance(planned, bool) or isinstance(latest, bool):
        return False
    return latest > planned
