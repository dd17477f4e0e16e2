"""One agent grown to a million keys: read latency while it grows and compacts, the
memory of the whole process, and how fast it comes back after ``kill -9``.

1. Pinned as in the capacity section, the agent gets 10,000 keys; a probe (wrk, one
   connection) then reads them back to back while a loader process writes 990,000 more
   keys at full speed (HTTP pipelining), then overwrites every key with a value 3 bytes
   shorter (appended records: half the arena dies and the cleaner runs), with snapshots
   and log folding on the way as in production. The probe's
   p50/p99/p99.9/max and the agent's own event-loop lag (``/metrics``) are recorded for
   each phase. Both phases run twice in the same run: first with snapshots written by a
   thread of the agent (``snapshotWriter: thread``, as before), then by a forked child
   process (the default); the rest of the run uses the default.
2. Memory: the agent process's RSS and peak RSS with a million keys (server, log,
   snapshots and all), its data directory on disk, next to redis-server holding the same
   keys and values (AOF on, as in the capacity section).
3. Recovery: the agent is killed with SIGKILL and started again: the seconds its
   replica took to load (snapshot and log replay, from its log line), and from the
   process start until it answered ``/readyz``; then the same after a graceful stop
   (a fresh snapshot, no log to replay).
4. Full sync: the agent's files are given to a new agent that has a peer, and that
   peer starts empty (on the other core): it pulls the whole map from the agent in one
   full sync. The probe reads from the agent meanwhile: its latency and the agent's
   loop lag while it answers a copy of a million keys, until the peer's own copy
   answers the last key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, native
from statecast.agent.launcher import LocalAgent, LocalAgents

__all__ = ["bench_million"]

RESOURCE = {"namespace": "bench", "name": "flags"}
HOT = 10_000  # keys the probe reads
_WRITERS = {
    "thread": "a thread (`snapshotWriter: thread`)",
    "process": "a child process (the default)",
}


def _match(pattern: str, text: str, flags: int = 0) -> str:
    """The first group of ``pattern`` in ``text`` (the metric must be there)."""
    found = re.search(pattern, text, flags)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in the agent's /metrics")
    return found[1]


def _loop_lag(agent: LocalAgent) -> dict[str, float]:
    """The agent's event-loop lag so far: maximum and ticks over 20 ms."""
    text = httpx.get(f"{agent.url}/metrics", timeout=30).text
    top = float(_match(r"^statecast_agent_event_loop_lag_max_seconds (\S+)", text, re.M))
    buckets = {
        float(m[1]): float(m[2])
        for m in re.finditer(
            r'^statecast_agent_event_loop_lag_seconds_bucket\{le="([0-9.e+-]+)"\} (\S+)', text, re.M
        )
    }
    total = float(_match(r'lag_seconds_bucket\{le="\+Inf"\} (\S+)', text))
    return {"max_ms": top * 1000, "ticks": total, "over_20ms": total - buckets.get(0.02, total)}


