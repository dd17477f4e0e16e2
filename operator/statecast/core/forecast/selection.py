"""Model selection per series by rolling-origin backtest, and :func:`forecast_series`.

The candidates are the fast family (:mod:`statecast.core.forecast.fastpath`, itself
tuned on a dense backtest) and the statsmodels models of
:mod:`statecast.core.forecast.models`. They are compared on the same rolling origins
(:data:`ORIGINS` origins spread over the last season, each forecasting ``horizon``
steps): the fast family is refitted on the history up to each origin; a statsmodels
model is fitted once at the first origin and then extended with its parameters fixed.
A statsmodels model must beat the fast family's count-scale MAE by :data:`MARGIN` to be
chosen; its interval is calibrated on the same backtest (split-conformal quantiles of
residuals divided by the model's own standard error). Too-short histories, all-zero and
intermittent series stay with the fast family, whose fallbacks handle them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.calibration import conformal_offsets, interval_probs
from statecast.core.forecast.engine import fast_forecast, forecast_from_fast
from statecast.core.forecast.errors import ForecastError, ParameterError
from statecast.core.forecast.fastpath import round_counts
from statecast.core.forecast.models import CANDIDATES, Candidate
from statecast.core.forecast.result import QUANTILE_LEVELS, Forecast
from statecast.core.forecast.transform import (
    as_history,
    check_parameters,
    fill_missing,
    from_log,
    to_log,
)

__all__ = ["MARGIN", "ORIGINS", "Backtest", "forecast_series", "select"]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Rolling origins of the model-selection backtest.
ORIGINS = 8
#: Relative MAE improvement a statsmodels model needs over the fast family.
MARGIN = 0.10
#: Seasons of history a statsmodels model is fitted on (at most).
FIT_SEASONS = 5
#: Share of zero samples above which a series counts as intermittent.
INTERMITTENT = 0.5


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


def _origins(n_steps: int, period: int, horizon: int) -> npt.NDArray[np.int64]:
    spacing = max(horizon, period // ORIGINS, 1)
    last = n_steps - 1 - horizon
    return np.asarray([last - i * spacing for i in range(ORIGINS - 1, -1, -1)], dtype=np.int64)


def _backtest_candidate(
    candidate: Candidate,
    y: FloatArray,
    z: FloatArray,
    exog: FloatArray | None,
    origins: npt.NDArray[np.int64],
    *,
    period: int,
    horizon: int,
) -> Backtest | None:
    first = int(origins[0])
    begin = max(0, first + 1 - FIT_SEASONS * period)
    part_exog = None if exog is None else exog[begin : first + 1]
    if not candidate.usable(first + 1 - begin, period, exog is not None):
        return None
    try:
        fitted = candidate.fit(z[begin : first + 1], part_exog, period=period, start=begin)
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
    truth = y[origins[:, None] + np.arange(1, horizon + 1)[None, :]]
    return Backtest(candidate.name, float(np.nanmean(np.abs(truth - from_log(zhat)))), zhat, se)


def _backtest_fast(
    y: FloatArray, origins: npt.NDArray[np.int64], *, period: int, horizon: int, level: float
) -> float:
    errors = []
    for origin in origins:
        fast = fast_forecast(
            y[None, : origin + 1], period=period, horizon=horizon, level=level, quantiles=()
        )
        truth = y[origin + 1 : origin + 1 + horizon]
        point = from_log(fast.zhat[0])
        errors.append(np.abs(truth - (round_counts(point) if fast.whole[0] else point)))
    return float(np.nanmean(np.stack(errors)))


def select(
    y: FloatArray,
    *,
    period: int,
    horizon: int,
    level: float,
    exog: FloatArray | None = None,
    candidates: tuple[Candidate, ...] = CANDIDATES,
) -> tuple[float, list[Backtest]]:
    """Backtest the fast family and the usable candidates on the same rolling origins.

    Returns:
        The fast family's MAE (NaN when not backtested) and the candidates' backtests,
        best first. Both are empty/NaN when the history is too short, all zero or
        intermittent (the fast family then stands alone).
    """
    n_steps = len(y)
    origins = _origins(n_steps, period, horizon)
    observed = y[~np.isnan(y)]
    if (
        origins[0] < 2 * period
        or observed.size == 0
        or np.mean(observed == 0) > INTERMITTENT
        or not np.isfinite(y[origins[0] + 1 :]).any()
    ):
        return float("nan"), []
    z = fill_missing(to_log(y[None, :]), period)[0]
    results = [
        bt
        for candidate in candidates
        if (
            bt := _backtest_candidate(
                candidate, y, z, exog, origins, period=period, horizon=horizon
            )
        )
        is not None
    ]
    fast_mae = _backtest_fast(y, origins, period=period, horizon=horizon, level=level)
    return fast_mae, sorted(results, key=lambda bt: bt.mae)


def _statsmodels_forecast(
    best: Backtest,
    candidate: Candidate,
    y: FloatArray,
    exog: FloatArray | None,
    future_exog: FloatArray | None,
    *,
    period: int,
    horizon: int,
    level: float,
    scale: float,
) -> Forecast:
    z = fill_missing(to_log(y[None, :]), period)[0]
    n_steps = len(y)
    begin = max(0, n_steps - FIT_SEASONS * period)
    fitted = candidate.fit(
        z[begin:], None if exog is None else exog[begin:], period=period, start=begin
    )
    result = fitted.forecast(horizon, future_exog)
    origins = _origins(n_steps, period, horizon)
    truth = y[origins[:, None] + np.arange(1, horizon + 1)[None, :]]
    scores = (to_log(truth) - best.zhat) / best.se
    probs = interval_probs(level, QUANTILE_LEVELS)
    # Pool the steps: one conformal sample of normalised residuals per series.
    offsets = conformal_offsets(scores.reshape(1, -1, 1), probs)[0, 0]
    quantile = {
        q: from_log(result.zhat + offsets[2 + i] * result.se) for i, q in enumerate(QUANTILE_LEVELS)
    }
    mean = from_log(result.zhat)
    lower = np.minimum(from_log(result.zhat + offsets[0] * result.se), mean)
    upper = np.maximum(from_log(result.zhat + offsets[1] * result.se), mean)
    return Forecast(
        model=candidate.name,
        level=level,
        mean=mean,
        lower=lower,
        upper=upper,
        quantiles=quantile,
        score=best.mae / scale,
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


def forecast_series(
    history: npt.ArrayLike,
    *,
    period: int,
    horizon: int,
    level: float = 0.9,
    exog: npt.ArrayLike | None = None,
    future_exog: npt.ArrayLike | None = None,
) -> Forecast:
    """Forecast one series, choosing the model by rolling-origin backtest.

    Args:
        history: Counts per step, oldest first; NaN marks a missing sample.
        period: Season length in steps.
        horizon: Steps ahead.
        level: Nominal coverage of the interval.
        exog: Known regressors over the history (events, consumer pods), shape ``(T,)``
            or ``(T, k)``; they enter the SARIMAX candidate.
        future_exog: The same regressors over the horizon, shape ``(H,)`` or ``(H, k)``.

    Returns:
        The forecast of the model with the best backtest.

    Raises:
        HistoryError: The history is not 1-D, empty, negative or infinite.
        ParameterError: A parameter is out of range or the regressors do not match.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    y = as_history(history, ndim=1)
    if (exog is None) != (future_exog is None):
        raise ParameterError("exog and future_exog must be given together")
    x = None if exog is None else _as_exog(exog, len(y), "exog")
    x_future = None if future_exog is None else _as_exog(future_exog, horizon, "future_exog")
    if x is not None and x_future is not None and x.shape[1] != x_future.shape[1]:
        raise ParameterError("exog and future_exog must have the same number of columns")
    fast = fast_forecast(y[None, :], period=period, horizon=horizon, level=level)
    chosen = forecast_from_fast(fast, level)
    fast_mae, ranked = select(y, period=period, horizon=horizon, level=level, exog=x)
    if not ranked or not np.isfinite(fast_mae):
        return chosen
    best = ranked[0]
    if best.mae >= (1.0 - MARGIN) * fast_mae:
        return chosen
    candidate = next(c for c in CANDIDATES if c.name == best.name)
    scale = float(fast.fit.scale[0]) if fast.fit is not None else 1.0
    try:
        return _statsmodels_forecast(
            best,
            candidate,
            y,
            x,
            x_future,
            period=period,
            horizon=horizon,
            level=level,
            scale=scale,
        )
    except (ValueError, np.linalg.LinAlgError, ForecastError) as err:
        _log.info("forecast_refit_failed model=%s error=%s", best.name, err)
        return chosen
