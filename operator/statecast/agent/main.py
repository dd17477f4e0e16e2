"""Run an agent until SIGTERM/SIGINT: the HTTP server first, then catch-up and loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from statecast.agent.config import AgentConfig
from statecast.agent.runtime import Agent
from statecast.agent.server import build_server

__all__ = ["run_agent"]

log = logging.getLogger(__name__)

#: Extra work run beside the agent (the Kubernetes edge), cancelled at shutdown.
Sidecar = Callable[[Agent], Coroutine[Any, Any, None]]


async def run_agent(config: AgentConfig, sidecar: Sidecar | None = None) -> None:
    """Serve ``config``'s agent until a termination signal arrives."""
    agent = Agent(config)
    agent.load_standalone()
    server = build_server(agent)
    await server.start(config.host, config.port)
    log.info("event=agent_listening node=%s listen=%s", config.node, config.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    extra = asyncio.create_task(sidecar(agent)) if sidecar is not None else None
    try:
        await agent.start()
        log.info("event=agent_ready node=%s replicas=%d", config.node, len(agent.stores))
        await stop.wait()
    finally:
        if extra is not None:
            extra.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extra
        await server.close()
        await agent.stop()
        log.info("event=agent_stopped node=%s", config.node)
