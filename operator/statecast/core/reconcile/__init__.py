"""What the operator decides for one SharedResource, as pure functions.

The kopf handlers (:mod:`statecast.controller.handlers`) observe, call
:func:`reconcile`, apply and report; every decision in between lives here:

- :mod:`~statecast.core.reconcile.views`: the Kubernetes objects as small frozen values;
- :mod:`~statecast.core.reconcile.observed`: :class:`Observed`, everything one reconcile reads;
- :mod:`~statecast.core.reconcile.survey`: eligible nodes, zones, consumers, room;
- :mod:`~statecast.core.reconcile.policies`: the placement policies (spread, predictive,
  reactive) behind one protocol;
- :mod:`~statecast.core.reconcile.custody`: lost copies with unmerged writes, stand-ins
  (the decisions are :mod:`statecast.core.custody`'s);
- :mod:`~statecast.core.reconcile.status`: the status, conditions and Events;
- :mod:`~statecast.core.reconcile.predicted` and
  :mod:`~statecast.core.reconcile.demand_engine`: a resource's forecast from its history;
- :mod:`~statecast.core.reconcile.tuning`: the self-tuner's window decisions.
"""

from statecast.core.reconcile.observed import DemandView, Observed
from statecast.core.reconcile.reconcile import ReconcileResult, reconcile
from statecast.core.reconcile.status import (
    Event,
    LostReplica,
    change_event,
    changes_events,
    first_placement,
)

__all__ = [
    "DemandView",
    "Event",
    "LostReplica",
    "Observed",
    "ReconcileResult",
    "change_event",
    "changes_events",
    "first_placement",
    "reconcile",
]
