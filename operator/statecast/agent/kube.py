"""The agent's Kubernetes edge (Lease, Replica watch, status): see step 7."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from statecast.agent.errors import ConfigError
from statecast.agent.runtime import Agent

__all__ = ["cluster_sidecar"]


def cluster_sidecar(
    *, namespace: str, advertise: str, lease_seconds: float, kubeconfig: str | None
) -> Callable[[Agent], Coroutine[Any, Any, None]]:
    """The coroutine that runs the Kubernetes edge beside the agent."""
    raise ConfigError("cluster mode is not available yet: use --standalone --config FILE")
