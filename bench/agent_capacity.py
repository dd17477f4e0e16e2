"""Capacity of one agent next to Redis, each on one core, driven by native load generators.

The agent (a standalone process, default ``interval`` fsync) and redis-server (AOF,
``appendfsync everysec``: the same durability) run on the last core; wrk and
redis-benchmark on the first, 16 keep-alive connections each, no pipelining, 100-byte
values, random keys among 10,000 written beforehand. GET and PUT/SET alternate between
the two servers, round after round, so the ratios compare figures taken moments apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import loadgen, native
from statecast.agent.launcher import LocalAgents

__all__ = ["bench_capacity"]

KEYS = 10_000
RESOURCE = {"namespace": "bench", "name": "flags"}
REDIS_RATE_GUESS = 40_000  # requests a second, to size redis-benchmark's runs


def bench_capacity(root: Path, seconds: float, rounds: int) -> dict[str, Any]:
    """GET and PUT/SET rates and latencies, agent and Redis, ``rounds`` times."""
    native.ensure_tools()
    where = native.cores()
    load_before = native.load_average()
    agents = LocalAgents(root / "capacity", 1, [RESOURCE], wrapper=where.prefix("server"))
    agents.start_all()
    agent = agents.agents[0]
    value = loadgen.json_value(100)
    keys = [f"key:{i:08d}" for i in range(KEYS)]
    rows: list[dict[str, Any]] = []
    try:
        asyncio.run(loadgen.load(agent.url, "bench/flags", keys, value))
        with native.redis_server(root, where) as redis:
            requests = int(REDIS_RATE_GUESS * seconds)
            native.redis_benchmark(redis.port, "set", requests, KEYS, where)  # fill
            assert agent.process is not None
            for round_ in range(rounds):
                for op, redis_op in (("GET", "get"), ("PUT", "set")):
                    ours = _with_cpu(
                        agent.process.pid,
                        partial(
                            native.wrk, agent.url, "/v1/bench/flags/", op, KEYS, seconds, root,
                            where, body=value,
                        ),
                    )  # fmt: skip
                    theirs = _with_cpu(
                        redis.pid,
                        partial(
                            native.redis_benchmark, redis.port, redis_op, requests, KEYS, where
                        ),
                    )
                    rows.append({"round": round_, "system": "statecast", "op": op, **ours})
                    rows.append(
                        {"round": round_, "system": "redis", "op": redis_op.upper(), **theirs}
                    )
                    print(f"  round {round_} {op}: agent {ours} redis {theirs}", flush=True)
    finally:
        agents.stop_all()
    return {
        "rows": rows,
        "keys": KEYS,
        "seconds": seconds,
        "connections": 16,
        "pinned": where.server is not None,
        "load_before": load_before,
        "load_after": native.load_average(),
    }


def _with_cpu(pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a load; add the server's CPU seconds and its requests per CPU-second."""
    before = native.cpu_seconds(pid)
    result = run()
    used = native.cpu_seconds(pid) - before
    result["server_cpu_s"] = used
    result["per_cpu_s"] = result["requests"] / used if used > 0 else float("nan")
    return result


def ratios(capacity: dict[str, Any]) -> list[dict[str, Any]]:
    """Per round: the agent's GET and PUT rates over Redis's GET and SET rates."""
    out = []
    for round_ in sorted({r["round"] for r in capacity["rows"]}):
        pick = {(r["system"], r["op"]): r for r in capacity["rows"] if r["round"] == round_}
        ours_get, ours_put = pick["statecast", "GET"], pick["statecast", "PUT"]
        redis_get, redis_set = pick["redis", "GET"], pick["redis", "SET"]
        out.append(
            {
                "round": round_,
                "get": ours_get["ops_per_s"] / redis_get["ops_per_s"],
                "put": ours_put["ops_per_s"] / redis_set["ops_per_s"],
                "get_cpu": ours_get["per_cpu_s"] / redis_get["per_cpu_s"],
                "put_cpu": ours_put["per_cpu_s"] / redis_set["per_cpu_s"],
            }
        )
    return out


def render_capacity(capacity: dict[str, Any]) -> list[str]:
    """The Markdown section."""
    lines = [
        "## Capacity per core with native load generators (agent vs Redis, same run)",
        "",
        f"Server pinned to one core, load generator to the other"
        f"{'' if capacity['pinned'] else ' (not pinned: one core only)'}; "
        f"{capacity['connections']} connections, 100-byte values, random keys among "
        f"{capacity['keys']:,}; wrk for the agent (HTTP), redis-benchmark for Redis; "
        f"{capacity['seconds']:.0f} s a run. Load average before/after: "
        f"{capacity['load_before']:.1f} / {capacity['load_after']:.1f}.",
        "",
        "| round | system | op | requests/s | requests per server CPU-second | p50 ms "
        "| p99 ms | max ms |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in capacity["rows"]:
        lines.append(
            f"| {r['round'] + 1} | {r['system']} | {r['op']} | {r['ops_per_s']:,.0f} | "
            f"{r.get('per_cpu_s', float('nan')):,.0f} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {r['max_ms']:.1f} |"
        )
    lines += [
        "",
        "Agent / Redis (targets: GET >= 0.5x, PUT >= 0.3x), in requests per second and in "
        "requests per CPU-second of the server process (what one core would serve if "
        "nothing else ran on it; on a shared machine the first also measures the others):",
        "",
    ]
    for r in ratios(capacity):
        lines.append(
            f"- round {r['round'] + 1}: GET {r['get']:.2f}x ({r['get_cpu']:.2f}x per CPU-second), "
            f"PUT/SET {r['put']:.2f}x ({r['put_cpu']:.2f}x per CPU-second)"
        )
    return lines
