"""Known events: cron schedules, factors per interval, and the operator's uplift."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from statecast.core.forecast import ParameterError
from statecast.core.forecast.events import Event, deflate, inflate, multipliers, parse_cron

NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)  # a Monday


def edges(start: dt.datetime, minutes: int, step_min: int = 1) -> np.ndarray:
    first = start.timestamp()
    return first + 60.0 * step_min * np.arange(minutes // step_min + 1)


@pytest.mark.parametrize(
    ("expression", "moment", "fires"),
    [
        ("0 12 * * *", NOON, True),
        ("0 12 * * *", NOON + dt.timedelta(minutes=1), False),
        ("*/15 * * * *", NOON + dt.timedelta(minutes=45), True),
        ("0 9-17 * * 1-5", NOON, True),  # weekdays, office hours
        ("0 9-17 * * 0,6", NOON, False),  # weekends only
        ("0 12 30 11 *", NOON, True),
        ("0 12 1 * 1", NOON, True),  # day of month or day of week, as cron has it
        ("0 12 * * 7", NOON + dt.timedelta(days=6), True),  # 7 is Sunday too
    ],
)
def test_cron_schedules_fire_when_cron_would(
    expression: str, moment: dt.datetime, fires: bool
) -> None:
    assert parse_cron(expression).matches(moment) is fires


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 12 * *", "five fields"),
        ("61 * * * *", "outside"),
        ("a * * * *", "not a number"),
        ("*/0 * * * *", "outside"),
    ],
)
def test_bad_cron_schedules_are_rejected(expression: str, reason: str) -> None:
    with pytest.raises(ParameterError, match=reason):
        parse_cron(expression)


def test_a_one_time_event_multiplies_the_intervals_it_covers() -> None:
    event = Event(duration_s=600, effect=3.0, at=(NOON + dt.timedelta(minutes=5)).timestamp())
    factors = multipliers([event], edges(NOON, 20))
    assert factors[:5].tolist() == [1.0] * 5
    assert factors[5:15].tolist() == [3.0] * 10
    assert factors[15:].tolist() == [1.0] * 5
    half = multipliers([event], edges(NOON, 20, step_min=2))  # 5..15 min over 2-min steps
    assert half[2] == pytest.approx(2.0)  # minutes 4-6: half covered
    assert half[3] == pytest.approx(3.0)


def test_a_recurring_event_and_an_overlapping_one_multiply() -> None:
    daily = Event(duration_s=3600, effect=2.0, schedule="0 12 * * *")
    once = Event(duration_s=60, effect=5.0, at=NOON.timestamp())
    window = edges(NOON - dt.timedelta(days=1), 24 * 60 + 2)
    factors = multipliers([daily, once], window)
    assert factors[0] == pytest.approx(2.0)  # yesterday noon
    assert factors[60] == pytest.approx(1.0)
    assert factors[24 * 60] == pytest.approx(10.0)  # today noon: both
    assert factors[24 * 60 + 1] == pytest.approx(2.0)


def test_deflate_and_inflate_undo_each_other() -> None:
    factors = np.array([1.0, 2.0, 4.0])
    values = np.array([[3.0, 8.0, 8.0]])
    np.testing.assert_allclose(deflate(values, factors), [[3.0, 4.0, 2.0]])
    np.testing.assert_allclose(inflate(deflate(values, factors), factors), values)


def test_a_resource_with_a_bad_cron_schedule_is_refused() -> None:
    from pydantic import ValidationError

    from statecast.api.shared_resource import SharedResourceSpec

    event = {"name": "batch", "schedule": "0 25 * * *"}
    with pytest.raises(ValidationError, match="outside 0-23"):
        SharedResourceSpec.model_validate({"prediction": {"events": [event]}})


def test_learned_effects_follow_the_history_and_keep_the_prior_without_it() -> None:
    from statecast.core.forecast.events import factors, learned_effects, shares

    event = Event(duration_s=3600, effect=2.0, schedule="0 12 * * 1")  # Mondays at noon
    steps = 3 * 7 * 24
    hourly = NOON.timestamp() - 3600.0 * np.arange(steps, -1, -1)
    share = shares([event], hourly)
    assert share.sum() == 3  # three Mondays' noons
    flat = np.full((3, steps), 40.0)
    history = flat * np.array([[4.0], [1.0], [2.0]]) ** share  # x4, untouched, as stated
    history[2] = np.nan  # ... but never sampled
    effects = learned_effects(history, [event], share, lags=(24, 168), interval=3600.0)
    # The first Monday has no reference before it: two occurrences against a prior worth
    # one, on the log1p scale: (2 log(161/41) + log 2) / 3 and (0 + log 2) / 3.
    learned = np.exp((2 * np.log(161 / 41) + np.log(2)) / 3)
    np.testing.assert_allclose(effects[:, 0], [learned, 2 ** (1 / 3), 2.0], rtol=1e-6)
    np.testing.assert_allclose(factors(share, effects)[:, share[0] > 0], effects.repeat(3, axis=1))
    assert learned_effects(history, [], share[:0], lags=(24,), interval=3600.0).shape == (3, 0)
