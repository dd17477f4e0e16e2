"""What authentication and authorization cost a cached GET (issue 15: at most 20%).

Two agents in this process serve the same resource, one with auth off and one with
auth on whose TokenReview and SubjectAccessReview answers are already cached (the
steady state: a pod's token is reviewed once a minute, a decision every 10 s), so
what is measured is the cost of the cached check on every request. Measured the same
way for both, interleaved in rounds so load changes hit both alike:

- ``handler``: the Agent API's handler alone (``AgentApi.__call__``), a local GET, in
  a tight loop: the check's CPU cost per request;
- ``loopback``: one keep-alive connection, one GET at a time over loopback, answer
  read: a request's latency as a client sees it (client in the same process).

    python -m bench.auth --requests 20000 --rounds 5 [--json out/auth.json]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from statecast.agent.auth import Gate, Identity, TokenVerdict
from statecast.agent.config import AgentConfig, ResourceSpec
from statecast.agent.httpserver import HttpServer, Request
from statecast.agent.runtime import Agent
from statecast.agent.server import AgentApi, build_server

_USER = Identity("system:serviceaccount:bench:app", "uid")
_TOKEN = "bench-token-" + "x" * 900  # a projected token is ~1 KB


class _AllowAll:
    def review_token(self, token: str, audience: str) -> TokenVerdict:
        return TokenVerdict(_USER)

    def review_access(
        self, identity: Identity, namespace: str, resource: str, verb: str
    ) -> tuple[bool, str]:
        return True, ""


async def _agent(root: Path, auth: bool) -> tuple[Agent, HttpServer]:
    config = AgentConfig(
        node="n1",
        data_dir=root / ("on" if auth else "off"),
        auth=auth,
        resources=(ResourceSpec(namespace="bench", name="flags"),),
    )
    agent = Agent(config)
    agent.load_standalone()
    if auth:
        agent.gate = Gate(_AllowAll(), token_ttl=3600, access_ttl=3600)
    server = build_server(agent)
    await server.start("127.0.0.1", 0)
    await agent.start()
    agent.stores["bench", "flags"].put_now("k", b'"value"')
    return agent, server


async def _answer(api: AgentApi, request: Request) -> None:
    """Have ``api`` answer ``request``, awaiting the answer when it is not ready at once
    (a token or an access decision not cached yet is reviewed first)."""
    result = api(request)
    if inspect.isawaitable(result):
        await result


async def _handler_ns(api: AgentApi, auth: bool, count: int) -> list[int]:
    times = []
    for _ in range(count):
        # a new request each time, as parsed off the wire (the token's hash not cached)
        headers = {"host": "x"}
        if auth:
            headers["authorization"] = "".join(("Bearer ", _TOKEN))
        request = Request("GET", "/v1/bench/flags/k", headers, b"", "127.0.0.1:1")
        started = time.perf_counter_ns()
        await _answer(api, request)
        times.append(time.perf_counter_ns() - started)
    return times


async def _loopback_ns(port: int, auth: bool, count: int) -> list[int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = f"Authorization: Bearer {_TOKEN}\r\n" if auth else ""
    request = f"GET /v1/bench/flags/k HTTP/1.1\r\nHost: x\r\n{header}\r\n".encode()
    times = []
    for _ in range(count):
        started = time.perf_counter_ns()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        times.append(time.perf_counter_ns() - started)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode())
    writer.close()
    return times


async def run(requests: int, rounds: int) -> dict[str, Any]:
    """Measure both agents; p50 (µs) of each mode and the cost of auth in percent."""
    samples: dict[str, dict[bool, list[int]]] = {"handler": {}, "loopback": {}}
    with tempfile.TemporaryDirectory() as tmp:
        agents = {auth: await _agent(Path(tmp), auth) for auth in (False, True)}
        for _ in range(rounds):
            for auth, (agent, server) in agents.items():
                headers = {"authorization": f"Bearer {_TOKEN}"} if auth else {}
                api = AgentApi(agent)
                # warm: from here on the review's answers are cached
                await _answer(api, Request("GET", "/v1/bench/flags/k", headers, b"", "127.0.0.1:1"))
                samples["handler"].setdefault(auth, []).extend(
                    await _handler_ns(api, auth, requests)
                )
                samples["loopback"].setdefault(auth, []).extend(
                    await _loopback_ns(server.port, auth, requests)
                )
        for agent, server in agents.values():
            await server.close()
            await agent.stop()
    result: dict[str, Any] = {"requests_per_round": requests, "rounds": rounds}
    for mode, by_auth in samples.items():
        off, on = (statistics.median(by_auth[a]) / 1000 for a in (False, True))
        result[mode] = {
            "p50_us_auth_off": round(off, 2),
            "p50_us_auth_on": round(on, 2),
            "cost_percent": round(100 * (on - off) / off, 1),
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.requests, args.rounds))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
