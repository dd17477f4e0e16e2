"""The operator's services: everything its handlers share, built once at startup.

:class:`Services` holds the gateway to the API server, the agents' liveness, the demand
sampler and its history keeper, the forecaster, the self-tuner, the heat tracker and
the metrics. :func:`statecast.controller.handlers.start_services` builds one in kopf's
``@kopf.on.startup`` and keeps it in the operator memo (``memo.services``); kopf gives
every resource handler a copy of that memo, so each reaches the same services through
its ``memo`` argument. Nothing is built at import time. Tests build their own with
:meth:`Services.build` and a fake gateway, and pass it in the memo.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from statecast.api.types import Ref
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.gateway import Gateway, KubeGateway
from statecast.controller.heat import HeatTracker
from statecast.controller.history_keeper import SAVE_SECONDS, Activity, HistoryKeeper
from statecast.controller.metrics import OperatorMetrics
from statecast.controller.sampling import DemandSampler
from statecast.controller.selftuning import SelfTuner
from statecast.core.reconcile.views import AgentLease, agents_down

__all__ = ["AgentLiveness", "Services"]

log = logging.getLogger(__name__)


class AgentLiveness:
    """The agents' Leases, listed at most once per ``ttl`` seconds for all handler threads.

    Args:
        gateway: where the Leases are listed.
        ttl: seconds a list is reused.
    """

    def __init__(self, gateway: Gateway, ttl: float = 1.0) -> None:
        self.gateway, self.ttl = gateway, ttl
        self._lock = threading.Lock()
        self._leases: list[AgentLease] = []
        self._fetched = float("-inf")

    def current(self) -> list[AgentLease]:
        """The agents' Leases, listed again if the last list is older than ``ttl``."""
        with self._lock:
            if time.monotonic() - self._fetched >= self.ttl:
                try:
                    self._leases = self.gateway.agent_leases()
                except Exception as err:  # noqa: BLE001 - any API failure: keep what we knew
                    log.warning("event=agent-leases-unavailable error=%s", err)
                self._fetched = time.monotonic()
            return list(self._leases)

    def down(self, now: dt.datetime) -> frozenset[str]:
        """Nodes whose agent's Lease has expired (none known if the list fails)."""
        return agents_down(self.current(), now)


@dataclass(frozen=True)
class Services:
    """What the operator's handlers share (see the module docstring).

    Build it with :meth:`build`; :meth:`start` and :meth:`stop` run its background
    threads (the sampler and the history keeper).
    """

    gateway: Gateway
    liveness: AgentLiveness
    activity: Activity
    """Acting (not a paused peering standby) while reconciles keep coming."""
    sampler: DemandSampler
    keeper: HistoryKeeper
    forecaster: DemandForecaster
    tuner: SelfTuner
    heat: HeatTracker
    metrics: OperatorMetrics

    @classmethod
    def build(
        cls,
        gateway: Gateway | None = None,
        *,
        sample_seconds: float = 10.0,
        acting_window: float = 15.0,
        save_seconds: float = SAVE_SECONDS,
    ) -> Services:
        """Services around ``gateway`` (default: a :class:`KubeGateway`).

        Args:
            gateway: the API server's gateway (a fake in tests).
            sample_seconds: seconds between two readings of the agents' counters.
            acting_window: seconds after the last reconcile that still count as acting.
            save_seconds: seconds between two saves of the demand history.
        """
        gateway = gateway if gateway is not None else KubeGateway()
        liveness = AgentLiveness(gateway)
        activity = Activity(window=acting_window)
        sampler = DemandSampler(liveness.current, period=sample_seconds, active=activity.active)
        return cls(
            gateway=gateway,
            liveness=liveness,
            activity=activity,
            sampler=sampler,
            keeper=HistoryKeeper(sampler, gateway, activity, period=save_seconds),
            forecaster=DemandForecaster(sampler),
            tuner=SelfTuner(sampler),
            heat=HeatTracker(sampler),
            metrics=OperatorMetrics(),
        )

    def start(self) -> None:
        """Start reading the agents' counters and saving the history in the background."""
        self.sampler.start()
        self.keeper.start()

    def stop(self) -> None:
        """Stop the sampler thread and save the demand history (while acting)."""
        self.sampler.stop()
        self.keeper.stop()  # saves the demand history once more

    def forget(self, ref: Ref) -> None:
        """Drop a deleted resource's demand history, forecasts, tuning and heat."""
        self.forecaster.forget(ref)
        self.keeper.forget(ref)
        self.tuner.forget(ref)
        self.heat.forget(ref)
