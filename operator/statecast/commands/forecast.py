"""``statecast forecast``: forecast every series of a wide CSV, with calibrated intervals.

Input: a CSV whose first column is ``timestamp`` and each further column one series
(its header is the name), rows in time order one step apart. An empty cell is a missing
sample. Output: JSON ``{"horizon": H, "level": L, "series": {NAME: {"model": str,
"mean": [...], "lower": [...], "upper": [...]}}}``. Bad input exits 2 with a one-line
reason naming the file and the row or column; it never prints a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from statecast.core.forecast import ForecastError, forecast_batch, forecast_series

__all__ = ["MIN_ROWS", "InputError", "parse_periods", "read_wide_csv", "register", "run"]

_log = logging.getLogger("statecast.forecast")

#: Fewest data rows accepted (a spread needs at least two differences).
MIN_ROWS = 3
#: Largest ``--horizon`` in steps: far beyond any use (a year of minutes is 525,600).
MAX_HORIZON = 1_000_000
#: Largest estimated memory of the forecasts (mean and band per series and step).
MAX_OUTPUT_BYTES = 1 << 30
#: Bytes a forecast step of one series takes, arrays and JSON text (estimated).
_BYTES_PER_POINT = 3 * 8 + 3 * 24


class InputError(Exception):
    """The input file cannot be used; the message is the one-line reason shown."""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``forecast`` subcommand."""
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    parser.add_argument("--input", type=Path, required=True, help="wide CSV: timestamp,series...")
    parser.add_argument(
        "--period",
        required=True,
        help="season length in steps, or several comma-separated (the main one first), "
        "e.g. 24,168 for a day and a week of hourly steps",
    )
    parser.add_argument("--horizon", type=int, required=True, help="steps ahead")
    parser.add_argument(
        "--level", type=float, default=0.9, help="interval level (default: %(default)s)"
    )
    parser.add_argument("--output", type=Path, required=True, help="JSON file ('-' for stdout)")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the vectorised fast path only (forecast_batch), for many columns",
    )
    parser.set_defaults(handler=run)


def _number(text: str, path: Path, row: int, column: str) -> float:
    cell = text.strip()
    if cell == "":
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise InputError(
            f"{path}: row {row}, column {column!r}: {cell!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise InputError(f"{path}: row {row}, column {column!r}: {cell!r} is not a finite count")
    if value < 0:
        raise InputError(f"{path}: row {row}, column {column!r}: negative count {cell}")
    return value


def read_wide_csv(path: Path) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Read a wide CSV into series names and an array of shape ``(n_series, T)``.

    Rows are numbered as lines of the file (the header is row 1).

    Raises:
        InputError: Missing or unreadable file, bad header, ragged row, non-numeric or
            negative value, fewer than :data:`MIN_ROWS` data rows.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: cannot read: {err}") from None
    if not rows:
        raise InputError(f"{path}: empty file, expected a header 'timestamp,<series>...'")
    header = [cell.strip() for cell in rows[0]]
    if not header or header[0] != "timestamp":
        raise InputError(f"{path}: row 1: first column must be 'timestamp', got {header[:1]}")
    names = header[1:]
    if not names:
        raise InputError(f"{path}: row 1: no series columns after 'timestamp'")
    for index, name in enumerate(names, start=2):
        if not name:
            raise InputError(f"{path}: row 1, column {index}: empty series name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{path}: row 1: duplicate series name {duplicates[0]!r}")
    values: list[list[float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise InputError(f"{path}: row {line} has {len(row)} fields, expected {len(header)}")
        values.append(
            [_number(cell, path, line, name) for cell, name in zip(row[1:], names, strict=True)]
        )
    if len(values) < MIN_ROWS:
        raise InputError(f"{path}: {len(values)} data rows, need at least {MIN_ROWS}")
    array = np.asarray(values, dtype=np.float64).T
    for name, series in zip(names, array, strict=True):
        if np.isnan(series).all():
            raise InputError(f"{path}: column {name!r} has no values")
    return names, array


def forecast_table(
    names: Sequence[str],
    history: npt.NDArray[np.float64],
    *,
    period: tuple[int, ...],
    horizon: int,
    level: float,
    fast: bool,
) -> dict[str, object]:
    """Forecast every series and build the output document."""
    series: dict[str, object] = {}
    if fast:
        batch = forecast_batch(history, period=period, horizon=horizon, level=level)
        for i, name in enumerate(names):
            series[name] = {
                "model": batch.models[i],
                "mean": batch.mean[i].tolist(),
                "lower": batch.lower[i].tolist(),
                "upper": batch.upper[i].tolist(),
            }
    else:
        for name, values in zip(names, history, strict=True):
            result = forecast_series(values, period=period, horizon=horizon, level=level)
            series[name] = {
                "model": result.model,
                "mean": result.mean.tolist(),
                "lower": result.lower.tolist(),
                "upper": result.upper.tolist(),
            }
    return {"horizon": horizon, "level": level, "series": series}


def parse_periods(text: str) -> tuple[int, ...]:
    """``--period``: one season length in steps or several, comma-separated.

    Raises:
        InputError: a value that is not a whole number of steps of at least 1.
    """
    periods = []
    for part in str(text).split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise InputError(f"--period must be whole numbers of steps, got {text!r}") from None
        if value < 1:
            raise InputError(f"--period must be at least 1, got {value}")
        periods.append(value)
    return tuple(periods)


def _check_output_size(series: int, horizon: int) -> None:
    """Refuse, before any forecast is made, one whose output would not fit in memory."""
    estimate = series * horizon * _BYTES_PER_POINT
    if estimate > MAX_OUTPUT_BYTES:
        raise InputError(
            f"{series} series x --horizon {horizon} would need ~{estimate / 2**30:.1f} GiB "
            f"of output (limit {MAX_OUTPUT_BYTES / 2**30:.0f} GiB): lower --horizon"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``statecast forecast``; returns 0, or 2 on bad input."""
    try:
        periods = parse_periods(args.period)
        if args.horizon < 1:
            raise InputError(f"--horizon must be at least 1, got {args.horizon}")
        if args.horizon > MAX_HORIZON:
            raise InputError(f"--horizon must be at most {MAX_HORIZON} steps, got {args.horizon}")
        if not 0.0 < args.level < 1.0:
            raise InputError(f"--level must be between 0 and 1, got {args.level}")
        names, history = read_wide_csv(args.input)
        _check_output_size(len(names), args.horizon)
        with warnings.catch_warnings():
            # statsmodels warns about convergence and index frequencies; not for users here.
            warnings.simplefilter("ignore")
            document = forecast_table(
                names,
                history,
                period=periods,
                horizon=args.horizon,
                level=args.level,
                fast=args.fast,
            )
        text = json.dumps(document)
        if str(args.output) == "-":
            sys.stdout.write(text + "\n")
        else:
            try:
                args.output.write_text(text + "\n", encoding="utf-8")
            except OSError as err:
                raise InputError(f"{args.output}: cannot write: {err.strerror}") from None
    except (InputError, ForecastError) as err:
        print(f"statecast forecast: {err}", file=sys.stderr)
        return 2
    _log.info("forecast_written series=%d output=%s", len(names), args.output)
    return 0
