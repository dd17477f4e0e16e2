"""What mutual TLS between agents costs (issue 15): the same agents with and without.

Two sets of two standalone agent processes on loopback, one speaking plain HTTP to each
other and one mutual TLS (certificates of a CA made for the run, :class:`LocalAgents`
with ``tls``); everything else equal. Measured in interleaved rounds, so load changes
hit both alike, with one keep-alive client connection (``http.client``) to the agents'
application port (plain in both: only agent-to-agent traffic changes):

- ``forwarded_get``: a GET on node-1 for a resource only node-0 holds: node-1 forwards
  it over its pooled connection to node-0 (TLS: the peer listener) - one peer round
  trip on the read path; p50 and p99 latency.
- ``strong_put``: a PUT of a strong resource at its leader node-0, acknowledged once
  node-1 stored it too - one peer round trip (the log append) on the write path, and
  an fsync of the log on both (which dominates on a busy disk).
- ``push_burst``: 2,000 PUTs of an eventual resource to node-0 as fast as one client
  sends them, then until node-1 holds them all (pushes and anti-entropy): seconds from
  the first PUT, and from the last PUT's answer.
- ``new_connection``: a new connection to node-0's agent-to-agent port (TLS: TCP plus
  the mutual handshake and both certificate checks) and one ping answered: p50.

    python -m bench.tls --requests 2000 --rounds 5 [--json out/tls.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from statecast.agent.launcher import LocalAgent, LocalAgents
from statecast.core.pki import agent_name
from statecast.pki.certs import issue
from statecast.pki.contexts import TlsMaterial

RESOURCES: list[dict[str, Any]] = [
    {"namespace": "bench", "name": "held", "replicas": ["node-0"]},
    {"namespace": "bench", "name": "ledger", "consistency": "strong", "leader": "node-0"},
    {"namespace": "bench", "name": "flags"},
]
BURST = 2000


def _connection(agent: LocalAgent) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(agent.host, agent.port, timeout=30)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _call(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes = b""
) -> bytes:
    connection.request(
        method, path, body=body or None, headers={"Content-Type": "application/json"}
    )
    reply = connection.getresponse()
    data = reply.read()
    if reply.status != 200:
        raise RuntimeError(f"{method} {path}: {reply.status} {data[:200]!r}")
    return data


def _timed(count: int, call: Any) -> list[int]:
    times = []
    for i in range(count):
        started = time.perf_counter_ns()
        call(i)
        times.append(time.perf_counter_ns() - started)
    return times


def _burst_seconds(agents: LocalAgents, round_no: int) -> tuple[float, float]:
    """Seconds from the first write to node-1 holding all; and from the last write's ack."""
    source, sink = agents.agents
    connection = _connection(source)
    started = time.perf_counter()
    for i in range(BURST):
        _call(connection, "PUT", f"/v1/bench/flags/r{round_no}-{i}", b"1")
    connection.close()
    acknowledged = time.perf_counter()
    reader = _connection(sink)
    while True:
        reader.request("GET", "/v1/bench/flags")
        held = json.loads(reader.getresponse().read())
        if sum(1 for key in held if key.startswith(f"r{round_no}-")) == BURST:
            break
        time.sleep(0.005)
    reader.close()
    done = time.perf_counter()
    return done - started, done - acknowledged


def _new_connection_ns(agents: LocalAgents, count: int) -> list[int]:
    target, _ = agents.agents
    context: ssl.SSLContext | None = None
    if agents.authority is not None:
        pair = issue(agents.authority, agent_name("node-1"), time.time(), 3600)
        material = TlsMaterial()
        material.load(pair.cert, pair.key, agents.authority.cert)
        context = material.client_context()
    port = target.peer_port or target.port
    request = b"GET /v1/peer/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    times = []
    for _ in range(count):
        started = time.perf_counter_ns()
        raw = socket.create_connection((target.host, port))
        sock = context.wrap_socket(raw, server_hostname=agent_name(target.node)) if context else raw
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        times.append(time.perf_counter_ns() - started)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(answer[:200])
    return times


def _round(
    agents: LocalAgents, tls: bool, requests: int, samples: dict[str, dict[bool, list[int]]]
) -> None:
    leader, follower = agents.agents
    forward = _connection(follower)
    samples["forwarded_get"].setdefault(tls, []).extend(
        _timed(requests, lambda i: _call(forward, "GET", "/v1/bench/held/k"))
    )
    forward.close()
    write = _connection(leader)
    samples["strong_put"].setdefault(tls, []).extend(
        _timed(requests, lambda i: _call(write, "PUT", f"/v1/bench/ledger/k{i % 50}", b"1"))
    )
    write.close()
    samples["new_connection"].setdefault(tls, []).extend(
        _new_connection_ns(agents, max(50, requests // 20))
    )


def _us(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 1)


def run(requests: int, rounds: int) -> dict[str, Any]:
    """Measure both sets; p50/p99 (µs) per mode and the cost of TLS in percent."""
    samples: dict[str, dict[bool, list[int]]] = {
        "forwarded_get": {},
        "strong_put": {},
        "new_connection": {},
    }
    bursts: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {
            tls: LocalAgents(
                Path(tmp, "tls" if tls else "plain"), 2, RESOURCES, {"fsync": "never"}, tls=tls
            )
            for tls in (False, True)
        }
        try:
            for agents in sets.values():
                agents.start_all()
            for agents in sets.values():  # warm up: values in place, pooled connections open
                leader, follower = agents.agents
                warm = _connection(leader)
                _call(warm, "PUT", "/v1/bench/held/k", b'"value"')
                for i in range(50):
                    _call(warm, "PUT", f"/v1/bench/ledger/k{i % 5}", b"1")
                warm.close()
                forward = _connection(follower)
                for _ in range(200):
                    _call(forward, "GET", "/v1/bench/held/k")
                forward.close()
            for round_no in range(rounds):
                # plain first in even rounds, TLS first in odd ones: no order bias
                for tls in (False, True) if round_no % 2 == 0 else (True, False):
                    _round(sets[tls], tls, requests, samples)
                    bursts[tls].append(_burst_seconds(sets[tls], round_no))
        finally:
            for agents in sets.values():
                agents.stop_all()
    result: dict[str, Any] = {"requests_per_round": requests, "rounds": rounds}
    for mode, by_tls in samples.items():
        plain, secure = by_tls[False], by_tls[True]
        p50_plain, p50_tls = statistics.median(plain) / 1000, statistics.median(secure) / 1000
        result[mode] = {
            "p50_us_plain": round(p50_plain, 1),
            "p50_us_tls": round(p50_tls, 1),
            "p99_us_plain": _us(plain, 0.99),
            "p99_us_tls": _us(secure, 0.99),
            "p50_cost_percent": round(100 * (p50_tls - p50_plain) / p50_plain, 1),
        }
    plain_s, tls_s = (statistics.median(b[0] for b in bursts[t]) for t in (False, True))
    tail_plain, tail_tls = (statistics.median(b[1] for b in bursts[t]) for t in (False, True))
    result["push_burst"] = {
        "writes": BURST,
        "median_s_plain": round(plain_s, 3),
        "median_s_tls": round(tls_s, 3),
        "cost_percent": round(100 * (tls_s - plain_s) / plain_s, 1),
        "after_last_ack_s_plain": round(tail_plain, 3),
        "after_last_ack_s_tls": round(tail_tls, 3),
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.requests, args.rounds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
