"""Durations and quantities as Kubernetes users write them.

Durations are strings such as ``30s``, ``5m``, ``1h30m`` (Go's ``time.ParseDuration``
units ``ms``, ``s``, ``m``, ``h``, plus ``d`` for days). Quantities are byte sizes such as
``512Mi``, ``1Gi``, ``10M`` or a plain integer.

Errors: both parsers raise :class:`ValueError` with a message that names the bad text.
"""

from __future__ import annotations

import re
from datetime import timedelta

#: A duration as the CRDs accept it (checked by the API server too).
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
#: A duration CEL's ``duration()`` can read (no day unit): rules that compare durations
#: are only evaluated on these, so a value the pattern refuses gets one message, not a
#: second "type conversion error" from the rule.
CEL_DURATION_PATTERN = "^([0-9]+([.][0-9]+)?(ms|s|m|h))+$"  # no backslash: a CEL literal
#: :data:`DURATION_PATTERN` written for a CEL string literal (no backslash).
CEL_DURATION_OR_DAYS_PATTERN = "^([0-9]+([.][0-9]+)?(ms|s|m|h|d))+$"
#: A byte quantity as the CRDs accept it when given as a string.
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$"

#: Seconds in a day: the one day constant (durations, seasons, history, refits).
DAY_S = 86_400.0

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY_S}
_QUANTITY = re.compile(QUANTITY_PATTERN)
_QUANTITY_SUFFIXES = {
    "": 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def parse_duration(text: str) -> timedelta:
    """Parse a Kubernetes-style duration such as ``1h30m`` into a :class:`timedelta`.

    Raises:
        ValueError: when ``text`` is not a duration.
    """
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h30m")
    seconds = sum(
        float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Format a :class:`timedelta` the way :func:`parse_duration` reads it (``1h5m``)."""
    total = value.total_seconds()
    if total < 0:
        raise ValueError(f"negative duration {value}")
    if total != int(total):
        return f"{round(total * 1000)}ms"
    seconds = int(total)
    parts: list[str] = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_quantity(value: int | str) -> int:
    """Parse a byte quantity (``512Mi``, ``1G``, ``1000``) into a whole number of bytes.

    Raises:
        ValueError: when ``value`` is negative or not a quantity.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        _quantity_number(value)
        return value
    return int(_quantity_number(value))


def parse_quantity_fraction(value: int | str) -> float:
    """Parse a byte quantity as :func:`parse_quantity` does, its fraction of a byte kept.

    For a quantity that scales a price rather than sizes a store (``20253369.3333``: a
    mean size of several resources).

    Raises:
        ValueError: when ``value`` is negative or not a quantity.
    """
    return _quantity_number(value)


def _quantity_number(value: int | str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid quantity {value!r}: must not be negative")
        return float(value)
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError(f"invalid quantity {value!r}: expected e.g. 512Mi, 1Gi, 1000")
    number = value[: len(value) - len(match.group(2) or "")]
    return float(number) * _QUANTITY_SUFFIXES[match.group(2) or ""]
