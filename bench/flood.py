"""A flood of oversized and slow requests: the agent's RSS stays bounded and it serves others.

One agent process (standalone, one resource) is measured in three phases of the same
run: ``quiet`` (nobody else), ``flood`` (an attacker process hammers it), ``after``
(the attacker gone). Throughout, a *victim* client reads one key over a keep-alive
connection (one GET every 5 ms; latency p50/p99, failures) and a *newcomer* opens a
new connection for a GET every 100 ms (served, or refused); the agent's RSS
(``VmRSS``) is sampled every 100 ms.

The attacker (its own process, asyncio), all at once for the flood phase:

- ``slow_heads``: connections trickling a request head, a byte a second (slowloris);
- ``slow_bodies``: PUTs that send most of a 1 MiB value fast and then trickle the rest
  (each holds ~0.9 MiB of body in the agent until the body deadline);
- ``oversized_values``: PUTs declaring 2 MiB values to an application route (refused
  from the head, before the body is read), in a loop;
- ``oversized_peer``: peer pushes declaring 200 MiB bodies and streaming them as fast
  as loopback goes (the peer limit is 256 MiB: these are read, then refused as not a
  push), in a loop;
- ``idle``: connections that send nothing (cut at the header deadline), reopened.

The agent runs with ``headerTimeoutSeconds`` 5 and ``bodyTimeoutSeconds`` 10 (shorter
than the defaults, 10 and 60, so that the deadlines act within the flood) and the
default caps (2048 connections, 512 MiB of bodies held).

    python -m bench.flood [--flood-seconds 30] [--json docs/bench/flood.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statecast.agent.launcher import LocalAgents

RESOURCE = {"namespace": "bench", "name": "flags"}
LIMITS = {"headerTimeoutSeconds": 5, "bodyTimeoutSeconds": 10}
KEY_PATH = "/v1/bench/flags/k"
#: Attacker connections of each kind.
SHAPE = {
    "slow_heads": 300,
    "slow_bodies": 300,
    "oversized_values": 8,
    "oversized_peer": 2,
    "idle": 600,
}


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


# --- the attacker ---------------------------------------------------------------


async def _connection(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _until_closed(
    host: str, port: int, attack: Any, counts: dict[str, int], name: str
) -> None:
    """Run one attacking connection again and again (a refusal closes it: reconnect)."""
    while True:
        try:
            reader, writer = await _connection(host, port)
        except OSError:
            counts[f"{name}_connect_failed"] = counts.get(f"{name}_connect_failed", 0) + 1
            await asyncio.sleep(0.5)
            continue
        counts[name] = counts.get(name, 0) + 1
        try:
            await attack(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        await asyncio.sleep(0.05)


async def _slow_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"GET /v1/bench/flags/k HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    while not reader.at_eof():
        writer.write(b"s")
        await writer.drain()
        await asyncio.sleep(1.0)


async def _slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    size = 1_000_000
    writer.write(
        b"PUT /v1/bench/flags/slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    )
    writer.write(b"x" * 900_000)
    await writer.drain()
    while not reader.at_eof():
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(1.0)


async def _oversized_value(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"PUT /v1/bench/flags/big HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")  # 413 from the head


async def _oversized_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    size = 200 << 20
    writer.write(
        b"POST /v1/peer/push/bench/flags HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    )
    chunk = b"\0" * (1 << 20)
    for _ in range(size // len(chunk)):
        if reader.at_eof():
            return
        writer.write(chunk)
        await writer.drain()
    await reader.readuntil(b"\r\n\r\n")


async def _idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the agent closes it (header deadline)


def _attack(host: str, port: int, seconds: float, out: Any) -> None:
    async def run() -> dict[str, int]:
        counts: dict[str, int] = {}
        attacks = {
            "slow_heads": _slow_head,
            "slow_bodies": _slow_body,
            "oversized_values": _oversized_value,
            "oversized_peer": _oversized_peer,
            "idle": _idle,
        }
        tasks = [
            asyncio.ensure_future(_until_closed(host, port, attacks[name], counts, name))
            for name, many in SHAPE.items()
            for _ in range(many)
        ]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return counts

    out.put(asyncio.run(run()))


# --- the victims and the sampler ------------------------------------------------


@dataclass
class Samples:
    """What the measuring threads saw, stamped with the time."""

    gets: list[tuple[float, float, int]] = field(default_factory=list)  # t, seconds, status
    newcomers: list[tuple[float, int]] = field(default_factory=list)  # t, status (0: failed)
    rss: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _victim(host: str, port: int, samples: Samples) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while not samples.stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", KEY_PATH)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        samples.gets.append((time.monotonic(), time.perf_counter() - started, status))
        time.sleep(0.005)


def _newcomer(host: str, port: int, samples: Samples) -> None:
    while not samples.stop.is_set():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request("GET", KEY_PATH)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        samples.newcomers.append((time.monotonic(), status))
        time.sleep(0.1)


def _sampler(pid: int, samples: Samples) -> None:
    while not samples.stop.is_set():
        samples.rss.append((time.monotonic(), rss_bytes(pid)))
        time.sleep(0.1)


def _phase(samples: Samples, start: float, end: float) -> dict[str, Any]:
    gets = [(s, st) for t, s, st in samples.gets if start <= t < end]
    ok = sorted(s for s, st in gets if st == 200)
    newcomers = [st for t, st in samples.newcomers if start <= t < end]
    rss = [r for t, r in samples.rss if start <= t < end]
    mib = 1 << 20

    def q(p: float) -> float:
        return round(ok[min(len(ok) - 1, int(p * len(ok)))] * 1000, 2) if ok else float("nan")

    return {
        "seconds": round(end - start, 1),
        "victim_gets": len(gets),
        "victim_failed": len(gets) - len(ok),
        "victim_p50_ms": q(0.5),
        "victim_p99_ms": q(0.99),
        "victim_max_ms": round(max(ok) * 1000, 2) if ok else None,
        "newcomers": len(newcomers),
        "newcomers_served": sum(1 for st in newcomers if st == 200),
        "newcomer_statuses": {str(k): newcomers.count(k) for k in sorted(set(newcomers))},
        "rss_mib_first": round(rss[0] / mib, 1) if rss else None,
        "rss_mib_max": round(max(rss) / mib, 1) if rss else None,
        "rss_mib_last": round(rss[-1] / mib, 1) if rss else None,
        "rss_mib_median": round(statistics.median(rss) / mib, 1) if rss else None,
    }


def run(flood_seconds: float, quiet_seconds: float, after_seconds: float) -> dict[str, Any]:
    """The three phases against one agent; a dict of their figures."""
    with tempfile.TemporaryDirectory() as tmp:
        agents = LocalAgents(Path(tmp), 1, [RESOURCE], {"limits": LIMITS})
        agents.start_all()
        agent = agents.agents[0]
        assert agent.process is not None
        try:
            conn = http.client.HTTPConnection(agent.host, agent.port, timeout=10)
            conn.request("PUT", KEY_PATH, body=json.dumps("v" * 100))
            assert conn.getresponse().status == 200
            conn.close()
            samples = Samples()
            threads = [
                threading.Thread(target=_victim, args=(agent.host, agent.port, samples)),
                threading.Thread(target=_newcomer, args=(agent.host, agent.port, samples)),
                threading.Thread(target=_sampler, args=(agent.process.pid, samples)),
            ]
            for thread in threads:
                thread.start()
            t0 = time.monotonic()
            time.sleep(quiet_seconds)
            t1 = time.monotonic()
            queue: Any = multiprocessing.get_context("spawn").Queue()
            attacker = multiprocessing.get_context("spawn").Process(
                target=_attack, args=(agent.host, agent.port, flood_seconds, queue)
            )
            attacker.start()
            counts = queue.get(timeout=flood_seconds + 120)
            attacker.join(timeout=30)
            t2 = time.monotonic()
            time.sleep(after_seconds)
            t3 = time.monotonic()
            samples.stop.set()
            for thread in threads:
                thread.join()
            alive = agent.process.poll() is None
        finally:
            agents.stop_all()
    return {
        "limits": LIMITS,
        "attacker_connections": SHAPE,
        "attacker_connections_made": counts,
        "agent_alive_after": alive,
        "quiet": _phase(samples, t0, t1),
        "flood": _phase(samples, t1, t2),
        "after": _phase(samples, t2, t3),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--after-seconds", type=float, default=15.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    result = run(args.flood_seconds, args.quiet_seconds, args.after_seconds)
    result["load_before"], result["load_after"] = load, os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
