"""The default path, :func:`forecast_series`: candidates chosen by rolling-origin backtest.

Candidates, each backtested on the same :data:`ORIGINS` rolling origins spread over the
newest longest season (``horizon`` apart at least):

* ``fast``: the guarded fast path itself (:func:`~statecast.core.forecast.engine.fast_forecast`
  with the operator's grid), refitted at each origin on a window of the history as long
  as the first origin's (one block of rows, so it costs one fast-path call);
* the baselines: naive and seasonal naive of every season;
* the statsmodels models of :mod:`~statecast.core.forecast.models` that can fit the
  history (fitted once on up to :data:`FIT_SEASONS` longest seasons before the first
  origin, then extended with their parameters fixed; a winner is refitted on the
  newest seasons for the final forecast);
* ``mean(...)``: the equal-weight mean (log scale) of the :data:`TOP` best of the above.

The fast path stays unless another candidate beats its count-scale MAE by
:data:`MARGIN` and is the better of the two at :data:`WINS` of the origins (a sign test;
with known regressors the margin alone). Eight origins are a noisy judge and the winner
of a noisy contest looks better than it is; the fast path already chose among its
members and the baselines on hundreds of origins.

Whatever wins (the fast path too), the interval has the shape of the fast path's
split-conformal calibration per step ahead (hundreds of origins; eight cannot calibrate
a 95% interval alone), centred on the winner's point and stretched where the winner's
own residuals at the selection origins fall outside it, never narrowed
(:mod:`~statecast.core.forecast.recalibration`). Too-short histories, all-zero and
intermittent series stay with the fast path, whose fallbacks handle them.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from statecast.core.forecast.engine import FastForecast, fast_forecast, forecast_from_fast
from statecast.core.forecast.errors import ForecastError, ParameterError
from statecast.core.forecast.fastpath import round_counts, spread
from statecast.core.forecast.models import CANDIDATES, Candidate
from statecast.core.forecast.recalibration import stretch, stretched
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

__all__ = [
    "FAST",
    "FIT_SEASONS",
    "MARGIN",
    "ORIGINS",
    "TOP",
    "WINS",
    "Backtest",
    "chosen",
    "forecast_series",
    "select",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Rolling origins of the selection backtest.
ORIGINS = 8
#: Relative MAE improvement another candidate needs over the fast path.
MARGIN = 0.10
#: Origins (of :data:`ORIGINS`) at which it must beat the fast path too: 7 of 8 is a
#: one-sided sign test at 5%.
WINS = 7
#: Seasons of history a statsmodels model is fitted on (at most).
FIT_SEASONS = 5
#: Share of zero samples above which a series counts as intermittent.
INTERMITTENT = 0.5
#: Candidates combined into the mean candidate.
TOP = 3
#: Name of the fast path among the candidates.
FAST = "fast"


@dataclass(frozen=True)
class Backtest:
    """Backtest of one candidate on the selection origins.

    Attributes:
        name: Candidate name (``fast``, ``naive``, ``seasonal_naive/P``, a statsmodels
            model, ``mean(a,b,...)``).
        mae: Count-scale MAE over all origins and steps.
        zhat: Log-scale forecasts per origin and step, shape ``(origins, H)``.
        origin_mae: Count-scale MAE per origin, shape ``(origins,)`` (``None``: unknown).
    """

    name: str
    mae: float
    zhat: FloatArray
    origin_mae: FloatArray | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The candidates a mean combines, or the candidate itself."""
        if self.name.startswith("mean(") and self.name.endswith(")"):
            return tuple(self.name[5:-1].split(","))
        return (self.name,)


