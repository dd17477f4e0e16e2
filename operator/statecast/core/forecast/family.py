"""The fast family's members and the grid of candidates tried per series.

Every member forecasts ``z = log1p(count)``. A *level member* (``period == 0``)
forecasts an exponentially weighted level of ``z`` itself: naive when its smoothing
``alpha`` is 1, simple exponential smoothing (``ses``) otherwise. A *seasonal member*
forecasts step ``h`` as::

    zhat(t + h) = q(t + h) + phi**h * l(t)

with ``q`` the profile of one season (:func:`~statecast.core.forecast.profiles.lag_profile`:
the mean or median of ``K`` past seasons at the same phase, optionally averaged over
neighbouring phases) and ``l`` an exponentially weighted level of the deviation
``z - q`` (smoothing ``alpha``) damped by ``phi`` per step. ``K = 1`` without a level
(``phi = 0``) is seasonal naive. On the log scale the profile is multiplicative on
counts: a peak that recurs keeps its height, and a busy hour lifts a quiet one by a
factor, not by the busy hour's excess.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Grid", "Member", "member_grid", "seasonal_naive", "usable_periods"]

#: Fewest backtest origins needed to choose among the candidates and calibrate intervals.
MIN_ORIGINS = 24


@dataclass(frozen=True, order=True)
class Member:
    """One forecasting rule of the family.

    Attributes:
        period: Season length in steps; 0 for a level member.
        seasons: Seasons ``K`` the profile averages.
        robust: Median across seasons instead of the mean.
        width: Half-width of the averaging over neighbouring phases.
        alpha: Smoothing of the level (of ``z`` for a level member, of the deviation
            from the profile otherwise).
        phi: Damping per step of the deviation level; 0 forecasts the profile alone.
    """

    period: int = 0
    seasons: int = 0
    robust: bool = False
    width: int = 0
    alpha: float = 1.0
    phi: float = 0.0

    @property
    def seasonal(self) -> bool:
        """Whether the member has a season."""
        return self.period > 0

    @property
    def baseline(self) -> bool:
        """Whether it is naive or seasonal naive (what the guard falls back to)."""
        if not self.seasonal:
            return self.alpha >= 1.0
        return self.seasons == 1 and self.width == 0 and self.phi == 0.0

    @property
    def profile_key(self) -> tuple[int, int, bool, int]:
        """What its profile depends on (members sharing it share the work)."""
        return (self.period, self.seasons, self.robust, self.width)

    def name(self, main_period: int) -> str:
        """Short name; a season other than ``main_period`` is named after the ``/``."""
        if not self.seasonal:
            return "naive" if self.alpha >= 1.0 else "ses"
        if self.seasons == 1 and self.width == 0 and self.phi == 0.0:
            base = "seasonal_naive"
        else:
            base = "robust_profile" if self.robust else "profile"
        return base if self.period == main_period else f"{base}/{self.period}"


def seasonal_naive(period: int) -> Member:
    """The seasonal naive member of ``period``."""
    return Member(period=period, seasons=1)


@dataclass(frozen=True)
class Grid:
    """Candidates tried per series and how they are chosen.

    Attributes:
        seasons: Numbers of seasons ``K`` tried for each period (those the history holds).
        robust: Also try the median across seasons (for ``K >= 3``).
        alphas: Smoothing constants of the level members (1 is naive).
        corrections: ``(phi, alpha)`` pairs of the deviation level of seasonal members;
            ``phi = 0`` is the profile alone.
        top: Members combined (equal weights on the log scale) into the top-``top``
            combination.
        margin: Relative backtest MAE by which the best member or the top-``top``
            combination must beat the mean of the best member of each kind (level
            members, each season) to be chosen instead: a combination of diverse
            forecasts is the steadier choice where the backtest cannot tell them apart.
        span: Backtest span in longest seasons (origins over the most recent
            ``span * P_max`` steps, at least :data:`MIN_ORIGINS`).
        max_origins: Most origins scored (the stride grows to keep under it).
        max_steps: Most steps ahead scored per origin when choosing (evenly spread).
        auto_week: With a single period ``P``, also try ``7 * P`` (a week, when ``P``
            is a day) where the history holds enough.
        week: Seasons per week for the interval hedge when no weekly season is modelled
            (0 turns it off).
        hedge_threshold: Smallest gap, in predicted spreads, between the week-ago level
            and the forecast that stretches an interval.
    """

    seasons: tuple[int, ...] = (1, 2, 3, 5, 8)
    robust: bool = True
    alphas: tuple[float, ...] = (1.0, 0.5, 0.2, 0.1)
    corrections: tuple[tuple[float, float], ...] = (
        (0.0, 1.0),
        (0.9, 0.5),
        (0.98, 0.1),
        (0.98, 0.5),
        (1.0, 0.2),
    )
    top: int = 3
    margin: float = 0.1
    span: float = 3.0
    max_origins: int = 256
    max_steps: int = 16
    auto_week: bool = True
    week: int = 7
    hedge_threshold: float = 2.0


def usable_periods(
    periods: tuple[int, ...], n_steps: int, horizon: int, grid: Grid
) -> tuple[int, ...]:
    """The seasons a history of ``n_steps`` can model, shortest first.

    A season needs two of itself, the horizon and :data:`MIN_ORIGINS` origins. With a
    single period and ``grid.auto_week``, seven of it is offered as well.
    """
    wanted = sorted({p for p in periods if p >= 2})
    if grid.auto_week and len(wanted) == 1:
        wanted.append(7 * wanted[0])
    return tuple(p for p in wanted if n_steps >= 2 * p + horizon + MIN_ORIGINS)


def member_grid(periods: tuple[int, ...], n_steps: int, grid: Grid) -> tuple[Member, ...]:
    """Every candidate member for these (usable) seasons and history length.

    Level members first, then per season: seasonal naive, then profiles over each
    ``K`` the history holds (mean, and median from three seasons), for the shortest
    season also averaged over neighbouring phases, each with every level correction.
    """
    members = [Member(alpha=a) for a in grid.alphas]
    shortest = min(periods, default=0)
    for period in periods:
        members.append(seasonal_naive(period))
        widths = (0, max(1, round(shortest / 96))) if period == shortest else (0,)
        most = min(max(grid.seasons), n_steps // period)
        for k in sorted({k for k in grid.seasons if k <= most} | {most}):
            for robust in (False, True) if grid.robust and k >= 3 else (False,):
                for width in widths if k >= 2 else (0,):
                    for phi, alpha in grid.corrections:
                        member = Member(period, k, robust, width, alpha if phi else 1.0, phi)
                        if member != seasonal_naive(period):
                            members.append(member)
    return tuple(dict.fromkeys(members))
