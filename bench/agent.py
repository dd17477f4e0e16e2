"""Agent benchmark: capacity next to Redis with native load generators, the same through
the Python client libraries, delta vs full sync bytes, convergence of 5 agents after a
burst, and one agent at a million keys (latency while it grows and compacts, memory of
the whole process, recovery after kill -9).

Run from the repository root (``make bench-agent``)::

    nice -n 10 .venv/bin/python -m bench.agent          # everything: docs/bench/agent.md/json
    .venv/bin/python -m bench.agent --quick             # smaller sizes, for a smoke run
    .venv/bin/python -m bench.agent --only capacity     # one part (repeatable)
    .venv/bin/python -m bench.agent --only profile      # where a request's CPU goes
    nice -n 15 .venv/bin/python -m bench.agent --only handover  # CPU time only: no lock

Agents run as separate processes (``python -m statecast.cli agent --standalone``) on
loopback addresses 127.0.0.2 and up, with the default fsync policy (``interval``: each
write reaches the log with write(2) before it is acknowledged, fsync every second).
Redis (``redis-server`` from Debian, installed with apt-get if missing, as are wrk and
redis-benchmark) runs on 127.0.0.1 with ``appendonly yes`` and ``appendfsync everysec``,
the same durability. Where a section pins processes, the server under test runs alone
on the last core and the load generator on the first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench import native
from bench.agent_capacity import bench_capacity, render_capacity
from bench.agent_handover import bench_handover, render_handover
from bench.agent_million import bench_million, render_million
from bench.agent_nearcache import bench_nearcache, render_nearcache
from bench.agent_profile import bench_profile, render_profile
from statecast.agent.launcher import LocalAgent, LocalAgents
from statecast.client import AsyncClient, Client
from statecast.core.crdt.replica_id import node_of

OUT = Path("docs/bench")
FLAGS = {"namespace": "bench", "name": "flags"}
VALUE = "v" * 98  # a JSON string of 100 bytes


# --- helpers ----------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_threads(
    threads: int, per_thread: int, make: Callable[[], Callable[[int], object]]
) -> dict[str, float]:
    """Run ``per_thread`` operations in each of ``threads`` threads; latency and rate."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ops = [make() for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(t: int) -> None:
        op, out = ops[t], latencies[t]
        barrier.wait()
        for i in range(per_thread):
            started = time.perf_counter()
            op(t * per_thread + i)
            out.append(time.perf_counter() - started)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for part in latencies for x in part]
    return {
        "p50_ms": pct(flat, 0.5) * 1000,
        "p99_ms": pct(flat, 0.99) * 1000,
        "ops_per_s": len(flat) / elapsed,
    }


