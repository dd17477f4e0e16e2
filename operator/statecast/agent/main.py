"""Run an agent until SIGTERM/SIGINT: the HTTP server first, then catch-up and loops."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from statecast.agent.config import AgentConfig
from statecast.agent.httpserver import HttpServer
from statecast.agent.looplag import shorten_switch_interval
from statecast.agent.memory import freeze_startup_objects
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server
from statecast.pki.contexts import TlsFiles, peer_identity

__all__ = ["run_agent"]

log = logging.getLogger(__name__)

#: Extra work run beside the agent (the Kubernetes edge), cancelled at shutdown.
Sidecar = Callable[[Agent], Coroutine[Any, Any, None]]


async def run_agent(config: AgentConfig, sidecar: Sidecar | None = None) -> None:
    """Serve ``config``'s agent until a termination signal arrives."""
    agent = Agent(config)
    agent.load_standalone()
    frozen = freeze_startup_objects()  # no full collection walks them while serving
    shorten_switch_interval()  # a busy thread gives the loop the interpreter lock sooner
    log.debug("event=gc_frozen objects=%d", frozen)
    # With an edge the cluster says which resources exist: until its first pass over the
    # Replicas, a resource the agent does not know is answered 503 not_ready, not 404
    # (the edge may take seconds to build its API client after the server listens).
    agent.resources_known = sidecar is None
    # Nor can it list the retired copies on its disk before the edge's first sweep.
    agent.retired.complete = sidecar is None
    server = build_server(agent)
    await server.start(config.host, config.port)
    log.info("event=agent_listening node=%s listen=%s", config.node, config.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    extra = asyncio.create_task(sidecar(agent)) if sidecar is not None else None
    if extra is not None:  # an edge that fails stops the agent, rather than leave it half-alive
        extra.add_done_callback(lambda _: stop.set())
    failure: BaseException | None = None
    peer_server: HttpServer | None = None
    reload = asyncio.create_task(_reload_tls(agent)) if config.tls_dir is not None else None
    try:
        if agent.tls is not None:
            peer_server = await _serve_peers(agent, stop)
        if agent.tls is None or peer_server is not None:  # else stopped before its TLS came
            await agent.start()
            log.info("event=agent_ready node=%s replicas=%d", config.node, len(agent.stores))
            await stop.wait()
    finally:
        if extra is not None:
            failure = await _cancelled(extra)
        if reload is not None:
            await _cancelled(reload)
        if peer_server is not None:
            await peer_server.close()
        await server.close()
        await agent.stop()
        log.info("event=agent_stopped node=%s", config.node)
    if failure is not None:
        log.error("event=agent_edge_failed node=%s error=%r", config.node, failure)
        raise failure


async def _serve_peers(agent: Agent, stop: asyncio.Event) -> HttpServer | None:
    """Wait for this agent's TLS material, then serve the mutual-TLS listener.

    The material comes from files (standalone) or from the Kubernetes edge (the Secret
    the operator issues); None when stopped before it came.
    """
    tls, address = agent.tls, agent.config.peer_address
    assert tls is not None and address is not None
    waited = 0.0
    while not tls.ready:
        if stop.is_set():
            return None
        if waited % 10 < 0.5 and waited:
            log.warning("event=tls_waiting node=%s seconds=%.0f", agent.node, waited)
        await asyncio.sleep(0.5)
        waited += 0.5
    server = build_server(agent, identify=peer_identity)
    await server.start(*address, tls=tls.listening_context())
    agent.peer_listening = True
    log.info("event=agent_peer_listening node=%s listen=%s", agent.node, agent.config.peer_listen)
    return server


async def _reload_tls(agent: Agent) -> None:
    """Standalone: load the TLS files now and whenever they change."""
    assert agent.tls is not None and agent.config.tls_dir is not None
    files = TlsFiles(agent.config.tls_dir, agent.tls)
    while True:
        files.poll()
        await asyncio.sleep(agent.config.tls_reload_seconds)


async def _cancelled(task: asyncio.Task[None]) -> BaseException | None:
    """Cancel ``task`` and wait for it; what it failed with (None: nothing, or cancelled)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return None
    except Exception as err:  # noqa: BLE001 - handed back to the caller, who raises it
        return err
    return None
