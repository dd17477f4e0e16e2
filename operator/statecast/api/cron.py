"""Cron schedules (five fields: minute, hour, day of month, month, day of week; UTC).

``*``, lists, ranges and ``/`` steps; day of week 0 and 7 are Sunday; where both day of
month and day of week are restricted, either matches (as cron has it). Used to check
``prediction.events[].schedule`` and by the forecaster to place the events in time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["CronSchedule", "parse_cron"]

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip


@dataclass(frozen=True)
class CronSchedule:
    """The allowed values of each cron field (day of week: 0 is Sunday, 7 too)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the schedule fires at ``moment`` (UTC, to the minute)."""
        weekday = (moment.weekday() + 1) % 7  # Monday 0 -> cron's 1, Sunday -> 0
        day_ok = moment.day in self.days
        weekday_ok = weekday in self.weekdays
        if self.any_day or self.any_weekday:
            calendar = day_ok and weekday_ok
        else:  # cron: either restriction matches when both are given
            calendar = day_ok or weekday_ok
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and calendar
        )


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                first, last = low, high
            elif "-" in body:
                first, last = (int(x) for x in body.split("-", 1))
            else:
                first = last = int(body)
                if step_text:
                    last = high
        except ValueError:
            raise ValueError(f"cron {name} field {text!r} is not a number") from None
        if step < 1 or not low <= first <= last <= high:
            raise ValueError(f"cron {name} field {text!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    """A five-field cron expression.

    Raises:
        ValueError: not five fields, or a field that is not a number, range or list
            within its bounds.
    """
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(f"cron schedule {expression!r} must have five fields")
    sets = [_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return CronSchedule(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*",
                        parts[4] == "*")  # fmt: skip
