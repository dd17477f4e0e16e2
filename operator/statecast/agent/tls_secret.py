"""The agent's TLS material from its Secret, which the operator issues and renews.

Every ``period`` seconds the agent reads ``Secret statecast-agent-tls-<node>`` in its
Lease namespace (``tls.crt``, ``tls.key``, ``ca.crt``) and loads it when it changed:
new connections use it at once, open ones keep theirs, nothing restarts. Until the
first Secret is there the agent serves applications but not its peers (its mutual-TLS
listener waits, and its Lease advertises no peer endpoint).
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from statecast.agent.kube_api import API_ERRORS, ClusterGateway
from statecast.agent.runtime import Agent
from statecast.agent.seeding import SourceError
from statecast.api.lease import agent_tls_secret_name

__all__ = ["keep_tls"]

log = logging.getLogger(__name__)


async def load_once(agent: Agent, gateway: ClusterGateway, namespace: str) -> bool:
    """Read the Secret once and load it if it changed; True when new material is in use."""
    assert agent.tls is not None
    name = agent_tls_secret_name(agent.node)
    try:
        data = await gateway.get_source_data(namespace, "Secret", name)
    except API_ERRORS as err:
        log.warning("event=tls_secret_unreadable secret=%s/%s error=%s", namespace, name, err)
        return False
    except SourceError as err:  # not readable yet: the issuer's Role does not name it yet
        log.warning("event=tls_secret_unreadable secret=%s/%s error=%s", namespace, name, err)
        return False
    if data is None:
        log.info("event=tls_secret_missing secret=%s/%s", namespace, name)
        return False
    try:
        changed = agent.tls.load(data["tls.crt"], data["tls.key"], data["ca.crt"])
    except (KeyError, ssl.SSLError, ValueError) as err:  # keep what is loaded
        log.warning("event=tls_secret_invalid secret=%s/%s error=%r", namespace, name, err)
        return False
    if changed:
        log.info("event=tls_loaded secret=%s/%s loads=%d", namespace, name, agent.tls.loads)
    return changed


async def keep_tls(agent: Agent, gateway: ClusterGateway, namespace: str, period: float) -> None:
    """Load the agent's Secret now and whenever it changes, until cancelled."""
    while True:
        await load_once(agent, gateway, namespace)
        await asyncio.sleep(period)
