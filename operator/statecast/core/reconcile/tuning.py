"""Self-tuning decisions: each window's outcome in, the planner's knobs out.

For a resource with ``replication.policy: predictive`` and ``replication.tuning.enabled``
the operator learns the planner's cost weight and deviation threshold with
:func:`statecast.core.tuning.tune`, one step per ``replication.tuning.window``:

- :func:`window_due` says whether the window in ``status.tuning`` has ended;
- :func:`observe_window` reads what the window saw from the demand history (through
  the :class:`DemandReader` protocol) and the Replicas (:class:`WindowObservation`);
  :func:`outcome_of` turns it into the learner's :class:`~statecast.core.tuning.Outcome`;
- :func:`next_tuning` resumes the learner from ``status.tuning`` (status is the store,
  so a restarted operator continues where it was), takes a step when a window ended and
  returns a :class:`TuningDecision`: the knobs for the planner, the new ``status.tuning``
  and whether a ``Tuned`` Event is due;
- :func:`latest_tuning` picks between ``status.tuning`` and the operator's memory of its
  last decision (:class:`statecast.controller.selftuning.SelfTuner` keeps it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from statecast.api.shared_resource import SharedResourceSpec, TuningStatus
from statecast.api.types import Ref
from statecast.api.units import parse_duration, parse_quantity
from statecast.core.demand_series import RECENT_S
from statecast.core.placement import Reason, StateProfile
from statecast.core.placement.costs import sync_bytes_per_hour
from statecast.core.reconcile.views import ReplicaView
from statecast.core.tuning import Outcome, TunerConfig, TuningState, tune

__all__ = [
    "DemandReader",
    "TuningDecision",
    "WindowObservation",
    "latest_tuning",
    "next_tuning",
    "observe_window",
    "outcome_of",
    "tuner_config",
    "tuner_prices",
    "tuning_enabled",
    "window_due",
]

_DIGITS = 4  # knobs are rounded so that status and memory hold the same numbers
#: The learner's state, kept in ``status.tuning`` under the same names.
_LEARNED = ("cost_weight", "deviation_threshold", "step", "last_move", "updates", "reversals")


class DemandReader(Protocol):
    """The part of the demand history a window's observation reads."""

    def local_hit_ratio(self, ref: Ref, window: float, now: float) -> float | None:
        """Share of ``ref``'s accesses served locally over the last ``window`` seconds."""

    def writes_per_minute(self, ref: Ref, window: float, now: float) -> float:
        """Writes to ``ref`` per minute over the last ``window`` seconds."""

    def matrix(
        self, ref: Ref, nodes: Sequence[str], interval: float, end: float, steps: int
    ) -> npt.NDArray[np.float64]:
        """Accesses per node and interval before ``end``."""


@dataclass(frozen=True)
class WindowObservation:
    """What the operator saw of one resource over a tuning window.

    Attributes:
        seconds: length of the window.
        local_hit_ratio: accesses served on the reader's node / all (None: no accesses),
            over the window's last hour at most.
        copies_made: Replicas created in the window (each a full copy of the state).
        state_bytes: size of one copy (the largest a Replica reports).
        writes_per_min: writes to the resource over the window's last hour at most.
        replicas: Replicas at the end of the window.
        hedges: hedge Replicas old enough to judge.
        hedges_used: those of them whose node read the resource while they were there.
    """

    seconds: float
    local_hit_ratio: float | None
    copies_made: int = 0
    state_bytes: int = 0
    writes_per_min: float = 0.0
    replicas: int = 0
    hedges: int = 0
    hedges_used: int = 0


def tuning_enabled(spec: SharedResourceSpec) -> bool:
    """Whether the resource's knobs are learned (predictive and tuning enabled)."""
    return spec.replication.policy == "predictive" and spec.replication.tuning.enabled


def tuner_prices(spec: SharedResourceSpec) -> bool:
    """Whether the self-tuner sets the resource's cost weight: tuning on, with a target.

    Without ``targetLocalHitRatio`` the learner keeps the cost weight at 1 and learns the
    deviation threshold alone (:func:`next_tuning`).
    """
    return tuning_enabled(spec) and spec.replication.tuning.target_local_hit_ratio is not None


