"""The agent's HTTP server: the Agent API for pods and the peer protocol for agents.

Application routes (JSON over HTTP, see DESIGN.md "Agent API")::

    GET    /v1/{namespace}/{resource}/{key}            value; Statecast-Served: local|remote
    PUT    /v1/{namespace}/{resource}/{key}            body: JSON value -> {"version", "seq"}
    DELETE /v1/{namespace}/{resource}/{key}
    POST   /v1/{namespace}/{resource}/{key}/increment  body: {"by": n} -> {"value", "version"}
    GET    /v1/{namespace}/{resource}                  the whole map
    GET    /v1/stats  /v1/agents  /healthz  /readyz  /metrics

Peer routes: ``POST /v1/peer/push/{ns}/{res}``, ``POST /v1/peer/sync/{ns}/{res}``,
``GET /v1/peer/ping``. Errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from statecast.agent.errors import (
    AgentError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    UnavailableError,
)
from statecast.agent.runtime import Agent
from statecast.agent.store import ReplicaStore
from statecast.agent.wire import decode_push, decode_sync_request, encode_sync_reply
from statecast.core.crdt import Visible

__all__ = ["FORWARDED_BY", "SERVED", "SERVED_BY", "SIBLINGS", "build_app"]

log = logging.getLogger(__name__)

SERVED = "Statecast-Served"
SERVED_BY = "Statecast-Served-By"
SIBLINGS = "Statecast-Siblings"
FORWARDED_BY = "Statecast-Forwarded-By"
_JSON = "application/json"
_PASSED_HEADERS = (SIBLINGS, SERVED_BY)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type=_JSON)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AgentError as err:
        return _error(err.status, err.code, str(err))
    except web.HTTPRequestEntityTooLarge as err:
        return _error(413, "too_large", err.text or "request body too large")
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = (err.reason or "error").lower().replace(" ", "_")
        return _error(err.status, code, err.reason or "error")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_body(raw: bytes) -> bytes:
    try:
        json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequestError(f"malformed JSON: {err}", "malformed_json") from err
    return raw.strip()


def _render(value: Visible) -> tuple[bytes, dict[str, str]]:
    if isinstance(value, bytes):
        return value, {}
    if isinstance(value, int):
        return str(value).encode(), {}
    assert isinstance(value, tuple)
    return b"[" + b",".join(value) + b"]", {SIBLINGS: str(len(value))}


class _Api:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.limits = agent.config.limits

    # --- helpers ------------------------------------------------------------------
    def _key(self, request: web.Request) -> str:
        key = request.match_info["key"]
        if len(key.encode()) > self.limits.max_key_bytes:
            raise BadRequestError(
                f"key longer than {self.limits.max_key_bytes} bytes", "key_too_long"
            )
        return key

    async def _body(self, request: web.Request, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLargeError(f"value larger than {limit} bytes")
        raw = await request.read()
        if len(raw) > limit:
            raise PayloadTooLargeError(f"value larger than {limit} bytes")
        return raw

    def _local(self, request: web.Request) -> ReplicaStore | None:
        ref = (request.match_info["ns"], request.match_info["res"])
        store = self.agent.stores.get(ref)
        if store is None and ref not in self.agent.specs:
            raise NotFoundError(f"unknown resource {ref[0]}/{ref[1]}", "unknown_resource")
        return store

    async def _forward(self, request: web.Request, operation: str) -> web.Response:
        ns, res = request.match_info["ns"], request.match_info["res"]
        if FORWARDED_BY in request.headers:
            raise UnavailableError(f"no replica of {ns}/{res} here", "no_replica")
        body = (
            await self._body(request, self.limits.max_value_bytes)
            if request.can_read_body
            else None
        )
        candidates = self.agent.directory.nearest(self.agent.locations.get((ns, res), ()))
        session = self.agent.replication.session
        for node in candidates:
            url = f"{self.agent.directory.url(node)}{request.rel_url}"
            try:
                async with session.request(
                    request.method, url, data=body, headers={FORWARDED_BY: self.agent.node}
                ) as reply:
                    payload = await reply.read()
                    headers = {h: reply.headers[h] for h in _PASSED_HEADERS if h in reply.headers}
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError) as err:
                log.info("event=forward_failed node=%s error=%s", node, err)
                continue
            if status < 500:
                self.agent.access.count(ns, res, operation, "remote")
            headers[SERVED] = "remote"
            return web.Response(status=status, body=payload, content_type=_JSON, headers=headers)
        raise UnavailableError(f"no replica of {ns}/{res} reachable", "no_replica")

    def _count(self, request: web.Request, store: ReplicaStore, operation: str) -> None:
        if FORWARDED_BY not in request.headers:
            self.agent.access.count(store.spec.namespace, store.spec.name, operation, "local")

    def _served(self) -> dict[str, str]:
        return {SERVED: "local", SERVED_BY: self.agent.node}

    # --- application API ----------------------------------------------------------
    async def get(self, request: web.Request) -> web.Response:
        key = self._key(request)
        store = self._local(request)
        if store is None:
            return await self._forward(request, "get")
        value = store.get(key)
        self._count(request, store, "get")
        if value is None:
            raise NotFoundError(f"key {key!r} not found", "key_not_found")
        body, headers = _render(value)
        headers.update(self._served())
        return web.Response(body=body, content_type=_JSON, headers=headers)

    async def get_map(self, request: web.Request) -> web.Response:
        store = self._local(request)
        if store is None:
            return await self._forward(request, "list")
        self._count(request, store, "list")
        parts = [json.dumps(k).encode() + b":" + _render(v)[0] for k, v in store.state.items()]
        body = b"{" + b",".join(parts) + b"}"
        return web.Response(body=body, content_type=_JSON, headers=self._served())

    async def put(self, request: web.Request) -> web.Response:
        key = self._key(request)
        store = self._local(request)
        if store is None:
            return await self._forward(request, "put")
        value = _json_body(await self._body(request, self.limits.max_value_bytes))
        result = await store.put(key, value)
        self._count(request, store, "put")
        return web.json_response(result.to_json(), headers=self._served())

    async def delete(self, request: web.Request) -> web.Response:
        key = self._key(request)
        store = self._local(request)
        if store is None:
            return await self._forward(request, "delete")
        self._count(request, store, "delete")
        result = await store.delete(key)
        return web.json_response(result.to_json(), headers=self._served())

    async def increment(self, request: web.Request) -> web.Response:
        key = self._key(request)
        store = self._local(request)
        if store is None:
            return await self._forward(request, "increment")
        raw = await self._body(request, self.limits.max_value_bytes)
        try:
            parsed = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise BadRequestError(f"malformed JSON: {err}", "malformed_json") from err
        by = parsed.get("by", 1) if isinstance(parsed, dict) else None
        if not isinstance(by, int) or isinstance(by, bool) or abs(by) >= 1 << 53:
            raise BadRequestError('increment body must be {"by": <integer>}', "bad_increment")
        result, value = await store.increment(key, by)
        self._count(request, store, "increment")
        return web.json_response({"value": value, **result.to_json()}, headers=self._served())

    # --- operations ---------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        if not self.agent.ready:
            raise UnavailableError("initial synchronisation not done", "not_ready")
        return web.json_response({"status": "ready"})

    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.agent.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def stats(self, request: web.Request) -> web.Response:
        agent = self.agent
        replicas = []
        for ref in sorted(agent.stores):
            report = agent.report(ref)
            if report is not None:
                replicas.append(
                    {
                        "namespace": report.namespace,
                        "resource": report.resource,
                        "keys": report.keys,
                        "bytes": report.bytes,
                        "versionVector": report.version_vector,
                        "lastModified": report.last_modified,
                        "lastSyncMode": report.last_sync_mode,
                        "lastSyncTime": report.last_sync_time,
                        "lagSeconds": report.lag_seconds,
                    }
                )
        return web.json_response(
            {
                "node": agent.node,
                "zone": agent.config.zone,
                "time": time.time(),
                "startedAt": agent.access.started,
                "accesses": agent.access.snapshot(),
                "replicas": replicas,
                "sync": agent.sync_log.snapshot(),
            }
        )

    async def agents(self, request: web.Request) -> web.Response:
        peers = [
            {"node": p.node, "url": p.url, "zone": p.zone, "rttSeconds": p.rtt}
            for p in self.agent.directory.peers.values()
        ]
        return web.json_response({"node": self.agent.node, "peers": peers})

    # --- peer protocol ------------------------------------------------------------
    def _peer_store(self, request: web.Request, sender: str) -> ReplicaStore:
        if self.agent.directory.url(sender) is None:
            raise ForbiddenError(f"unknown peer {sender!r}", "unknown_peer")
        ref = (request.match_info["ns"], request.match_info["res"])
        store = self.agent.stores.get(ref)
        if store is None:
            raise NotFoundError(f"no replica of {ref[0]}/{ref[1]} here", "unknown_resource")
        if sender not in self.agent.locations.get(ref, ()):
            raise ForbiddenError(
                f"{sender!r} holds no replica of {ref[0]}/{ref[1]}", "replica_does_not_belong"
            )
        return store

    async def peer_push(self, request: web.Request) -> web.Response:
        raw = await request.read()
        message = decode_push(raw)
        store = self._peer_store(request, message.sender)
        await store.apply_push(message.sender, message.first, message.last, message.entries)
        ns, res = store.spec.ref
        self.agent.sync_log.record((ns, res, message.sender, "push", "in"), len(raw))
        return web.json_response({"ok": True})

    async def peer_sync(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ask = decode_sync_request(raw)
        store = self._peer_store(request, ask.sender)
        payload = store.delta_since(ask.vector)
        body = encode_sync_reply(payload)
        ns, res = store.spec.ref
        self.agent.replication.record_ack(store.spec.ref, ask.sender, ask.vector)
        mode = "full" if payload.full else "delta"
        self.agent.sync_log.record((ns, res, ask.sender, mode, "out"), len(body))
        return web.Response(body=body, content_type=_JSON)

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({"node": self.agent.node})


def build_app(agent: Agent) -> web.Application:
    """The aiohttp application serving ``agent``."""
    app = web.Application(
        client_max_size=agent.config.limits.max_peer_body_bytes, middlewares=[_errors]
    )
    api = _Api(agent)
    router = app.router
    router.add_get("/healthz", api.healthz)
    router.add_get("/readyz", api.readyz)
    router.add_get("/metrics", api.metrics)
    router.add_get("/v1/stats", api.stats)
    router.add_get("/v1/agents", api.agents)
    router.add_get("/v1/peer/ping", api.ping)
    router.add_post("/v1/peer/push/{ns}/{res}", api.peer_push)
    router.add_post("/v1/peer/sync/{ns}/{res}", api.peer_sync)
    router.add_get("/v1/{ns}/{res}", api.get_map)
    router.add_get("/v1/{ns}/{res}/{key}", api.get)
    router.add_put("/v1/{ns}/{res}/{key}", api.put)
    router.add_delete("/v1/{ns}/{res}/{key}", api.delete)
    router.add_post("/v1/{ns}/{res}/{key}/increment", api.increment)
    return app
