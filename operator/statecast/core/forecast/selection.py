"""The default path, :func:`forecast_series`: the fast family and statsmodels, by backtest.

The fast family (:mod:`~statecast.core.forecast.fastpath`) runs on the series with a
denser grid than the batch path (every origin of its span, every step ahead scored).
The statsmodels models of :mod:`~statecast.core.forecast.models` then compete with it
on :data:`ORIGINS` rolling origins spread over the last longest season (the fast
family refitted at each origin; a statsmodels model fitted once on up to
:data:`FIT_SEASONS` seasons before the first origin and then extended with its
parameters fixed), and so does the equal-weight mean (log scale) of the fast family and
the best statsmodels model. The fast family stays unless another candidate beats its
count-scale MAE by :data:`MARGIN`. A statsmodels winner's interval is calibrated on the
same backtest: conformal quantiles of its residuals divided by its own standard error;
a combination keeps the fast family's calibrated offsets around the combined point.
Too-short histories, all-zero and intermittent series stay with the fast family, whose
fallbacks handle them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.calibration import conformal_offsets, interval_probs
from statecast.core.forecast.engine import FastForecast, fast_forecast, forecast_from_fast
from statecast.core.forecast.errors import ForecastError, ParameterError
from statecast.core.forecast.family import Grid
from statecast.core.forecast.fastpath import round_counts
from statecast.core.forecast.models import CANDIDATES, Candidate
from statecast.core.forecast.result import QUANTILE_LEVELS, Forecast
from statecast.core.forecast.transform import (
    Periods,
    as_history,
    as_periods,
    check_parameters,
    fill_missing,
    from_log,
    to_log,
)

__all__ = ["DENSE", "FIT_SEASONS", "MARGIN", "ORIGINS", "Backtest", "forecast_series", "select"]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Rolling origins of the model-selection backtest.
ORIGINS = 8
#: Relative MAE improvement another candidate needs over the fast family.
MARGIN = 0.10
#: Seasons of history a statsmodels model is fitted on (at most).
FIT_SEASONS = 5
#: Share of zero samples above which a series counts as intermittent.
INTERMITTENT = 0.5
#: The fast family's grid on this path: every origin of the span, every step scored.
DENSE = Grid(max_origins=1024, max_steps=64)


@dataclass(frozen=True)
class Backtest:
    """Backtest of one candidate on the selection origins.

    Attributes:
        name: Candidate name.
        mae: Count-scale MAE over all origins and steps.
        zhat: Log-scale forecasts per origin and step, shape ``(origins, H)``.
        se: Log-scale standard errors, same shape.
    """

    name: str
    mae: float
    zhat: FloatArray
    se: FloatArray


def _origins(n_steps: int, period: int, horizon: int) -> IntArray:
    spacing = max(horizon, period // ORIGINS, 1)
    last = n_steps - 1 - horizon
    return np.asarray([last - i * spacing for i in range(ORIGINS - 1, -1, -1)], dtype=np.int64)


def _truth(y: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
    return np.asarray(y[origins[:, None] + np.arange(1, horizon + 1)[None, :]], dtype=np.float64)


def _backtest_candidate(
    candidate: Candidate,
    y: FloatArray,
    z: FloatArray,
    exog: FloatArray | None,
    origins: IntArray,
    *,
    periods: tuple[int, ...],
    horizon: int,
) -> Backtest | None:
    first = int(origins[0])
    begin = max(0, first + 1 - FIT_SEASONS * max(periods))
    if not candidate.usable(first + 1 - begin, periods[0], exog is not None):
        return None
    part = None if exog is None else exog[begin : first + 1]
    try:
        fitted = candidate.fit(
            z[begin : first + 1], part, period=periods[0], start=begin, seasons=periods[1:]
        )
        zhat = np.empty((len(origins), horizon))
        se = np.empty((len(origins), horizon))
        position = first
        for i, origin in enumerate(origins):
            if origin > position:
                new_exog = None if exog is None else exog[position + 1 : origin + 1]
                fitted = fitted.extend(z[position + 1 : origin + 1], new_exog)
                position = int(origin)
            future = None if exog is None else exog[origin + 1 : origin + 1 + horizon]
            result = fitted.forecast(horizon, future)
            zhat[i], se[i] = result.zhat, result.se
    except (ValueError, np.linalg.LinAlgError, IndexError) as err:
        _log.info("forecast_candidate_failed model=%s error=%s", candidate.name, err)
        return None
    if not (np.all(np.isfinite(zhat)) and np.all(np.isfinite(se))):
        return None
    truth = _truth(y, origins, horizon)
    return Backtest(candidate.name, float(np.nanmean(np.abs(truth - from_log(zhat)))), zhat, se)


def _backtest_fast(
    y: FloatArray, origins: IntArray, *, periods: tuple[int, ...], horizon: int, level: float
) -> FloatArray:
    """The fast family refitted at each origin: log-scale forecasts ``(origins, H)``."""
    rows = []
    for origin in origins:
        fast = fast_forecast(
            y[None, : origin + 1], periods=periods, horizon=horizon, level=level, quantiles=(),
            grid=DENSE,
        )  # fmt: skip
        point = from_log(fast.zhat[0])
        rows.append(np.log1p(round_counts(point)) if fast.whole[0] else fast.zhat[0])
    return np.stack(rows)


def select(
    y: FloatArray,
    *,
    period: Periods,
    horizon: int,
    level: float,
    exog: FloatArray | None = None,
    candidates: tuple[Candidate, ...] = CANDIDATES,
) -> tuple[float, list[Backtest]]:
    """Backtest the fast family, the usable candidates and their mean on the same origins.

    Returns:
        The fast family's MAE (NaN when not backtested) and the other candidates'
        backtests (statsmodels models, then ``mean(fast,<best>)``), best first. Both are
        empty/NaN when the history is too short, all zero or intermittent (the fast
        family then stands alone).
    """
    periods = as_periods(period)
    origins = _origins(len(y), max(periods), horizon)
    observed = y[~np.isnan(y)]
    if (
        origins[0] < 2 * periods[0]
        or observed.size == 0
        or np.mean(observed == 0) > INTERMITTENT
        or not np.isfinite(y[origins[0] + 1 :]).any()
    ):
        return float("nan"), []
    z = fill_missing(to_log(y[None, :]), periods[0])[0]
    results = [
        bt
        for candidate in candidates
        if (
            bt := _backtest_candidate(
                candidate, y, z, exog, origins, periods=periods, horizon=horizon
            )
        )
        is not None
    ]
    fast = _backtest_fast(y, origins, periods=periods, horizon=horizon, level=level)
    truth = _truth(y, origins, horizon)
    fast_mae = float(np.nanmean(np.abs(truth - from_log(fast))))
    if results:
        best = min(results, key=lambda bt: bt.mae)
        mixed = 0.5 * (fast + best.zhat)
        mae = float(np.nanmean(np.abs(truth - from_log(mixed))))
        results.append(Backtest(f"mean(fast,{best.name})", mae, mixed, best.se))
    return fast_mae, sorted(results, key=lambda bt: bt.mae)


def _refit_forecast(
    candidate: Candidate,
    z: FloatArray,
    exog: FloatArray | None,
    future_exog: FloatArray | None,
    *,
    periods: tuple[int, ...],
    horizon: int,
) -> tuple[FloatArray, FloatArray]:
    """The candidate fitted on the newest seasons: log-scale forecast and standard error."""
    begin = max(0, len(z) - FIT_SEASONS * max(periods))
    fitted = candidate.fit(
        z[begin:], None if exog is None else exog[begin:], period=periods[0], start=begin,
        seasons=periods[1:],
    )  # fmt: skip
    result = fitted.forecast(horizon, future_exog)
    return result.zhat, result.se


def _calibrated_forecast(
    name: str,
    zhat: FloatArray,
    se: FloatArray,
    scores: FloatArray,
    *,
    level: float,
    score: float,
    cap: float,
) -> Forecast:
    """A forecast whose interval is ``zhat + q * se``, ``q`` conformal on pooled ``scores``."""
    probs = interval_probs(level, QUANTILE_LEVELS)
    offsets = conformal_offsets(scores.reshape(1, -1, 1), probs)[0, 0]

    def at(q: float) -> FloatArray:
        return np.minimum(from_log(zhat + q * se), cap)

    mean = from_log(zhat)
    return Forecast(
        model=name,
        level=level,
        mean=mean,
        lower=np.minimum(at(offsets[0]), mean),
        upper=np.maximum(at(offsets[1]), mean),
        quantiles={q: at(offsets[2 + i]) for i, q in enumerate(QUANTILE_LEVELS)},
        score=score,
    )


def _as_exog(values: npt.ArrayLike, length: int, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != length:
        raise ParameterError(f"{what} must have {length} rows, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{what} holds a missing or infinite value")
    return array


def _regressors(
    y: FloatArray, horizon: int, exog: npt.ArrayLike | None, future_exog: npt.ArrayLike | None
) -> tuple[FloatArray | None, FloatArray | None]:
    if (exog is None) != (future_exog is None):
        raise ParameterError("exog and future_exog must be given together")
    x = None if exog is None else _as_exog(exog, len(y), "exog")
    x_future = None if future_exog is None else _as_exog(future_exog, horizon, "future_exog")
    if x is not None and x_future is not None and x.shape[1] != x_future.shape[1]:
        raise ParameterError("exog and future_exog must have the same number of columns")
    return x, x_future


def forecast_series(
    history: npt.ArrayLike,
    *,
    period: Periods,
    horizon: int,
    level: float = 0.9,
    exog: npt.ArrayLike | None = None,
    future_exog: npt.ArrayLike | None = None,
) -> Forecast:
    """Forecast one series, choosing the model by rolling-origin backtest.

    Args:
        history: Counts per step, oldest first; NaN marks a missing sample.
        period: Season length in steps, or several (the main one first).
        horizon: Steps ahead.
        level: Nominal coverage of the interval.
        exog: Known regressors over the history (events, consumer pods), shape ``(T,)``
            or ``(T, k)``; they enter the SARIMAX candidate.
        future_exog: The same regressors over the horizon, shape ``(H,)`` or ``(H, k)``.

    Returns:
        The forecast of the candidate with the best backtest.

    Raises:
        HistoryError: The history is not 1-D, empty, negative or infinite.
        ParameterError: A parameter is out of range or the regressors do not match.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    periods = as_periods(period)
    y = as_history(history, ndim=1)
    x, x_future = _regressors(y, horizon, exog, future_exog)
    fast = fast_forecast(y[None, :], periods=periods, horizon=horizon, level=level, grid=DENSE)
    chosen = forecast_from_fast(fast, level)
    fast_mae, ranked = select(y, period=periods, horizon=horizon, level=level, exog=x)
    if not ranked or not np.isfinite(fast_mae) or ranked[0].mae >= (1.0 - MARGIN) * fast_mae:
        return chosen
    try:
        return _winner(ranked[0], ranked, fast, y, x, x_future, periods=periods, level=level)
    except (ValueError, np.linalg.LinAlgError, ForecastError) as err:
        _log.info("forecast_refit_failed model=%s error=%s", ranked[0].name, err)
        return chosen