def tuner_config(spec: SharedResourceSpec) -> TunerConfig:
    """The learner's targets: the spec's target hit ratio and bytes-moved budget."""
    budget = spec.replication.budget.bytes_moved_per_hour
    return TunerConfig(
        target_local_hit_ratio=spec.replication.tuning.target_local_hit_ratio,
        bytes_moved_budget_per_hour=float(parse_quantity(budget)) if budget is not None else None,
    )


def outcome_of(observation: WindowObservation) -> Outcome | None:
    """The learner's outcome of a window; None when nothing was accessed (nothing to learn).

    Bytes moved per hour are estimated as the copies made times the state's size plus
    the write stream to every replica (writes x bytes per write x replicas, the
    planner's own sync estimate); hedge use is the share of judged hedges that were used.
    """
    if observation.local_hit_ratio is None:
        return None
    hours = max(observation.seconds, 1.0) / 3600.0
    copies = observation.copies_made * observation.state_bytes / hours
    state = StateProfile(observation.state_bytes, observation.writes_per_min)
    sync = sync_bytes_per_hour(state, observation.replicas)
    hedges = observation.hedges
    return Outcome(
        local_hit_ratio=observation.local_hit_ratio,
        bytes_moved_per_hour=copies + sync,
        replicas=float(observation.replicas),
        hedge_use=observation.hedges_used / hedges if hedges else None,
    )


def _saved(saved: Mapping[str, Any] | None) -> TuningStatus | None:
    if not saved:
        return None
    try:
        status = TuningStatus.model_validate(saved)
    except ValidationError:
        return None
    times = {
        name: value.replace(tzinfo=dt.UTC)
        for name, value in (
            ("window_start", status.window_start),
            ("last_tuned_at", status.last_tuned_at),
        )
        if value is not None and value.tzinfo is None
    }
    return status.model_copy(update=times) if times else status


def window_due(
    spec: SharedResourceSpec, saved: Mapping[str, Any] | None, now: dt.datetime
) -> dt.datetime | None:
    """The start of the window in ``status.tuning`` if it has ended by ``now``, else None."""
    status = _saved(saved)
    if status is None or status.window_start is None:
        return None
    if status.spec_deviation_threshold != spec.replication.thresholds.deviation:
        return None  # learning starts over
    window = parse_duration(spec.replication.tuning.window)
    return status.window_start if now - status.window_start >= window else None


def observe_window(
    demand: DemandReader,
    ref: Ref,
    replicas: Sequence[ReplicaView],
    spec: SharedResourceSpec,
    start: dt.datetime,
    now: dt.datetime,
) -> WindowObservation:
    """What the window from ``start`` to ``now`` saw, from the demand history and Replicas.

    The hit ratio and the writes are those of the window's last hour at most (what the
    demand history keeps of them, :data:`~statecast.core.demand_series.RECENT_S`). Copies
    made are the Replicas created in the window (a copy made and removed within it is
    missed). A hedge Replica is judged once it has existed for a cooldown (or the
    whole window, if shorter), and counts as used when its node read the resource
    while it was there.
    """
    seconds = max((now - start).total_seconds(), 1.0)
    end = now.timestamp()
    judge_after = min(
        parse_duration(spec.replication.cooldown), parse_duration(spec.replication.tuning.window)
    )
    interval = parse_duration(spec.prediction.interval).total_seconds()
    hedges = used = 0
    for r in replicas:
        if r.reason != Reason.HEDGE or r.created is None or now - r.created < judge_after:
            continue
        hedges += 1
        since = max(start, r.created).timestamp()
        # Whole intervals of the history, like the forecasts read it, back to ``since``.
        last = math.ceil(end / interval) * interval
        steps = max(1, math.ceil((last - since) / interval))
        reads = demand.matrix(ref, [r.node], interval, last, steps)
        used += int(float(np.nansum(reads)) > 0)
    recent = min(seconds, RECENT_S)  # the history splits local/remote and writes this far
    return WindowObservation(
        seconds=seconds,
        local_hit_ratio=demand.local_hit_ratio(ref, recent, end),
        copies_made=sum(1 for r in replicas if r.created is not None and r.created > start),
        state_bytes=max((r.bytes for r in replicas), default=0),
        writes_per_min=demand.writes_per_minute(ref, recent, end),
        replicas=len(replicas),
        hedges=hedges,
        hedges_used=used,
    )


