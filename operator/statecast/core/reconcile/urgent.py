"""A spec change ahead of everything: what it may skip, and what goes with it.

A resource whose spec changed (its generation moved past the observed one) is
reconciled at once, outside the workers' queue, and planned on its last forecast as it
is, as a lapse's wave is (:mod:`statecast.controller.urgent`): at 1,000 resources a
spec change waited for one of eight busy workers and then brought its forecast up to
date (an update or a rebuild, 0.1-0.3 s of wall time on a starved process) before its
Replica went out. A reconcile after it brings the forecast up to date.

The last forecast serves only while what it was made from is the same: a change to
the resource's ``prediction`` (interval, horizon, seasonality, level, events) or to its
``consumers`` (the pods counted as a leading signal) asks for a new one.
"""

from __future__ import annotations

from statecast.api.shared_resource import SharedResourceSpec

__all__ = ["forecast_basis", "last_forecast_serves"]


def forecast_basis(spec: SharedResourceSpec) -> str:
    """What of ``spec`` a forecast is made from, as one comparable string."""
    return f"{spec.prediction.model_dump_json()}|{spec.consumers.model_dump_json()}"


def last_forecast_serves(made_from: str | None, spec: SharedResourceSpec) -> bool:
    """Whether a forecast made from ``made_from`` (:func:`forecast_basis`) serves ``spec``.

    None (no forecast, or made before its basis was kept) never serves.
    """
    return made_from is not None and made_from == forecast_basis(spec)
