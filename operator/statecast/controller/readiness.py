"""The operator's readiness endpoint (``statecast operator --readiness URL``).

kopf's own endpoint (``--liveness``) says the process is alive; this one says whether
it is ready to do its job. An operator that acts is ready once kopf has its indexes
(Nodes, Replicas, Pods): kopf holds every other handler back until they are populated,
so the first Node event a handler of ours receives marks the moment. An operator that
stands by (a live peer of higher priority holds the peering) watches nothing while
kopf pauses it, and is ready as a standby: it is healthy and takes over when the other
goes. A rollout (new pods start as standbys) and a PodDisruptionBudget therefore count
both pods, while an operator that cannot list its inputs stays NotReady.

``GET /readyz`` answers 200 ``ok`` or 503 with the reason in the body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

__all__ = ["Readiness", "ReadinessReport", "readiness_report", "standing_by"]

log = logging.getLogger(__name__)

Peers = Callable[[], Mapping[str, Any] | None]


def standing_by(peers: Mapping[str, Any], own_priority: int, now: dt.datetime) -> bool:
    """Whether a live peer of higher priority holds the peering (kopf's rule to pause).

    Args:
        peers: the peering object's ``status``: identity -> ``priority``, ``lifetime``
            (seconds) and ``lastseen`` (ISO time), as kopf writes them.
        own_priority: this operator's peering priority.
        now: the current time.
    """
    for info in peers.values():
        if not isinstance(info, Mapping):
            continue
        try:
            priority = int(info.get("priority", 0))
            lifetime = float(info.get("lifetime", 60))
            seen = dt.datetime.fromisoformat(str(info["lastseen"]).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError):
            continue
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=dt.UTC)
        if priority > own_priority and (now - seen).total_seconds() < lifetime:
            return True
    return False


@dataclass(frozen=True)
class ReadinessReport:
    """The answer of ``/readyz``."""

    ready: bool
    reason: str


def readiness_report(started: bool, indexed: bool, standby: bool | None) -> ReadinessReport:
    """Ready when started and either indexed (acting) or standing by.

    Args:
        started: kopf ran the startup handlers.
        indexed: a handler has run, so kopf's indexes are populated.
        standby: a live peer of higher priority holds the peering (None: unknown, the
            peering could not be read, or the operator runs standalone).
    """
    if not started:
        return ReadinessReport(False, "starting: startup handlers have not finished")
    if indexed:
        return ReadinessReport(True, "ok: indexes populated")
    if standby:
        return ReadinessReport(True, "ok: standing by (a peer of higher priority acts)")
    return ReadinessReport(False, "waiting for kopf to list Nodes, Replicas and Pods")


class Readiness:
    """What ``/readyz`` needs, kept in the operator's memo.

    Args:
        endpoint: where to serve, e.g. ``http://0.0.0.0:8082/readyz``.
        priority: this operator's peering priority.
        peers: reads the peering object's ``status`` (None: standalone or unreadable).
        ttl: seconds a read of the peering is reused.
    """

    def __init__(self, endpoint: str, priority: int, peers: Peers, ttl: float = 5.0) -> None:
        self.endpoint = endpoint
        self.priority = priority
        self._peers = peers
        self._ttl = ttl
        self._lock = threading.Lock()
        self._standby: bool | None = None
        self._read_at = float("-inf")
        self.started = False
        self.indexed = False

    def standby(self) -> bool | None:
        """Whether this operator stands by (peering read at most every ``ttl`` seconds)."""
        with self._lock:
            if time.monotonic() - self._read_at >= self._ttl:
                try:
                    peers = self._peers()
                except Exception as err:  # noqa: BLE001 - any API failure: unknown
                    log.warning("event=peering-unreadable error=%s", err)
                    peers = None
                self._standby = (
                    None
                    if peers is None
                    else standing_by(peers, self.priority, dt.datetime.now(dt.UTC))
                )
                self._read_at = time.monotonic()
            return self._standby

    def report(self) -> ReadinessReport:
        """The current answer."""
        standby = None if self.indexed or not self.started else self.standby()
        return readiness_report(self.started, self.indexed, standby)


async def serve(readiness: Readiness) -> Callable[[], Any]:
    """Serve ``/readyz`` (aiohttp, on kopf's event loop); return the cleanup coroutine."""
    from aiohttp import web

    parts = urllib.parse.urlsplit(readiness.endpoint)
    if parts.scheme != "http" or not parts.port:
        raise ValueError(f"--readiness wants http://HOST:PORT/PATH, not {readiness.endpoint!r}")

    async def ready(_: web.Request) -> web.Response:
        report = await asyncio.get_running_loop().run_in_executor(None, readiness.report)
        return web.Response(status=200 if report.ready else 503, text=report.reason + "\n")

    app = web.Application()
    app.add_routes([web.get(parts.path or "/readyz", ready)])
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, parts.hostname or "0.0.0.0", parts.port).start()
    log.info("event=readiness-serving endpoint=%s", readiness.endpoint)
    return runner.cleanup


@kopf.on.startup()
async def start_readiness(memo: kopf.Memo, **_: Any) -> None:
    """Serve ``/readyz`` when the operator was started with ``--readiness``."""
    readiness: Readiness | None = memo.get("readiness")
    if readiness is not None:
        memo["readiness_cleanup"] = await serve(readiness)
        readiness.started = True


@kopf.on.cleanup()
async def stop_readiness(memo: kopf.Memo, **_: Any) -> None:
    """Stop serving ``/readyz``."""
    cleanup = memo.get("readiness_cleanup")
    if cleanup is not None:
        await cleanup()


@kopf.on.event("v1", "nodes")
async def nodes_listed(memo: kopf.Memo, **_: Any) -> None:
    """Called by kopf only once its indexes are populated: the operator is ready to act."""
    readiness: Readiness | None = memo.get("readiness")
    if readiness is not None and not readiness.indexed:
        readiness.indexed = True
        log.info("event=operator-ready reason=indexes-populated")
