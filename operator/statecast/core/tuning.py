"""Self-tuning: learn each resource's cost weight and deviation threshold from outcomes.

After every tuning window the operator (or the simulator) reports what happened to a
resource (:class:`Outcome`: local-hit ratio, bytes moved, how useful hedge replicas
were) and :func:`tune` returns the next :class:`TuningState`. The learner is a signed
step controller in log space with Rprop's step rule:

- the *cost weight* goes down (more replicas) when the local-hit ratio is below the
  target by more than a dead band, and up (fewer replicas) when it is above the target
  by more than the dead band or when bytes moved exceed the budget;
- the step grows by 1.2 while the direction holds and halves on every reversal, so a
  learner that overshoots settles instead of oscillating; inside the dead band the
  weight does not move and the step halves (down to the minimum), so a settled
  learner answers a stray window with a small correction, not the step it came with;
- without a target local-hit ratio the cost weight holds (only the threshold learns);
- the *deviation threshold* rises when hedge replicas went mostly unused and falls
  when they were mostly used;
- everything stays within bounds, and every state carries a one-line explanation that
  the operator writes to status.

Pure: no clock, no I/O; the same inputs give the same state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TunerConfig:
    """Targets and bounds of the self-tuner.

    Attributes:
        target_local_hit_ratio: share of accesses that should be served locally;
            None: the cost weight is not learned (it holds), only the deviation threshold.
        deadband: no change while the ratio is within this of the target.
        initial_step: first step of the cost weight, in log space (0.25 = x1.28).
        min_step: smallest step (reached after repeated reversals).
        max_step: largest step (reached while the direction holds).
        min_cost_weight: lower bound of the cost weight.
        max_cost_weight: upper bound of the cost weight.
        bytes_moved_budget_per_hour: over this, the weight goes up whatever the ratio.
        min_deviation: lower bound of the deviation threshold.
        max_deviation: upper bound of the deviation threshold.
    """

    target_local_hit_ratio: float | None = 0.8
    deadband: float = 0.03
    initial_step: float = 0.25
    min_step: float = 0.02
    max_step: float = 0.5
    min_cost_weight: float = 0.1
    max_cost_weight: float = 10.0
    bytes_moved_budget_per_hour: float | None = None
    min_deviation: float = 0.1
    max_deviation: float = 3.0


@dataclass(frozen=True)
class Outcome:
    """What happened to one resource over a tuning window.

    Attributes:
        local_hit_ratio: accesses served by a replica on the caller's node / all accesses.
        bytes_moved_per_hour: copies plus sync traffic.
        replicas: mean number of replicas over the window.
        hedge_use: share of hedge replicas that served accesses, None if there were none.
    """

    local_hit_ratio: float
    bytes_moved_per_hour: float = 0.0
    replicas: float = 0.0
    hedge_use: float | None = None


@dataclass(frozen=True)
class TuningState:
    """The learned knobs of one resource and why they are what they are.

    Attributes:
        cost_weight: multiplies the planner's costs.
        deviation_threshold: the planner's hedging deviation threshold.
        step: current step of the cost weight (log space).
        last_move: direction of the last change (+1 up, -1 down, 0 none yet).
        updates: outcomes seen.
        reversals: direction changes so far.
        explanation: one line for status, e.g. ``cost weight 1.00 -> 0.78: ...``.
    """

    cost_weight: float = 1.0
    deviation_threshold: float = 0.5
    step: float = 0.25
    last_move: int = 0
    updates: int = 0
    reversals: int = 0
    explanation: str = "not tuned yet"

    @classmethod
    def initial(cls, deviation_threshold: float, config: TunerConfig | None = None) -> TuningState:
        """The state before any outcome: weight 1, the spec's threshold."""
        step = (config or TunerConfig()).initial_step
        return cls(deviation_threshold=deviation_threshold, step=step)


def _direction(outcome: Outcome, config: TunerConfig) -> tuple[int, str]:
    budget = config.bytes_moved_budget_per_hour
    ratio, target = outcome.local_hit_ratio, config.target_local_hit_ratio
    if target is None:
        return 0, "no target local-hit ratio"
    if budget is not None and outcome.bytes_moved_per_hour > budget:
        return 1, f"bytes moved {outcome.bytes_moved_per_hour:.3g}/h over budget {budget:.3g}/h"
    if ratio < target - config.deadband:
        return -1, f"local-hit {ratio:.2f} below target {target:.2f}"
    if ratio > target + config.deadband:
        return 1, f"local-hit {ratio:.2f} above target {target:.2f}, saving cost"
    return 0, f"local-hit {ratio:.2f} within {config.deadband:.2f} of target {target:.2f}"


def _deviation(state: TuningState, outcome: Outcome, config: TunerConfig) -> tuple[float, str]:
    use = outcome.hedge_use
    if use is None:
        return state.deviation_threshold, ""
    if use < 0.3:
        factor, why = 1.25, f"hedges {use:.0%} used, hedge less"
    elif use > 0.7:
        factor, why = 0.8, f"hedges {use:.0%} used, hedge more"
    else:
        return state.deviation_threshold, ""
    value = min(config.max_deviation, max(config.min_deviation, state.deviation_threshold * factor))
    return value, f"; deviation {state.deviation_threshold:.2f} -> {value:.2f}: {why}"


def tune(state: TuningState, outcome: Outcome, config: TunerConfig) -> TuningState:
    """Return the next tuning state after one window's outcome (pure).

    Args:
        state: the current knobs.
        outcome: what happened over the window.
        config: targets and bounds.

    Returns:
        The new state, with an explanation of the change (or of why nothing changed).
    """
    direction, why = _direction(outcome, config)
    step, reversals, last = state.step, state.reversals, state.last_move
    weight = state.cost_weight
    if direction != 0:
        if last == -direction:
            step = max(config.min_step, step * 0.5)
            reversals += 1
        elif last == direction:
            step = min(config.max_step, step * 1.2)
        weight = weight * math.exp(direction * step)
        weight = min(config.max_cost_weight, max(config.min_cost_weight, weight))
        last = direction
    else:
        step = max(config.min_step, step * 0.5)
    deviation, deviation_why = _deviation(state, outcome, config)
    if weight != state.cost_weight:
        text = f"cost weight {state.cost_weight:.2f} -> {weight:.2f}: {why}"
    elif direction != 0:
        text = f"cost weight held at its bound {weight:.2f}: {why}"
    else:
        text = f"cost weight {weight:.2f} held: {why}"
    return TuningState(
        cost_weight=weight,
        deviation_threshold=deviation,
        step=step,
        last_move=last,
        updates=state.updates + 1,
        reversals=reversals,
        explanation=text + deviation_why,
    )