@dataclass(frozen=True)
class TuningDecision:
    """The learner's state after a reconcile, and what to report.

    Attributes:
        state: the knobs (for the planner) and the learner's memory.
        window_start: when the window being observed began.
        last_tuned_at: when the learner last took a step (None: never).
        spec_deviation: the spec's deviation threshold learning started from.
        changed: the cost weight or the threshold changed now (post a ``Tuned`` Event).
    """

    state: TuningState
    window_start: dt.datetime
    last_tuned_at: dt.datetime | None
    spec_deviation: float
    changed: bool = False

    def status(self) -> dict[str, Any]:
        """``status.tuning``."""
        learned = {name: getattr(self.state, name) for name in _LEARNED}
        return TuningStatus(
            **learned,
            explanation=self.state.explanation[:1024],
            last_tuned_at=self.last_tuned_at,
            window_start=self.window_start,
            spec_deviation_threshold=self.spec_deviation,
        ).to_k8s()


def _rounded(state: TuningState) -> TuningState:
    return replace(
        state,
        cost_weight=round(state.cost_weight, _DIGITS),
        deviation_threshold=round(state.deviation_threshold, _DIGITS),
        step=round(state.step, _DIGITS),
    )


def _knobs(state: TuningState) -> tuple[float, float]:
    return state.cost_weight, state.deviation_threshold


def next_tuning(
    spec: SharedResourceSpec,
    saved: Mapping[str, Any] | None,
    observation: WindowObservation | None,
    now: dt.datetime,
) -> TuningDecision:
    """Resume the learner from ``status.tuning`` and step it if a window ended.

    Args:
        spec: the resource's spec.
        saved: its ``status.tuning`` (None or unreadable: learning starts).
        observation: what the window that ended saw (None: no window ended).
        now: the current time.

    Returns:
        The decision. Learning starts over (weight 1, the spec's threshold, a new window)
        when there is no saved state or the spec's ``thresholds.deviation`` changed; a
        window without accesses teaches nothing and the next one begins; without
        ``targetLocalHitRatio`` the cost weight is 1.
    """
    now = now.replace(microsecond=0)
    base = spec.replication.thresholds.deviation
    config = tuner_config(spec)
    status = _saved(saved)
    if status is None or status.window_start is None or status.spec_deviation_threshold != base:
        state = TuningState.initial(base, config)
        if status is not None:
            state = replace(state, explanation=f"thresholds.deviation {base:.2f}: learning anew")
        changed = status is not None and (status.cost_weight, status.deviation_threshold) != (
            _knobs(state)
        )
        last = status.last_tuned_at if status is not None else None
        return TuningDecision(state, now, last, base, changed)
    learned = {name: getattr(status, name) for name in _LEARNED}
    state = TuningState(**learned, explanation=status.explanation)
    before = _knobs(state)
    if config.target_local_hit_ratio is None and state.cost_weight != 1.0:
        state = replace(
            state,
            cost_weight=1.0,
            step=config.initial_step,
            last_move=0,
            explanation="cost weight 1.00: no targetLocalHitRatio",
        )
    start, last = status.window_start, status.last_tuned_at
    if observation is not None:
        outcome = outcome_of(observation)
        start = now
        if outcome is None:
            state = replace(
                state,
                explanation=f"no accesses in the last window: cost weight "
                f"{state.cost_weight:.2f} and deviation {state.deviation_threshold:.2f} kept",
            )
        else:
            state, last = _rounded(tune(state, outcome, config)), now
    return TuningDecision(state, start, last, base, _knobs(state) != before)


def latest_tuning(
    saved: Mapping[str, Any] | None, remembered: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The later of ``status.tuning`` and the tuner's memory of it, by window start.

    Memory wins a tie (it is ours): a resource body that does not show the last status
    patch yet must not make the learner take the same window's step twice.
    """
    mine, theirs = _window_start(remembered), _window_start(saved)
    if mine is None:
        return saved
    if theirs is None:
        return remembered
    return saved if theirs > mine else remembered


def _window_start(saved: Mapping[str, Any] | None) -> dt.datetime | None:
    status = _saved(saved)
    return status.window_start if status is not None else None
