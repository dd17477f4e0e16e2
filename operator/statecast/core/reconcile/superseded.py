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
"""

from __future__ import annotations

__all__ = ["plan_superseded"]


def plan_superseded(planned: object, latest: object) -> bool:
    """Whether a plan made on generation ``planned`` is outdated by ``latest``.

    Args:
        planned: ``metadata.generation`` of the body the plan was made on.
        latest: the latest generation the operator has seen for the resource (None:
            none seen, e.g. a resource deleted meanwhile: its Replicas go with it).

    Only a newer integer generation supersedes; anything unknown or malformed keeps the
    plan (the behaviour without this check).
    """
    if not isinstance(planned, int) or not isinstance(latest, int):
        return False
    if isinstance(planned, bool) or isinstance(latest, bool):
        return False
    return latest > planned