# --- 1. through the client libraries, next to Redis through redis-py ---------------------
def bench_clients(root: Path, n: int) -> list[dict[str, Any]]:
    import redis

    native.ensure_tools()
    agents = LocalAgents(root / "clients", 1, [FLAGS])
    agents.start_all()
    redis_server = native.RedisServer(root, native.Cores(None, None))
    redis_proc, redis_port = redis_server.process, redis_server.port
    rows: list[dict[str, Any]] = []
    # Servers on the last core, clients on the others: the same placement for both
    # systems, and no server losing its core to its own clients mid-request.
    cores = sorted(os.sched_getaffinity(0))
    pinned = len(cores) >= 2
    if pinned:
        server_core, client_cores = {cores[-1]}, set(cores[:-1])
        agent_proc = agents.agents[0].process
        assert agent_proc is not None
        os.sched_setaffinity(agent_proc.pid, server_core)
        os.sched_setaffinity(redis_proc.pid, server_core)
        os.sched_setaffinity(0, client_cores)
    try:
        url = agents.agents[0].url
        seed = Client([url], discover_peers=False)
        seeder = redis.Redis(host="127.0.0.1", port=redis_port)
        for i in range(1000):
            seed.put("bench", "flags", f"k{i}", VALUE)
            seeder.set(f"k{i}", json.dumps(VALUE))
        seed.close()

        def statecast_get() -> Callable[[int], object]:
            client = Client([url], discover_peers=False)
            return lambda i: client.get("bench", "flags", f"k{i % 1000}")

        def statecast_put() -> Callable[[int], object]:
            client = Client([url], discover_peers=False)
            return lambda i: client.put("bench", "flags", f"k{i % 1000}", VALUE)

        def redis_get() -> Callable[[int], object]:
            client = redis.Redis(host="127.0.0.1", port=redis_port)
            return lambda i: client.get(f"k{i % 1000}")

        def redis_set() -> Callable[[int], object]:
            client = redis.Redis(host="127.0.0.1", port=redis_port)
            payload = json.dumps(VALUE)
            return lambda i: client.set(f"k{i % 1000}", payload)

        cases = [
            ("statecast", "GET", statecast_get),
            ("redis", "GET", redis_get),
            ("statecast", "PUT", statecast_put),
            ("redis", "SET", redis_set),
        ]
        for threads in (1, 16):
            for system, op, make in cases:
                run_threads(threads, max(50, n // (10 * threads)), make)  # warm up
                result = run_threads(threads, max(100, n // threads), make)
                rows.append({"system": system, "op": op, "clients": threads, **result})
                print(f"  {system:9s} {op:3s} clients={threads:2d} {result}", flush=True)
    finally:
        if pinned:
            os.sched_setaffinity(0, set(cores))
        agents.stop_all()
        redis_server.stop()
    return rows


# --- 2. bytes to bring a replica up to date: delta vs full -------------------------------
def sync_bytes(agent: LocalAgent, mode: str) -> int:
    rows = httpx.get(f"{agent.url}/v1/stats", timeout=30).json()["sync"]
    return sum(r["bytes"] for r in rows if r["mode"] == mode and r["direction"] == "in")


def agreed(agents: list[LocalAgent]) -> bool:
    vectors = []
    for agent in agents:
        try:
            replicas = httpx.get(f"{agent.url}/v1/stats", timeout=30).json()["replicas"]
        except httpx.HTTPError:
            return False
        vectors.append(replicas[0]["versionVector"] if replicas else None)
    return all(v == vectors[0] for v in vectors)


def wait_for(check: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit("timed out waiting for agents to agree")


async def load_keys(url: str, keys: list[str], value: str, concurrency: int = 32) -> None:
    async with AsyncClient([url], discover_peers=False) as client:
        queue = list(reversed(keys))

        async def worker() -> None:
            while queue:
                await client.put("bench", "flags", queue.pop(), value)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def bench_delta(root: Path, total_bytes: int) -> dict[str, Any]:
    value = "d" * 190  # ~200 bytes per key with the key
    n_keys = total_bytes // 200
    keys = [f"key-{i:07d}" for i in range(n_keys)]
    agents = LocalAgents(root / "delta", 2, [FLAGS], {"syncInterval": 0.5})
    agents.start_all()
    source, replica = agents.agents
    try:
        started = time.monotonic()
        asyncio.run(load_keys(source.url, keys, value))
        load_seconds = time.monotonic() - started
        wait_for(lambda: agreed(agents.agents))
        agents.stop(replica)
        changed = keys[::100]  # 1% of the keys
        asyncio.run(load_keys(source.url, changed, "c" * 190))
        agents.start(replica)
        agents.wait_ready(replica, timeout=300)
        wait_for(lambda: agreed(agents.agents))
        delta = sync_bytes(replica, "delta")
        agents.kill(replica)
        shutil.rmtree(root / "delta" / replica.node)
        agents.start(replica)
        agents.wait_ready(replica, timeout=300)
        wait_for(lambda: agreed(agents.agents))
        full = sync_bytes(replica, "full")
    finally:
        agents.stop_all()
    result = {
        "keys": n_keys,
        "map_bytes": n_keys * (len(keys[0]) + len(value) + 2),
        "changed_keys": len(changed),
        "delta_bytes": delta,
        "full_bytes": full,
        "ratio": delta / full if full else float("nan"),
        "load_seconds": load_seconds,
    }
    print(f"  delta vs full: {result}", flush=True)
    return result


# --- 3. convergence of 5 agents after a burst ---------------------------------------------
async def converge(agents: list[LocalAgent], writes: int) -> dict[str, Any]:
    acks: list[tuple[str, int, float]] = []  # (origin node, seq, ack time)
    seen: dict[tuple[str, str], list[tuple[float, int]]] = {}  # (observer, origin) -> [(t, seq)]
    done = asyncio.Event()

    async def poll(session: aiohttp.ClientSession, agent: LocalAgent) -> None:
        while not done.is_set():
            async with session.get(f"{agent.url}/v1/stats") as reply:
                body = await reply.json()
            now = time.monotonic()
            if body["replicas"]:
                for origin, seq in body["replicas"][0]["versionVector"].items():
                    # a copy's events are its replica id's, <node>#<token>: the writer's node
                    seen.setdefault((agent.node, node_of(origin)), []).append((now, seq))
            await asyncio.sleep(0.02)

    async def write(client: AsyncClient, node: str, keys: list[str]) -> None:
        for key in keys:
            result = await client.put("bench", "flags", key, VALUE)
            acks.append((node, int(result["seq"]), time.monotonic()))

    clients = [AsyncClient([a.url], discover_peers=False) for a in agents]
    per_writer = 8
    jobs = []
    for i in range(writes):
        jobs.append((i % len(agents), f"burst-{i}"))
    async with aiohttp.ClientSession() as session:
        pollers = [asyncio.create_task(poll(session, a)) for a in agents]
        started = time.monotonic()
        tasks = []
        for a_index, agent in enumerate(agents):
            mine = [k for j, k in jobs if j == a_index]
            for w in range(per_writer):
                tasks.append(write(clients[a_index], agent.node, mine[w::per_writer]))
        await asyncio.gather(*tasks)
        burst_seconds = time.monotonic() - started
        final: dict[str, int] = {}
        for node, seq, _ in acks:
            final[node] = max(final.get(node, 0), seq)
        while True:
            complete = all(
                any(seq >= final[origin] for _, seq in seen.get((a.node, origin), []))
                for a in agents
                for origin in final
            )
            if complete:
                break
            await asyncio.sleep(0.05)
        converged = time.monotonic() - started
        done.set()
        await asyncio.gather(*pollers)
    for client in clients:
        await client.close()
    lags = []
    for origin, seq, acked in acks:
        visible = []
        for agent in agents:
            if agent.node == origin:
                continue
            times = [t for t, s in seen[(agent.node, origin)] if s >= seq]
            visible.append(min(times))
        lags.append(max(0.0, max(visible) - acked))
    return {
        "agents": len(agents),
        "writes": writes,
        "burst_seconds": burst_seconds,
        "all_agree_after_s": converged,
        "lag_p50_ms": pct(lags, 0.5) * 1000,
        "lag_p99_ms": pct(lags, 0.99) * 1000,
        "lag_max_ms": max(lags) * 1000,
        "poll_interval_ms": 20,
    }


def bench_convergence(root: Path, writes: int) -> dict[str, Any]:
    agents = LocalAgents(root / "converge", 5, [FLAGS])
    agents.start_all()
    try:
        result = asyncio.run(converge(agents.agents, writes))
    finally:
        agents.stop_all()
    print(f"  convergence: {result}", flush=True)
    return result


# --- 4. memory per key ----------------------------------------------------------------------
# One fresh process per layout: the agent's store (an EntryTable behind DeltaMap) and, as the
# baseline, a bare dict[str, bytes] of the same keys and values with no metadata at all.
# After the RSS is read, the same process times reads of random keys (DeltaMap.get with its
# value copy, against dict.get) for the cost of the compact layout on the read path.
MEMORY = textwrap.dedent(
    """
    import gc, json, random, sys, time
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    import statecast.agent.server  # what an agent process imports
    from statecast.agent.config import ResourceSpec
    from statecast.agent.store import ReplicaStore
    n, layout = int(sys.argv[1]), sys.argv[2]
    if layout == "statecast":
        store = ReplicaStore(ResourceSpec(namespace="b", name="m"), "node-0", None)
        write, read = store.state.put, store.state.get
    else:
        plain = {}
        write, read = plain.__setitem__, plain.get
    gc.collect()
    before = rss()
    raw = 0
    for i in range(n):
        key = f"key:{i:08d}"
        value = json.dumps(f"{i:08d}" + "v" * 90).encode()  # 100 bytes, one object per key
        write(key, value)
        raw += len(key) + len(value)
    gc.collect()
    after = rss()
    keys = [f"key:{random.randrange(n):08d}" for _ in range(100_000)]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for key in keys:
            read(key)
        best = min(best, (time.perf_counter() - started) / len(keys))
    print(json.dumps({"keys": n, "raw_bytes": raw, "rss_before": before, "rss_after": after,
                      "get_us": best * 1e6}))
    """
)


# The longest single piece of work the store does while it grows to n keys and while
# every key is rewritten longer (half the arena dies: the cleaner runs), in CPU time of
# the thread (not wall time: other processes on a shared machine do not count). Writes
# go one at a time; every 256 writes the agent's housekeeping runs one 1 ms slice, as
# the event loop would between requests.
STEPS = textwrap.dedent(
    """
    import json, sys, time
    from statecast.agent.housekeeping import Housekeeper
    from statecast.core.crdt import DeltaMap
    n = int(sys.argv[1])
    state = DeltaMap("node-0")
    keeper = Housekeeper(lambda: [state])
    cpu = time.thread_time
    out = {"keys": n}
    for phase, size in (("grow", 100), ("rewrite", 120), ("rewrite again", 140)):
        value = json.dumps("v" * (size - 2)).encode()
        longest_put = longest_slice = 0.0
        growths = cleanings = slices = 0
        for i in range(n):
            key = f"key:{i:08d}"
            capacity, cleaning = state._entries.capacity, state._entries._cleaning
            started = cpu()
            state.put(key, value)
            longest_put = max(longest_put, cpu() - started)
            growths += state._entries.capacity != capacity
            cleanings += cleaning is None and state._entries._cleaning is not None
            if i % 256 == 0 and state.busy:
                started = cpu()
                keeper.run_slice()
                longest_slice = max(longest_slice, cpu() - started)
                slices += 1
        while keeper.run_slice():
            pass
        started = cpu()
        image = state.image()
        out[phase] = {"longest_put_ms": longest_put * 1e3, "longest_slice_ms": longest_slice * 1e3,
                      "index_growths": growths, "cleanings": cleanings, "slices": slices,
                      "image_ms": (cpu() - started) * 1e3}
        del image
    print(json.dumps(out))
    """
)


def measure_steps(n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", STEPS, str(n)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def measure_memory(n: int, layout: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(n), layout], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    result["layout"] = layout
    result["rss_growth"] = result["rss_after"] - result["rss_before"]
    result["growth_over_raw"] = result["rss_growth"] / result["raw_bytes"]
    result["rss_over_raw"] = result["rss_after"] / result["raw_bytes"]
    return result


def bench_memory(n: int) -> dict[str, Any]:
    result = measure_memory(n, "statecast")
    result["baseline"] = measure_memory(n, "dict")
    result["steps"] = measure_steps(n)
    print(f"  memory: {result}", flush=True)
    return result


# --- report -----------------------------------------------------------------------------
SECTIONS = [
    "capacity",
    "profile",
    "clients",
    "delta",
    "convergence",
    "million",
    "store",
    "handover",
    "nearcache",
]


def render_clients(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Through the Python client libraries: statecast.client vs redis-py (loopback)",
        "",
        "What an application written in Python sees, one request at a time per thread; the "
        "client threads share the benchmark process's GIL, so with 16 threads this measures "
        "the clients more than the servers (see the capacity section for the servers).",
        "",
        "| system | op | client threads | p50 ms | p99 ms | ops/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['op']} | {r['clients']} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {r['ops_per_s']:.0f} |"
        )
    lines += ["", "Ratios (statecast / Redis):", ""]
    for clients in (1, 16):
        pick = {(r["system"], r["op"]): r for r in rows if r["clients"] == clients}
        get_s, get_r = pick[("statecast", "GET")], pick[("redis", "GET")]
        put_s, put_r = pick[("statecast", "PUT")], pick[("redis", "SET")]
        lines.append(
            f"- {clients} thread(s): GET p50 {get_s['p50_ms'] / get_r['p50_ms']:.2f}x, "
            f"GET throughput {get_s['ops_per_s'] / get_r['ops_per_s']:.2f}x; "
            f"PUT p50 {put_s['p50_ms'] / put_r['p50_ms']:.2f}x, "
            f"PUT throughput {put_s['ops_per_s'] / put_r['ops_per_s']:.2f}x"
        )
    return lines


def render_delta(delta: dict[str, Any]) -> list[str]:
    return [
        "## Bytes to bring a replica up to date (1% of the keys changed)",
        "",
        "| keys | map bytes | changed keys | delta bytes | full snapshot bytes | delta / full |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {delta['keys']} | {delta['map_bytes']} | {delta['changed_keys']} | "
        f"{delta['delta_bytes']} | {delta['full_bytes']} | {delta['ratio']:.2%} |",
    ]


def render_convergence(conv: dict[str, Any]) -> list[str]:
    return [
        "## Convergence after a burst (5 agents on loopback)",
        "",
        "| agents | writes | burst s | all agree after s | lag p50 ms | lag p99 ms | lag max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {conv['agents']} | {conv['writes']} | {conv['burst_seconds']:.2f} | "
        f"{conv['all_agree_after_s']:.2f} | {conv['lag_p50_ms']:.1f} | "
        f"{conv['lag_p99_ms']:.1f} | {conv['lag_max_ms']:.1f} |",
        "",
        "Lag of a write: from its acknowledgement until every other agent's version "
        f"vector covers it (sampled every {conv['poll_interval_ms']} ms).",
    ]


def render_store(mem: dict[str, Any]) -> list[str]:
    mib = 1 << 20
    names = {
        "statecast": "agent store (EntryTable)",
        "dict": "baseline: bare `dict[str, bytes]`, no metadata",
    }
    lines = [
        "## The store alone, in a process of its own (no server, no log)",
        "",
        "| layout | keys | raw bytes (keys + values) | RSS before | RSS after | growth / raw "
        "| RSS / raw | read µs/key |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (mem, mem.get("baseline")):
        if not row:
            continue
        get_us = f"{row['get_us']:.2f}" if "get_us" in row else "-"
        lines.append(
            f"| {names.get(row.get('layout', 'statecast'), '')} | {row['keys']} | "
            f"{row['raw_bytes'] / mib:.1f} MiB | {row['rss_before'] / mib:.1f} MiB | "
            f"{row['rss_after'] / mib:.1f} MiB | {row['growth_over_raw']:.2f}x | "
            f"{row['rss_over_raw']:.2f}x | {get_us} |"
        )
    lines += [
        "",
        "Read µs/key: `DeltaMap.get` (the value copied out of the arena) against "
        "`dict.get` (no copy), 100,000 random keys, best of 5.",
    ]
    steps = mem.get("steps")
    if steps:
        lines += [
            "",
            f"The longest single piece of work while the store grows to {steps['keys']:,} keys "
            "and while every key is rewritten longer, twice (the second time half the arena "
            "is dead and the cleaner runs; thread CPU time, so other processes "
            "on the machine do not count; a housekeeping slice every 256 writes, as the "
            "agent runs them between requests):",
            "",
            "| phase | longest write ms | longest housekeeping slice ms | index growths "
            "| cleanings started | frozen image for a snapshot ms |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for phase in ("grow", "rewrite", "rewrite again"):
            p = steps[phase]
            lines.append(
                f"| {phase} | {p['longest_put_ms']:.2f} | {p['longest_slice_ms']:.2f} | "
                f"{p['index_growths']} | {p['cleanings']} | {p['image_ms']:.1f} |"
            )
    return lines


RENDERERS: dict[str, Callable[[Any], list[str]]] = {
    "capacity": render_capacity,
    "profile": render_profile,
    "clients": render_clients,
    "delta": render_delta,
    "convergence": render_convergence,
    "million": render_million,
    "store": render_store,
    "handover": render_handover,
    "nearcache": render_nearcache,
}


def render(results: dict[str, Any]) -> str:
    lines = ["# Agent benchmark", ""]
    for name in SECTIONS:
        section = results.get(name)
        if section is None:
            continue
        run = results["runs"][name]
        lines += [
            *RENDERERS[name](section["result"]),
            "",
            f"_Run: `{run['command']}` on {run['machine']}, {run['date']}; load average "
            f"before {run['load_before']:.1f}, after {run['load_after']:.1f}._",
            "",
        ]
    return "\n".join(lines)


def run_section(name: str, root: Path, quick: bool) -> Any:
    print(name, flush=True)
    if name == "capacity":
        return bench_capacity(root, 4 if quick else 10, 1 if quick else 2)
    if name == "profile":
        return bench_profile(root, 3 if quick else 8)
    if name == "clients":
        return bench_clients(root, 500 if quick else 5000)
    if name == "delta":
        return bench_delta(root, (1 if quick else 10) * 1_000_000)
    if name == "convergence":
        return bench_convergence(root, 1000 if quick else 10_000)
    if name == "million":
        return bench_million(root, 100_000 if quick else 1_000_000)
    if name == "handover":
        return bench_handover(20_000 if quick else 100_000)
    if name == "nearcache":
        return bench_nearcache(root, 20_000 if quick else 200_000, 50 if quick else 200)
    return bench_memory(100_000 if quick else 1_000_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run this part, keep the others'"
    )
    args = parser.parse_args()
    sections = args.only or SECTIONS
    suffix = "-quick" if args.quick else ""
    json_path = OUT / f"agent{suffix}.json"
    results: dict[str, Any] = {"runs": {}}
    if args.only and json_path.exists():  # keep the parts not run now
        kept = json.loads(json_path.read_text())
        if "runs" in kept:  # (a file of the format before sections had runs: start over)
            results = kept
    for name in sections:
        with tempfile.TemporaryDirectory(prefix="statecast-bench-") as tmp:
            load_before = os.getloadavg()[0]
            results[name] = {"result": run_section(name, Path(tmp), args.quick)}
            results["runs"][name] = {
                "command": "python -m bench.agent" + (" --quick" if args.quick else ""),
                "machine": (
                    f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"Python {platform.python_version()}"
                ),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_before": load_before,
                "load_after": os.getloadavg()[0],
            }
        OUT.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        (OUT / f"agent{suffix}.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
