"""The agent Lease: the heartbeat between the node agents and the operator.

Each agent keeps ``Lease statecast-agent-<node>`` in its namespace renewed; its
annotations say where the agent listens and in which zone. The operator reads the
Leases as heartbeats (an expired one: the agent is down) and to find the agents' URLs;
the agents read each other's to find their peers.
"""

from __future__ import annotations

from statecast.api.types import GROUP

__all__ = [
    "AGENT_LEASE_PREFIX",
    "AGENT_TLS_SECRET_PREFIX",
    "AUTHORITY_SECRET",
    "BUNDLE_CONFIGMAP",
    "BUNDLE_SIGNING_KEY",
    "CERTIFICATE_ANNOTATION",
    "ENDPOINT_ANNOTATION",
    "PEER_ENDPOINT_ANNOTATION",
    "ZONE_ANNOTATION",
    "agent_lease_name",
    "agent_tls_secret_name",
]

#: Agent Leases are named ``statecast-agent-<node>``.
AGENT_LEASE_PREFIX = "statecast-agent-"
#: The annotation of an agent's Lease that holds its URL.
ENDPOINT_ANNOTATION = f"{GROUP}/endpoint"
#: The annotation of an agent's Lease that holds its node's zone.
ZONE_ANNOTATION = f"{GROUP}/zone"
#: The annotation of an agent's Lease that holds its mutual-TLS listener's URL (set
#: while it serves one: with TLS, agents and the operator reach it there).
PEER_ENDPOINT_ANNOTATION = f"{GROUP}/peer-endpoint"
#: The annotation of an agent's Lease that says which certificate it holds (issuer and
#: validity, JSON: the operator keeps an old CA until no agent holds one it signed).
CERTIFICATE_ANNOTATION = f"{GROUP}/certificate"
#: The Secret (in the agents' namespace) holding the operator's certificate authorities.
AUTHORITY_SECRET = "statecast-ca"
#: The ConfigMap (in the agents' namespace) holding the trust bundle (``ca.crt``) and,
#: which authority signs: public, read by every agent.
BUNDLE_CONFIGMAP = "statecast-ca-bundle"
#: The key of that ConfigMap naming the authority that signs (its key id); ``ca.crt``
#: holds the bundle.
BUNDLE_SIGNING_KEY = "signing"
#: The Secrets of an earlier release (each agent's key pair), deleted by the operator.
AGENT_TLS_SECRET_PREFIX = "statecast-agent-tls-"


def agent_lease_name(node: str) -> str:
    """The name of the Lease of the agent on ``node``."""
    return f"{AGENT_LEASE_PREFIX}{node}"


def agent_tls_secret_name(node: str) -> str:
    """The name of the Secret with the TLS material of the agent on ``node``."""
    return f"{AGENT_TLS_SECRET_PREFIX}{node}"
