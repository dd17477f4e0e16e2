"""What the engine returns: a :class:`Forecast` per series, a :class:`BatchForecast` for many."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["QUANTILE_LEVELS", "BatchForecast", "Forecast"]

#: Quantile levels reported with every single-series forecast.
QUANTILE_LEVELS: tuple[float, ...] = (0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forecast:
    """Forecast of one series over ``horizon`` steps.

    Attributes:
        model: Name of the chosen model, e.g. ``"naive"``, ``"seasonal_naive"``, ``"profile"``.
        level: Nominal coverage of ``[lower, upper]``, e.g. 0.9.
        mean: Point forecast per step, shape ``(horizon,)``, ``>= 0``. It is the
            forecast median on the count scale (what minimises absolute error).
        lower: Lower bound per step, ``>= 0``.
        upper: Upper bound per step.
        quantiles: A few quantile levels (see :data:`QUANTILE_LEVELS`) -> values per step.
        score: Backtest MASE of the chosen model, ``None`` when the history was too
            short to backtest.
    """

    model: str
    level: float
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    quantiles: Mapping[float, FloatArray] = field(default_factory=dict)
    score: float | None = None

    @property
    def horizon(self) -> int:
        """Number of steps forecast."""
        return int(self.mean.shape[0])


@dataclass(frozen=True)
class BatchForecast:
    """Forecasts of many series at once (the vectorised fast path).

    Attributes:
        models: Chosen model name per series.
        level: Nominal coverage of ``[lower, upper]``.
        mean: Point forecasts (medians), shape ``(n_series, horizon)``.
        lower: Lower bounds, same shape, ``>= 0``.
        upper: Upper bounds, same shape.
        scores: Backtest MASE per series (NaN where not backtested).
    """

    models: tuple[str, ...]
    level: float
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    scores: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.models)
