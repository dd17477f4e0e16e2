"""The self-tuner's memory in the operator: :class:`SelfTuner`.

The decisions are pure (:mod:`statecast.core.reconcile.tuning`); this keeps the last
decision per resource and reads each ended window from the demand history.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from statecast.api.shared_resource import SharedResourceSpec
from statecast.api.types import Ref
from statecast.core.reconcile.tuning import (
    DemandReader,
    TuningDecision,
    latest_tuning,
    next_tuning,
    observe_window,
    window_due,
)
from statecast.core.reconcile.views import ReplicaView

__all__ = ["SelfTuner"]


class SelfTuner:
    """Runs :func:`next_tuning` for the handlers, reading windows from the demand history.

    It remembers its last decision per resource, so that a resource body that does not
    show the last status patch yet never takes the same window's step twice.

    Args:
        demand: the demand history.
    """

    def __init__(self, demand: DemandReader) -> None:
        self.demand = demand
        self._lock = threading.Lock()
        self._last: dict[Ref, dict[str, Any]] = {}

    def decide(
        self,
        ref: Ref,
        spec: SharedResourceSpec,
        saved: Mapping[str, Any] | None,
        replicas: Sequence[ReplicaView],
        now: dt.datetime,
    ) -> TuningDecision:
        """The resource's knobs now, stepped once its window has ended.

        Args:
            ref: the resource.
            spec: its spec (tuning enabled).
            saved: its ``status.tuning`` as the resource body shows it.
            replicas: its Replicas.
            now: the current time.
        """
        with self._lock:
            remembered = self._last.get(ref)
        current = latest_tuning(saved, remembered)
        start = window_due(spec, current, now)
        observed = (
            observe_window(self.demand, ref, replicas, spec, start, now)
            if start is not None
            else None
        )
        decision = next_tuning(spec, current, observed, now)
        with self._lock:
            self._last[ref] = decision.status()
        return decision

    def forget(self, ref: Ref) -> None:
        """Drop what is remembered of a resource (deleted, or tuning turned off)."""
        with self._lock:
            self._last.pop(ref, None)
