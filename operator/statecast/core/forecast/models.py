"""statsmodels models behind one small interface, all on the log1p scale.

Each :class:`Candidate` fits on a history and returns a :class:`Fitted` that forecasts
and can be *extended* with new samples while its parameters stay fixed (the cheap update
used for rolling-origin backtests and between refits):

* ``stl_ets``: STL decomposition (daily season), then a damped additive-trend ETS
  (statsmodels ``ETSModel``) on the seasonally adjusted series; the season is carried
  forward as it was last estimated.
* ``holt_winters``: additive damped-trend, additive-season exponential smoothing
  (statsmodels ``ExponentialSmoothing``); only for short seasons (``period <= 48``),
  where one state per phase is cheap to fit.
* ``sarimax_fourier``: regression on Fourier terms of the day (and of the week when the
  history holds two weeks) plus known regressors (``exog``), with AR(1) errors
  (statsmodels ``SARIMAX``) - the ARIMA family with calendar effects and events.

statsmodels quirks handled here: ``ETSModel`` gets a pandas Series (a bare ndarray fails
at ``get_prediction``). statsmodels warns freely (convergence, frequency); this module
leaves the process-wide warning filters alone, which is not thread-safe to change, so
the edges (the command, the operator) decide what to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "CANDIDATES",
    "Candidate",
    "Fitted",
    "HoltWinters",
    "ModelForecast",
    "SarimaxFourier",
    "StlEts",
    "fourier_terms",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelForecast:
    """A log-scale forecast and its standard error per step."""

    zhat: FloatArray
    se: FloatArray


class Fitted(Protocol):
    """A fitted model positioned after the last sample it has seen."""

    def forecast(self, horizon: int, future_exog: FloatArray | None) -> ModelForecast:
        """Forecast ``horizon`` steps after the last sample seen."""
        ...

    def extend(self, z_new: FloatArray, exog_new: FloatArray | None) -> Fitted:
        """Advance over new samples with the parameters fixed."""
        ...


class Candidate(Protocol):
    """A model that can be fitted to a log-scale history."""

    name: str

    def usable(self, n_steps: int, period: int, with_exog: bool) -> bool:
        """Whether the model can fit a history of ``n_steps`` steps."""
        ...

    def fit(
        self,
        z: FloatArray,
        exog: FloatArray | None,
        *,
        period: int,
        start: int,
        seasons: tuple[int, ...] = (),
    ) -> Fitted:
        """Fit on ``z`` (imputed log1p counts); ``start`` is the step index of ``z[0]``.

        ``seasons`` are further (longer) season lengths to model where the model can.
        """
        ...


def fourier_terms(steps: npt.NDArray[np.int64], period: int, harmonics: int) -> FloatArray:
    """Sine and cosine terms of a season at absolute step indices ``steps``."""
    k = np.arange(1, harmonics + 1)
    angle = 2.0 * np.pi * np.outer(steps, k) / period
    return np.column_stack([np.sin(angle), np.cos(angle)])


# -- STL + ETS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StlEtsFit:
    season: FloatArray  # the last full season of the seasonal component
    adjusted: FloatArray  # seasonally adjusted history
    params: FloatArray
    results: Any
    phase: int  # phase of the next step in ``season``
    period: int

    def forecast(self, horizon: int, future_exog: FloatArray | None) -> ModelForecast:
        n = len(self.adjusted)
        frame = self.results.get_prediction(start=n, end=n + horizon - 1).summary_frame(
            alpha=0.3173
        )
        mean = frame["mean"].to_numpy(dtype=np.float64)
        se = (frame["pi_upper"].to_numpy(dtype=np.float64) - mean).clip(min=1e-6)
        phases = (self.phase + np.arange(horizon)) % self.period
        return ModelForecast(mean + self.season[phases], se)

    def extend(self, z_new: FloatArray, exog_new: FloatArray | None) -> _StlEtsFit:
        phases = (self.phase + np.arange(len(z_new))) % self.period
        adjusted = np.concatenate([self.adjusted, z_new - self.season[phases]])
        model = _ets(adjusted)
        results = model.smooth(self.params)
        return _StlEtsFit(
            self.season,
            adjusted,
            self.params,
            results,
            int((self.phase + len(z_new)) % self.period),
            self.period,
        )


def _ets(values: FloatArray) -> Any:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel(pd.Series(values), error="add", trend="add", damped_trend=True)


class StlEts:
    """STL season + damped-trend ETS on the seasonally adjusted log1p series."""

    name = "stl_ets"

    def usable(self, n_steps: int, period: int, with_exog: bool) -> bool:
        """Needs two full seasons."""
        return period >= 2 and n_steps >= 2 * period + 2

    def fit(
        self,
        z: FloatArray,
        exog: FloatArray | None,
        *,
        period: int,
        start: int,
        seasons: tuple[int, ...] = (),
    ) -> Fitted:
        """Decompose with STL (MSTL with several seasons), then fit ETS to the adjusted series."""
        from statsmodels.tsa.seasonal import MSTL, STL

        longer = tuple(p for p in seasons if p > period and len(z) >= 2 * p + 2)
        if longer:
            fitted = MSTL(z, periods=(period, *longer)).fit()
            seasonal = np.asarray(fitted.seasonal, dtype=np.float64).sum(axis=1)
            cycle = longer[-1]
        else:
            seasonal = np.asarray(STL(z, period=period).fit().seasonal, dtype=np.float64)
            cycle = period
        model = _ets(z - seasonal)
        results = model.fit(disp=False)
        return _StlEtsFit(
            seasonal[-cycle:],
            z - seasonal,
            np.asarray(results.params, dtype=np.float64),
            results,
            0,
            cycle,
        )


# -- Holt-Winters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _HoltWintersFit:
    z: FloatArray
    params: dict[str, float]
    sigma: float
    results: Any
    period: int

    def forecast(self, horizon: int, future_exog: FloatArray | None) -> ModelForecast:
        mean = np.asarray(self.results.forecast(horizon), dtype=np.float64)
        alpha = self.params.get("smoothing_level", 0.5)
        steps = np.arange(horizon)
        se = self.sigma * np.sqrt(1.0 + steps * alpha**2)
        return ModelForecast(mean, se)

    def extend(self, z_new: FloatArray, exog_new: FloatArray | None) -> _HoltWintersFit:
        z = np.concatenate([self.z, z_new])
        results = _holt_winters(z, self.period).fit(optimized=False, **self.params)
        return _HoltWintersFit(z, self.params, self.sigma, results, self.period)


def _holt_winters(z: FloatArray, period: int) -> Any:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(
        z,
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=period,
        initialization_method="heuristic",
    )


class HoltWinters:
    """Additive damped-trend Holt-Winters on log1p; for short seasons only."""

    name = "holt_winters"
    max_period = 48

    def usable(self, n_steps: int, period: int, with_exog: bool) -> bool:
        """Short seasons (``period <= 48``) with at least three of them in the history."""
        return 2 <= period <= self.max_period and n_steps >= 3 * period + 10

    def fit(
        self,
        z: FloatArray,
        exog: FloatArray | None,
        *,
        period: int,
        start: int,
        seasons: tuple[int, ...] = (),
    ) -> Fitted:
        """Fit smoothing parameters by least squares (the main season only)."""
        results = _holt_winters(z, period).fit()
        keys = ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")
        params = {k: float(results.params[k]) for k in keys}
        resid = np.asarray(results.resid, dtype=np.float64)
        sigma = float(np.std(resid[period:])) if len(resid) > period else float(np.std(resid))
        return _HoltWintersFit(z, params, max(sigma, 1e-3), results, period)


# -- SARIMAX with Fourier terms --------------------------------------------------------------


@dataclass(frozen=True)
class _SarimaxFit:
    results: Any
    next_step: int
    period: int
    longer: tuple[int, ...]

    def design(self, steps: npt.NDArray[np.int64], exog: FloatArray | None) -> FloatArray:
        return _design(steps, self.period, self.longer, exog)

    def forecast(self, horizon: int, future_exog: FloatArray | None) -> ModelForecast:
        steps = np.arange(self.next_step, self.next_step + horizon)
        fc = self.results.get_forecast(horizon, exog=self.design(steps, future_exog))
        mean = np.asarray(fc.predicted_mean, dtype=np.float64)
        se = np.asarray(fc.se_mean, dtype=np.float64)
        return ModelForecast(mean, se)

    def extend(self, z_new: FloatArray, exog_new: FloatArray | None) -> _SarimaxFit:
        steps = np.arange(self.next_step, self.next_step + len(z_new))
        results = self.results.append(z_new, exog=self.design(steps, exog_new))
        return _SarimaxFit(results, self.next_step + len(z_new), self.period, self.longer)


def _design(
    steps: npt.NDArray[np.int64],
    period: int,
    longer: tuple[int, ...],
    exog: FloatArray | None,
) -> FloatArray:
    parts = [fourier_terms(steps, period, min(4, max(1, period // 2)))]
    parts.extend(fourier_terms(steps, p, 2) for p in longer)
    if exog is not None:
        parts.append(exog.reshape(len(steps), -1))
    return np.column_stack(parts)


class SarimaxFourier:
    """Fourier terms of the day (and week), known regressors, AR(1) errors (SARIMAX)."""

    name = "sarimax_fourier"

    def usable(self, n_steps: int, period: int, with_exog: bool) -> bool:
        """Needs two seasons (or, with regressors, a few dozen steps)."""
        return n_steps >= max(2 * period, 48) or (with_exog and n_steps >= 48)

    def fit(
        self,
        z: FloatArray,
        exog: FloatArray | None,
        *,
        period: int,
        start: int,
        seasons: tuple[int, ...] = (),
    ) -> Fitted:
        """Fit by maximum likelihood (concentrated scale, a bounded number of iterations).

        The regression coefficients are states of the Kalman filter (recursive least
        squares), not likelihood parameters: the same forecasts, a fraction of the time
        (only the AR coefficient and the constant are searched numerically).

        Longer seasons get two Fourier pairs each where the history holds two of them;
        without any, a week (seven main seasons) where it holds two weeks.
        """
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        wanted = tuple(p for p in seasons if p > period) or (7 * period,)
        longer = tuple(p for p in wanted if len(z) >= 2 * p)
        steps = np.arange(start, start + len(z))
        design = _design(steps, period, longer, exog)
        model = SARIMAX(
            z, exog=design, order=(1, 0, 0), trend="c", concentrate_scale=True,
            mle_regression=False,
        )  # fmt: skip
        results = model.fit(disp=False, maxiter=50)
        return _SarimaxFit(results, start + len(z), period, longer)


#: The statsmodels candidates, in the order they are tried.
CANDIDATES: tuple[Candidate, ...] = (StlEts(), HoltWinters(), SarimaxFourier())
