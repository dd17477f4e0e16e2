"""The near cache next to Redis's client-side caching (redis-py, RESP3 tracking), same run.

Two agents on loopback (the application's node and another); 1,000 keys of 100-byte
values. The application reads through ``Client.cached`` (statecast) or a redis-py
client with ``cache_config`` (Redis keeps track of the keys it read and pushes
invalidations). Measured from Python, as the application sees it:

- read latency of a key already read (p50/p99 of 200,000 reads of random keys);
- propagation: a write made on the other node (statecast: through the other agent;
  Redis: through another connection) until the application's next read returns it
  (it reads in a loop), 200 times: p50/p99/max;
- the near cache's lag (seconds since the agent's last heartbeat) seen during the reads.

redis-py refuses client-side caching with servers before 7.4 ("to maximize
compatibility"); Debian's redis-server 7.0 has the RESP3 tracking it uses (since 6.0),
so the benchmark lowers that check.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from bench import native
from statecast.agent.launcher import LocalAgents
from statecast.client import Client

__all__ = ["bench_nearcache", "render_nearcache"]

KEYS = 1000
VALUE = "v" * 98


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _reads(get: Any, reads: int) -> list[float]:
    keys = [f"key:{random.randrange(KEYS):08d}" for _ in range(reads)]
    timer, out = time.perf_counter, []
    for key in keys:
        started = timer()
        get(key)
        out.append(timer() - started)
    return out


def _propagation(write: Any, read: Any, rounds: int) -> list[float]:
    out = []
    for i in range(rounds):
        key = f"key:{random.randrange(KEYS):08d}"
        value = f"new-{i}-{random.random()}"
        started = time.perf_counter()
        write(key, value)
        while read(key) != value:
            if time.perf_counter() - started > 5:
                raise SystemExit("a write never became visible")
        out.append(time.perf_counter() - started)
    return out


def _statecast(root: Path, reads: int, rounds: int) -> dict[str, Any]:
    agents = LocalAgents(root / "near", 2, [{"namespace": "bench", "name": "flags"}])
    agents.start_all()
    try:
        near, far = agents.agents
        with Client([near.url], discover_peers=False) as client, Client([far.url]) as other:
            for i in range(KEYS):
                client.put("bench", "flags", f"key:{i:08d}", VALUE)
            flags = client.cached("bench", "flags", max_keys=10 * KEYS)
            try:
                deadline = time.monotonic() + 10
                while not flags.cache.fresh and time.monotonic() < deadline:
                    time.sleep(0.01)
                for i in range(KEYS):
                    flags.get(f"key:{i:08d}")
                lags: list[float] = []
                latencies = _reads(flags.get, reads)
                for _ in range(1000):
                    lags.append(flags.lag)
                    time.sleep(0.001)
                spread = _propagation(
                    lambda k, v: other.put("bench", "flags", k, v), flags.get, rounds
                )
                stats = flags.stats
            finally:
                flags.close()
    finally:
        agents.stop_all()
    return {
        "reads": latencies,
        "propagation": spread,
        "lag": lags,
        "hits": stats.hits,
        "misses": stats.misses,
        "stale": stats.stale,
        "updates": stats.updates,
    }


def _redis(root: Path, reads: int, rounds: int) -> dict[str, Any]:
    import redis
    from redis import connection
    from redis.cache import CacheConfig

    connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "6.0.0"  # see the module doc
    with native.redis_server(root, native.Cores(None, None)) as server:
        app = redis.Redis(
            port=server.port, protocol=3, cache_config=CacheConfig(max_size=10 * KEYS)
        )
        other = redis.Redis(port=server.port)
        payload = json.dumps(VALUE)
        for i in range(KEYS):
            other.set(f"key:{i:08d}", payload)
        for i in range(KEYS):
            app.get(f"key:{i:08d}")
        latencies = _reads(app.get, reads)
        spread = _propagation(
            lambda k, v: other.set(k, json.dumps(v)),
            lambda k: json.loads(app.get(k) or b"null"),
            rounds,
        )
        app.close()
        other.close()
    return {"reads": latencies, "propagation": spread}


def bench_nearcache(root: Path, reads: int, rounds: int) -> dict[str, Any]:
    """Both systems, one after the other in the same run."""
    native.ensure_tools()
    ours = _statecast(root, reads, rounds)
    theirs = _redis(root, reads, rounds)

    def summary(r: dict[str, Any]) -> dict[str, Any]:
        out = {
            "read_p50_us": _pct(r["reads"], 0.5) * 1e6,
            "read_p99_us": _pct(r["reads"], 0.99) * 1e6,
            "visible_p50_ms": _pct(r["propagation"], 0.5) * 1e3,
            "visible_p99_ms": _pct(r["propagation"], 0.99) * 1e3,
            "visible_max_ms": max(r["propagation"]) * 1e3,
        }
        if "lag" in r:
            out |= {
                "lag_p50_ms": _pct(r["lag"], 0.5) * 1e3,
                "lag_p99_ms": _pct(r["lag"], 0.99) * 1e3,
                "lag_max_ms": max(r["lag"]) * 1e3,
                **{k: r[k] for k in ("hits", "misses", "stale", "updates")},
            }
        return out

    result = {
        "statecast": summary(ours),
        "redis": summary(theirs),
        "reads": reads,
        "rounds": rounds,
    }
    print(f"  near cache: {result}", flush=True)
    return result


def render_nearcache(result: dict[str, Any]) -> list[str]:
    """The Markdown section."""
    ours, theirs = result["statecast"], result["redis"]
    lines = [
        "## Near cache in the application's process vs Redis client-side caching (redis-py)",
        "",
        f"{KEYS:,} keys of 100 bytes, all read once before; {result['reads']:,} reads of random "
        f"keys timed from Python; {result['rounds']} writes on another node (statecast: through "
        "the other agent; Redis: another connection), each timed until the application's "
        "next read returns it (it reads in a loop). Targets: read p50 <= 5 µs and no slower "
        "than Redis's; a write elsewhere visible within 50 ms p99.",
        "",
        "| system | read p50 µs | read p99 µs | write elsewhere visible p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("statecast near cache", ours), ("Redis client-side caching", theirs)):
        lines.append(
            f"| {name} | {r['read_p50_us']:.1f} | {r['read_p99_us']:.1f} | "
            f"{r['visible_p50_ms']:.2f} | {r['visible_p99_ms']:.2f} | {r['visible_max_ms']:.1f} |"
        )
    lines += [
        "",
        f"Staleness, measured: seconds since the agent's last heartbeat, sampled every ms: "
        f"p50 {ours['lag_p50_ms']:.1f} ms, p99 {ours['lag_p99_ms']:.1f} ms, max "
        f"{ours['lag_max_ms']:.1f} ms (a read from memory is never older than the agent was "
        "then; past 100 ms reads go to the agent). Cache counters: "
        f"{ours['hits']:,} hits, {ours['misses']:,} misses, {ours['stale']:,} reads sent to the "
        f"agent as stale, {ours['updates']:,} updates from the stream.",
    ]
    return lines