def _winner(
    best: Backtest,
    ranked: list[Backtest],
    fast: FastForecast,
    y: FloatArray,
    x: FloatArray | None,
    x_future: FloatArray | None,
    *,
    periods: tuple[int, ...],
    level: float,
) -> Forecast:
    """The forecast of a winning statsmodels model or of its mean with the fast family."""
    horizon = fast.zhat.shape[1]
    z = fill_missing(to_log(y[None, :]), periods[0])[0]
    origins = _origins(len(y), max(periods), horizon)
    residual = to_log(_truth(y, origins, horizon)) - best.zhat
    scale = float(fast.fit.scale[0]) if fast.fit is not None else 1.0
    name = best.name.removeprefix("mean(fast,").removesuffix(")")
    candidate = next(c for c in CANDIDATES if c.name == name)
    zhat, se = _refit_forecast(candidate, z, x, x_future, periods=periods, horizon=horizon)
    cap = float(fast.cap[0])
    if best.name == name:
        return _calibrated_forecast(
            name, zhat, se, residual / best.se, level=level, score=best.mae / scale, cap=cap
        )
    mixed = 0.5 * (fast.zhat[0] + zhat)
    single = next(bt for bt in ranked if bt.name == name)
    spread = np.sqrt(0.5 * (fast.spread[0] ** 2 + se**2))
    pooled = np.sqrt(0.5 * (np.mean(fast.spread[0] ** 2) + single.se**2))
    return _calibrated_forecast(
        f"mean({fast.models[0]},{name})", mixed, spread, residual / pooled,
        level=level, score=best.mae / scale, cap=cap,
    )  # fmt: skip
