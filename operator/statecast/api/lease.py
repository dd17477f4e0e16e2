"""The agent Lease: the heartbeat between the node agents and the operator.

Each agent keeps ``Lease statecast-agent-<node>`` in its namespace renewed; its
annotations say where the agent listens and in which zone. The operator reads the
Leases as heartbeats (an expired one: the agent is down) and to find the agents' URLs;
the agents read each other's to find their peers.
"""

from __future__ import annotations

from statecast.api.types import GROUP

__all__ = ["AGENT_LEASE_PREFIX", "ENDPOINT_ANNOTATION", "ZONE_ANNOTATION", "agent_lease_name"]

#: Agent Leases are named ``statecast-agent-<node>``.
AGENT_LEASE_PREFIX = "statecast-agent-"
#: The annotation of an agent's Lease that holds its URL.
ENDPOINT_ANNOTATION = f"{GROUP}/endpoint"
#: The annotation of an agent's Lease that holds its node's zone.
ZONE_ANNOTATION = f"{GROUP}/zone"


def agent_lease_name(node: str) -> str:
    """The name of the Lease of the agent on ``node``."""
    return f"{AGENT_LEASE_PREFIX}{node}"
