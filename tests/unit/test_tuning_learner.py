"""The self-tuner: table tests of single updates and closed-loop tests against oscillation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.core.tuning import Outcome, TunerConfig, TuningState, tune

CONFIG = TunerConfig(target_local_hit_ratio=0.8, deadband=0.03)


@pytest.mark.parametrize(
    ("sentence", "outcome", "moves", "says"),
    [
        ("too few local hits lowers the cost weight", Outcome(0.6), -1, "below target"),
        ("more local hits than asked raises it to save cost", Outcome(0.95), 1, "above target"),
        ("inside the dead band nothing moves", Outcome(0.81), 0, "within"),
        (
            "bytes moved over budget raise it whatever the hits",
            Outcome(0.5, bytes_moved_per_hour=2e9),
            1,
            "over budget",
        ),
    ],
)
def test_one_update(sentence: str, outcome: Outcome, moves: int, says: str) -> None:
    config = TunerConfig(bytes_moved_budget_per_hour=1e9)
    after = tune(TuningState(), outcome, config)
    assert np.sign(after.cost_weight - 1.0) == moves, sentence
    assert says in after.explanation, after.explanation
    assert after.updates == 1


def test_a_reversal_halves_the_step_and_a_repeat_grows_it() -> None:
    down = tune(TuningState(), Outcome(0.5), CONFIG)
    again = tune(down, Outcome(0.5), CONFIG)
    back = tune(again, Outcome(0.99), CONFIG)
    assert again.step == pytest.approx(down.step * 1.2)
    assert back.step == pytest.approx(again.step * 0.5)
    assert back.reversals == 1


def test_a_settled_learner_answers_a_stray_window_with_a_small_step() -> None:
    state = TuningState(step=0.4)
    for _ in range(5):
        state = tune(state, Outcome(0.8), CONFIG)  # inside the dead band
    assert state.cost_weight == 1.0
    assert state.step == pytest.approx(CONFIG.min_step)
    stray = tune(state, Outcome(0.7), CONFIG)
    assert math.log(stray.cost_weight) == pytest.approx(-CONFIG.min_step)


def test_the_weight_stays_within_its_bounds() -> None:
    state = TuningState()
    for _ in range(100):
        state = tune(state, Outcome(0.0), CONFIG)
    assert state.cost_weight == pytest.approx(CONFIG.min_cost_weight)
    assert "bound" in state.explanation
    for _ in range(100):
        state = tune(state, Outcome(1.0), CONFIG)
    assert state.cost_weight == pytest.approx(CONFIG.max_cost_weight)


@pytest.mark.parametrize(("use", "direction"), [(0.1, 1), (0.5, 0), (0.9, -1), (None, 0)])
def test_unused_hedges_raise_the_deviation_threshold(use: float | None, direction: int) -> None:
    after = tune(TuningState(deviation_threshold=0.5), Outcome(0.8, hedge_use=use), CONFIG)
    assert np.sign(after.deviation_threshold - 0.5) == direction
    if direction:
        assert "hedge" in after.explanation


def test_deviation_threshold_is_bounded() -> None:
    state = TuningState(deviation_threshold=0.5)
    for _ in range(50):
        state = tune(state, Outcome(0.8, hedge_use=0.0), CONFIG)
    assert state.deviation_threshold == pytest.approx(CONFIG.max_deviation)


def closed_loop(
    slope: float, optimum: float, noise: float, seed: int, steps: int = 300
) -> list[TuningState]:
    """An environment where hits fall with ln(cost weight): hit = target - slope * ln(w / w*)."""
    rng = np.random.default_rng(seed)
    state = TuningState()
    states = []
    for _ in range(steps):
        hit = CONFIG.target_local_hit_ratio - slope * math.log(state.cost_weight / optimum)
        hit = min(1.0, max(0.0, hit + rng.uniform(-noise, noise)))
        state = tune(state, Outcome(hit), CONFIG)
        states.append(state)
    return states


def test_converges_and_then_holds() -> None:
    states = closed_loop(slope=0.15, optimum=2.7, noise=0.0, seed=0)
    tail = states[-50:]
    assert all(s.cost_weight == tail[0].cost_weight for s in tail)
    hit = 0.8 - 0.15 * math.log(tail[-1].cost_weight / 2.7)
    assert abs(hit - 0.8) <= CONFIG.deadband


@settings(max_examples=40, deadline=None)
@given(
    slope=st.floats(0.05, 0.4),
    optimum=st.floats(0.3, 5.0),
    noise=st.floats(0.0, 0.01),
    seed=st.integers(0, 1000),
)
def test_does_not_oscillate(slope: float, optimum: float, noise: float, seed: int) -> None:
    states = closed_loop(slope, optimum, noise, seed)
    tail = states[-100:]
    weights = [s.cost_weight for s in tail]
    # Settled: the last hundred updates stay within a few minimum steps of each other.
    assert math.log(max(weights) / min(weights)) <= 4 * CONFIG.min_step + 1e-9
    # Every reversal halves the step, so reversals are few.
    assert states[-1].reversals <= 12


def test_without_a_target_the_cost_weight_holds_and_only_the_threshold_learns() -> None:
    config = TunerConfig(target_local_hit_ratio=None, bytes_moved_budget_per_hour=1.0)
    outcome = Outcome(0.2, bytes_moved_per_hour=1e9, hedge_use=0.0)
    after = tune(TuningState(), outcome, config)
    assert after.cost_weight == 1.0
    assert after.deviation_threshold > 0.5
    assert after.explanation.startswith("cost weight 1.00 held: no target local-hit ratio")