def _loader(
    agent: LocalAgent, where: native.Cores, first: int, keys: int, fill: str, size: int
) -> subprocess.Popen[str]:
    command = [
        *where.prefix("generator"), sys.executable, "-m", "bench.loadgen", "--url", agent.url,
        "--keys", str(keys), "--first", str(first), "--value-bytes", str(size), "--fill", fill,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _probe(agent: LocalAgent, where: native.Cores, root: Path) -> subprocess.Popen[str]:
    script = root / "probe.lua"
    script.write_text(native.WRK_LUA)
    env = native.wrk_env(HOT, "/v1/bench/flags/", "GET", b"")
    command = [
        *where.prefix("generator"),
        "wrk", "-t1", "-c1", "-d3600s", "--latency", "-s", str(script), agent.url,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def _phase(
    agent: LocalAgent, where: native.Cores, root: Path, name: str, **load: Any
) -> dict[str, Any]:
    before = _loop_lag(agent)
    probe = _probe(agent, where, root)
    time.sleep(1)
    started = time.monotonic()
    loader = _loader(agent, where, **load)
    out, _ = loader.communicate()
    seconds = time.monotonic() - started
    probe.send_signal(signal.SIGINT)  # wrk prints its figures when interrupted
    probe_out, _ = probe.communicate()
    result = {
        "phase": name,
        "seconds": seconds,
        "load": json.loads(out.strip().splitlines()[-1]),
        "probe": native.wrk_result(probe_out),
        "loop_lag": _loop_lag(agent),
        "loop_lag_before": before,
    }
    print(f"  {name}: {result}", flush=True)
    return result


def _full_sync(root: Path, where: native.Cores, source: Path, keys: int) -> dict[str, Any]:
    pair = LocalAgents(root / "sync", 2, [RESOURCE], wrapper=where.prefix("server"))
    holder, newcomer = pair.agents
    shutil.copytree(source, root / "sync" / holder.node)
    try:
        pair.start(holder)
        pair.wait_ready(holder, timeout=600)
        before = _loop_lag(holder)
        probe = _probe(holder, where, root)
        time.sleep(1)
        started = time.monotonic()
        pair.wrapper = where.prefix("generator")  # the newcomer decodes on the other core
        pair.start(newcomer)
        pair.wait_ready(newcomer, timeout=600)
        last = f"{newcomer.url}/v1/bench/flags/key:{keys - 1:08d}"
        while time.monotonic() - started < 900:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(last, timeout=30)
                if answer.status_code == 200 and answer.headers.get("statecast-served") == "local":
                    break
            time.sleep(0.1)
        seconds = time.monotonic() - started
        probe.send_signal(signal.SIGINT)
        probe_out, _ = probe.communicate()
        result = {
            "phase": "full sync",
            "seconds": seconds,
            "probe": native.wrk_result(probe_out),
            "loop_lag": _loop_lag(holder),
            "loop_lag_before": before,
            "newcomer_loop_lag": _loop_lag(newcomer),  # it decoded and joined the copy
        }
    finally:
        pair.stop_all()
        shutil.rmtree(root / "sync", ignore_errors=True)
    print(f"  full sync: {result}", flush=True)
    return result


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _recovery(agents: LocalAgents, agent: LocalAgent, how: str) -> dict[str, Any]:
    if how == "kill -9":
        agents.kill(agent)
    else:
        agents.stop(agent)
    log_start = agent.log_path.stat().st_size
    started = time.monotonic()
    agents.start(agent)
    agents.wait_ready(agent, timeout=600)
    ready = time.monotonic() - started
    text = agent.log_path.read_text()[log_start:]
    found = re.search(r"event=replica_recovered .* records=(\d+) seconds=([0-9.]+)", text)
    return {
        "how": how,
        "ready_s": ready,
        "recovery_s": float(found[2]) if found else None,
        "log_records": int(found[1]) if found else None,
        "rss_after": native.rss_bytes(agent.process.pid)["rss"] if agent.process else 0,
    }


def _redis_memory(root: Path, where: native.Cores, keys: int) -> dict[str, Any]:
    value = loadgen.json_value(100).decode()
    commands = root / "redis-load.txt"
    with commands.open("w") as out:
        for i in range(keys):
            out.write(f"SET key:{i:08d} {value}\n")
    with native.redis_server(root, where) as redis:
        before = native.rss_bytes(redis.pid)["rss"]
        with commands.open() as source:
            subprocess.run(
                ["redis-cli", "-p", str(redis.port), "--pipe"],
                stdin=source, stdout=subprocess.DEVNULL, check=True,
            )  # fmt: skip
        count = int(redis.cli("DBSIZE"))
        memory = native.rss_bytes(redis.pid)
    commands.unlink()
    return {"keys": count, "rss_before": before, **memory}


def _grow(agent: LocalAgent, where: native.Cores, root: Path, keys: int) -> dict[str, Any]:
    """The probe's keys written, then the ``grow`` phase measured."""
    hot = [f"key:{i:08d}" for i in range(HOT)]
    asyncio.run(loadgen.load(agent.url, "bench/flags", hot, loadgen.json_value(100)))
    grow = _phase(agent, where, root, "grow", first=HOT, keys=keys - HOT, fill="v", size=100)
    time.sleep(2)
    return grow


def _rewrite(agent: LocalAgent, where: native.Cores, root: Path, keys: int) -> dict[str, Any]:
    # 97 bytes: 3 shorter, too few for a filler record, so every record is appended
    # and the old one dies: past half the arena dead, the cleaner runs.
    return _phase(agent, where, root, "rewrite", first=0, keys=keys, fill="w", size=97)


def _with_thread_writer(root: Path, where: native.Cores, keys: int) -> list[dict[str, Any]]:
    """Grow and rewrite with snapshots written by a thread of the agent (as before)."""
    agents = LocalAgents(
        root / "thread", 1, [RESOURCE], {"snapshotWriter": "thread"}, where.prefix("server")
    )
    agents.start_all()
    agent = agents.agents[0]
    try:
        phases = [_grow(agent, where, root, keys), _rewrite(agent, where, root, keys)]
    finally:
        agents.stop_all()
        shutil.rmtree(root / "thread", ignore_errors=True)
    for phase in phases:
        phase["writer"] = "thread"
    return phases


def bench_million(root: Path, keys: int) -> dict[str, Any]:
    """Run the three parts on one agent of ``keys`` keys."""
    native.ensure_tools()
    where = native.cores()
    load_before = native.load_average()
    before = _with_thread_writer(root, where, keys)
    agents = LocalAgents(
        root / "million", 1, [RESOURCE], {"snapshotWriter": "process"}, where.prefix("server")
    )
    agents.start_all()
    agent = agents.agents[0]
    assert agent.process is not None
    rss_empty = native.rss_bytes(agent.process.pid)["rss"]
    data_dir = root / "million" / agent.node
    try:
        phases = [_grow(agent, where, root, keys)]
        memory: dict[str, Any] = {
            "keys": keys,
            "raw_bytes": keys * (12 + 100),
            "rss_empty": rss_empty,
            **native.rss_bytes(agent.process.pid),
            "disk_bytes": _disk_bytes(data_dir),
        }
        phases.append(_rewrite(agent, where, root, keys))
        memory["after_rewrite"] = native.rss_bytes(agent.process.pid)
        recovery = [_recovery(agents, agent, "kill -9"), _recovery(agents, agent, "graceful")]
        print(f"  recovery: {recovery}", flush=True)
    finally:
        agents.stop_all()
    phases.append(_full_sync(root, where, data_dir, keys))
    shutil.rmtree(data_dir, ignore_errors=True)
    memory["redis"] = _redis_memory(root, where, keys)
    print(f"  memory: {memory}", flush=True)
    for phase in phases:
        phase["writer"] = "process"
    return {
        "phases": before + phases,
        "memory": memory,
        "recovery": recovery,
        "load_before": load_before,
        "load_after": native.load_average(),
    }


def _newcomer(phases: list[dict[str, Any]]) -> list[str]:
    """The new peer's own event loop while it pulled and joined the full sync."""
    lag = next((p["newcomer_loop_lag"] for p in phases if "newcomer_loop_lag" in p), None)
    if lag is None:
        return []
    return [
        "The new peer's own event loop while it pulled and joined the copy (from its "
        f"start): lag max {lag['max_ms']:.1f} ms, {lag['over_20ms']:.0f} of "
        f"{lag['ticks']:.0f} ticks late > 20 ms.",
        "",
    ]


def render_million(result: dict[str, Any]) -> list[str]:
    """The Markdown section."""
    mib = 1 << 20
    mem = result["memory"]
    lines = [
        f"## One agent at {mem['keys']:,} keys: stalls, memory, recovery",
        "",
        "Read latency of one client reading back to back (wrk, 1 connection) while a loader "
        "writes at full speed (HTTP pipelining), and the agent's own event-loop lag "
        "(lateness of a timer due every 5 ms; target: no pause over 20 ms):",
        "",
        "| snapshots written by | phase | seconds | writes/s | probe GET p50 ms | p99 ms "
        "| p99.9 ms | max ms | loop lag max ms | loop ticks late > 20 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["phases"]:
        probe, lag = p["probe"], p["loop_lag"]
        late = lag["over_20ms"] - p["loop_lag_before"]["over_20ms"]
        rate = f"{p['load']['rate']:,.0f}" if "load" in p else "-"
        lines.append(
            f"| {_WRITERS[p.get('writer', 'thread')]} | {p['phase']} | {p['seconds']:.1f} | "
            f"{rate} | "
            f"{probe['p50_ms']:.3f} | {probe['p99_ms']:.3f} | {probe['p999_ms']:.3f} | "
            f"{probe['max_ms']:.1f} | {lag['max_ms']:.1f} | {late:.0f} |"
        )
    redis = mem["redis"]
    raw = mem["raw_bytes"]
    lines += [
        "",
        "`grow`: from 10,000 to all keys (100-byte values); `rewrite`: every key again with a "
        "97-byte value (3 bytes shorter: too few for a filler record, so each is appended "
        "and the old record dies; past half the arena dead the cleaner runs). "
        "Snapshots and log folding happen along the way, as in production. "
        "`full sync`: the agent, restarted on its files with a peer, while that peer "
        "starts empty (on the other core) and pulls the whole map from it, until the "
        "peer's own copy answers the last key (seconds: that whole time).",
        "",
        *_newcomer(result["phases"]),
        "| process | keys | RSS | peak RSS | RSS / raw data | on disk |",
        "|---|---:|---:|---:|---:|---:|",
        f"| statecast agent (server, log, snapshots) | {mem['keys']:,} | "
        f"{mem['rss'] / mib:.0f} MiB | {mem['peak'] / mib:.0f} MiB | {mem['rss'] / raw:.2f}x | "
        f"{mem['disk_bytes'] / mib:.0f} MiB |",
        f"| redis-server (AOF) | {redis['keys']:,} | {redis['rss'] / mib:.0f} MiB | "
        f"{redis['peak'] / mib:.0f} MiB | {redis['rss'] / raw:.2f}x | - |",
        "",
        f"Raw data: {raw / mib:.0f} MiB (12-byte keys, 100-byte values). The agent's RSS "
        f"when empty: {mem['rss_empty'] / mib:.0f} MiB (interpreter and imports); after the "
        f"rewrite: {mem['after_rewrite']['rss'] / mib:.0f} MiB.",
        "",
        "| restart | replica loaded in s | log records replayed | process start to ready s "
        "| RSS after |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["recovery"]:
        loaded = f"{r['recovery_s']:.2f}" if r["recovery_s"] is not None else "-"
        lines.append(
            f"| {r['how']} | {loaded} | {r['log_records']} | {r['ready_s']:.2f} | "
            f"{r['rss_after'] / mib:.0f} MiB |"
        )
    return lines