def _origins(n_steps: int, period: int, horizon: int) -> IntArray:
    spacing = max(horizon, period // ORIGINS, 1)
    last = n_steps - 1 - horizon
    return np.asarray([last - i * spacing for i in range(ORIGINS - 1, -1, -1)], dtype=np.int64)


def _truth(y: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
    return np.asarray(y[origins[:, None] + np.arange(1, horizon + 1)[None, :]], dtype=np.float64)


def _scored(name: str, truth: FloatArray, zhat: FloatArray) -> Backtest:
    """A candidate's backtest: MAE over everything and per origin (NaN truth ignored)."""
    errors = np.abs(truth - from_log(zhat))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an origin without truth: NaN
        per_origin = np.nanmean(errors, axis=1)
    return Backtest(name, float(np.nanmean(errors)), zhat, np.asarray(per_origin))


def _backtest_candidate(
    candidate: Candidate,
    z: FloatArray,
    exog: FloatArray | None,
    origins: IntArray,
    *,
    periods: tuple[int, ...],
    horizon: int,
) -> FloatArray | None:
    """A statsmodels candidate's log-scale forecasts per origin, or ``None`` if unusable."""
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
        position = first
        for i, origin in enumerate(origins):
            if origin > position:
                new_exog = None if exog is None else exog[position + 1 : origin + 1]
                fitted = fitted.extend(z[position + 1 : origin + 1], new_exog)
                position = int(origin)
            future = None if exog is None else exog[origin + 1 : origin + 1 + horizon]
            zhat[i] = fitted.forecast(horizon, future).zhat
    except (ValueError, np.linalg.LinAlgError, IndexError) as err:
        _log.info("forecast_candidate_failed model=%s error=%s", candidate.name, err)
        return None
    return zhat if np.all(np.isfinite(zhat)) else None


def _backtest_fast(
    y: FloatArray, origins: IntArray, *, periods: tuple[int, ...], horizon: int, level: float
) -> FloatArray:
    """The guarded fast path at each origin: log-scale forecasts ``(origins, H)``.

    Each origin sees the same number of samples before it (the first origin's history),
    so all origins go through the fast path as one block of rows.
    """
    length = int(origins[0]) + 1
    windows = np.stack([y[origin + 1 - length : origin + 1] for origin in origins])
    fast = fast_forecast(windows, periods=periods, horizon=horizon, level=level, quantiles=())
    rounded = np.log1p(round_counts(from_log(fast.zhat)))
    return np.where(fast.whole[:, None], rounded, fast.zhat)


def _baselines(
    z: FloatArray, origins: IntArray, *, periods: tuple[int, ...], horizon: int
) -> dict[str, FloatArray]:
    """Naive and seasonal naive of each season at each origin (log scale)."""
    steps = np.arange(1, horizon + 1)
    out = {"naive": np.repeat(z[origins][:, None], horizon, axis=1)}
    for period in periods:
        lag = period * ((steps - 1) // period + 1)  # the same phase, a whole season back
        columns = origins[:, None] + steps[None, :] - lag[None, :]
        if columns.min() >= 0:
            name = "seasonal_naive" if period == periods[0] else f"seasonal_naive/{period}"
            out[name] = z[columns]
    return out


def _too_hard(y: FloatArray, origins: IntArray, periods: tuple[int, ...]) -> bool:
    """Whether the fast path must stand alone (short, all-zero or intermittent history)."""
    observed = y[~np.isnan(y)]
    return bool(
        origins[0] < 2 * periods[0]
        or observed.size == 0
        or np.mean(observed == 0) > INTERMITTENT
        or not np.isfinite(y[origins[0] + 1 :]).any()
    )


def select(
    y: FloatArray,
    *,
    period: Periods,
    horizon: int,
    level: float,
    exog: FloatArray | None = None,
    candidates: tuple[Candidate, ...] = CANDIDATES,
) -> list[Backtest]:
    """Backtest every candidate and the mean of the best :data:`TOP` on the same origins.

    Returns:
        The backtests, best first; empty when the history is too short, all zero or
        intermittent (the fast path then stands alone).
    """
    periods = as_periods(period)
    origins = _origins(len(y), max(periods), horizon)
    if _too_hard(y, origins, periods):
        return []
    z = fill_missing(to_log(y[None, :]), periods[0])[0]
    truth = _truth(y, origins, horizon)
    fast = _backtest_fast(y, origins, periods=periods, horizon=horizon, level=level)
    ranked = [_scored(FAST, truth, fast)]
    for name, zhat in _baselines(z, origins, periods=periods, horizon=horizon).items():
        ranked.append(_scored(name, truth, zhat))
    for candidate in candidates:
        model = _backtest_candidate(candidate, z, exog, origins, periods=periods, horizon=horizon)
        if model is not None:
            ranked.append(_scored(candidate.name, truth, model))
    ranked.sort(key=lambda bt: bt.mae)
    best = ranked[: min(TOP, len(ranked))]
    if len(best) >= 2:
        mixed = np.mean([bt.zhat for bt in best], axis=0)
        name = "mean(" + ",".join(sorted(bt.name for bt in best)) + ")"
        ranked.append(_scored(name, truth, mixed))
    return sorted(ranked, key=lambda bt: bt.mae)


def chosen(ranked: list[Backtest], *, regressors: bool = False) -> Backtest | None:
    """The winner: the best backtest if it clearly beats the fast path's, else the fast path.

    Clearly: its MAE is lower by :data:`MARGIN` and it is the better of the two at
    :data:`WINS` origins at least (where both know their error per origin). With known
    ``regressors`` the margin suffices: a candidate that sees events the fast path
    cannot wins at the origins the events fall in, which may be few.
    """
    fast = next((bt for bt in ranked if bt.name == FAST), None)
    if fast is None or not ranked or not np.isfinite(fast.mae):
        return None
    best = ranked[0]
    if best.name == FAST or best.mae >= (1.0 - MARGIN) * fast.mae:
        return fast
    if regressors or best.origin_mae is None or fast.origin_mae is None:
        return best
    return best if int(np.sum(best.origin_mae < fast.origin_mae)) >= WINS else fast


def _final_zhat(
    name: str,
    fast: FastForecast,
    z: FloatArray,
    exog: FloatArray | None,
    future_exog: FloatArray | None,
    *,
    periods: tuple[int, ...],
) -> FloatArray:
    """One candidate's log-scale forecast from the whole history (statsmodels: refitted)."""
    horizon = fast.zhat.shape[1]
    if name == FAST:
        return np.asarray(fast.zhat[0], dtype=np.float64)
    origin = np.array([len(z) - 1], dtype=np.int64)
    baselines = _baselines(z, origin, periods=periods, horizon=horizon)
    if name in baselines:
        return np.asarray(baselines[name][0], dtype=np.float64)
    candidate = next(c for c in CANDIDATES if c.name == name)
    begin = max(0, len(z) - FIT_SEASONS * max(periods))
    fitted = candidate.fit(
        z[begin:], None if exog is None else exog[begin:], period=periods[0], start=begin,
        seasons=periods[1:],
    )  # fmt: skip
    return fitted.forecast(horizon, future_exog).zhat


def _recentred(
    best: Backtest,
    zhat: FloatArray,
    fast: FastForecast,
    *,
    offsets: FloatArray,
    level: float,
    score: float | None,
) -> Forecast:
    """The winner's point inside the fast path's per-step interval shape.

    ``offsets`` (normalised quantiles per step, ``(H, len(fast.probs))``) replace the
    fast path's own.
    """
    scale, cap = fast.spread[0], float(fast.cap[0])
    up, down = np.maximum(fast.hedge[0], 0.0), np.minimum(fast.hedge[0], 0.0)

    def at(i: int, q: float) -> FloatArray:
        return np.minimum(from_log(zhat + offsets[:, i] * scale + (up if q > 0.5 else down)), cap)

    mean = from_log(zhat)
    if fast.whole[0]:
        mean = round_counts(mean)
    probs = fast.probs
    quantiles = {q: at(probs.index(q), q) for q in QUANTILE_LEVELS}
    return Forecast(
        model=best.name,
        level=level,
        mean=mean,
        lower=np.minimum(at(0, probs[0]), mean),
        upper=np.maximum(at(1, probs[1]), mean),
        quantiles=quantiles,
        score=score,
    )


def _recalibrated(
    best: Backtest, fast: FastForecast, y: FloatArray, periods: tuple[int, ...]
) -> FloatArray:
    """The fast path's offsets stretched to cover ``best``'s residuals at the origins."""
    horizon = fast.zhat.shape[1]
    origins = _origins(len(y), max(periods), horizon)
    observed = to_log(_truth(y, origins, horizon))
    fit = fast.fit  # the offsets are normalised by the fast path's spread (1 without a fit)
    unit = np.ones_like(best.zhat) if fit is None else spread(best.zhat, fit.kappa[:1])
    residuals = (observed - best.zhat) / unit
    offsets = np.asarray(fast.offsets[0], dtype=np.float64)
    return stretched(offsets, stretch(residuals, offsets, fast.probs), fast.probs)


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
    """Forecast one series, choosing among candidates by rolling-origin backtest.

    Args:
        history: Counts per step, oldest first; NaN marks a missing sample.
        period: Season length in steps, or several (the main one first).
        horizon: Steps ahead.
        level: Nominal coverage of the interval.
        exog: Known regressors over the history (events, consumer pods), shape ``(T,)``
            or ``(T, k)``; they enter the SARIMAX candidate.
        future_exog: The same regressors over the horizon, shape ``(H,)`` or ``(H, k)``.

    Returns:
        The forecast of the chosen candidate (see the module's description).

    Raises:
        HistoryError: The history is not 1-D, empty, negative or infinite.
        ParameterError: A parameter is out of range or the regressors do not match.
    """
    check_parameters(period=period, horizon=horizon, level=level)
    periods = as_periods(period)
    y = as_history(history, ndim=1)
    x, x_future = _regressors(y, horizon, exog, future_exog)
    fast = fast_forecast(y[None, :], periods=periods, horizon=horizon, level=level)
    ranked = select(y, period=periods, horizon=horizon, level=level, exog=x)
    best = chosen(ranked, regressors=x is not None)
    if best is None:
        return forecast_from_fast(fast, level)
    try:
        return _winner(best, fast, y, x, x_future, periods=periods, level=level)
    except (ValueError, np.linalg.LinAlgError, ForecastError) as err:
        _log.info("forecast_refit_failed model=%s error=%s", best.name, err)
        return forecast_from_fast(fast, level)


def _winner(
    best: Backtest,
    fast: FastForecast,
    y: FloatArray,
    x: FloatArray | None,
    x_future: FloatArray | None,
    *,
    periods: tuple[int, ...],
    level: float,
) -> Forecast:
    """The winning candidate's forecast (a mean: of its parts') with its interval.

    The fast path too gets its interval checked on the selection origins here.
    """
    z = fill_missing(to_log(y[None, :]), periods[0])[0]
    parts = [_final_zhat(name, fast, z, x, x_future, periods=periods) for name in best.parts]
    zhat = np.mean(parts, axis=0)
    if not np.all(np.isfinite(zhat)):
        raise ForecastError(f"{best.name} forecast is not finite")
    offsets = _recalibrated(best, fast, y, periods)
    if best.name == FAST:
        score = float(fast.scores[0])
        chosen_score = score if np.isfinite(score) else None
    else:
        scale = float(fast.fit.scale[0]) if fast.fit is not None else 1.0
        chosen_score = best.mae / scale
    name = best.name.replace(FAST, fast.models[0]) if FAST in best.parts else best.name
    forecast = _recentred(best, zhat, fast, offsets=offsets, level=level, score=chosen_score)
    return dataclasses.replace(forecast, model=name)
