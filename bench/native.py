"""Native load generators and Redis for the agent benchmark: wrk and redis-benchmark.

A server's capacity is measured with a load generator that costs it nothing it would
not pay in production: wrk (C, LuaJIT scripts) for the agent's HTTP, redis-benchmark
for Redis. Both run on one core with 16 keep-alive connections, no pipelining, while
the server runs alone on the other core (``taskset``).

Tools missing on the machine are installed from Debian (``apt-get install -y wrk
redis-server redis-tools``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statecast.agent.launcher import free_port

__all__ = [
    "WRK_LUA",
    "Cores",
    "RedisServer",
    "cores",
    "cpu_seconds",
    "ensure_tools",
    "load_average",
    "redis_benchmark",
    "rss_bytes",
    "wrk",
    "wrk_env",
    "wrk_result",
]

_PACKAGES = {"wrk": "wrk", "redis-server": "redis-server", "redis-benchmark": "redis-tools"}

# wrk calls request() for every request; done() prints the figures as one JSON line.
WRK_LUA = """
local keys = tonumber(os.getenv("BENCH_KEYS"))
local prefix = os.getenv("BENCH_PREFIX")
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
local counter = 0
request = function()
  local key = string.format("key:%08d", math.random(0, keys - 1))
  if method == "PUT" then
    return wrk.format("PUT", prefix .. key, nil, body)
  end
  return wrk.format("GET", prefix .. key)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,' ..
    '"max_us":%d,"socket_errors":%d,"non_2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def ensure_tools() -> None:
    """Install wrk, redis-server and redis-benchmark from Debian when missing."""
    missing = sorted({pkg for tool, pkg in _PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    still = [tool for tool in _PACKAGES if shutil.which(tool) is None]
    if still:
        raise SystemExit(f"could not install {still}")


@dataclass(frozen=True)
class Cores:
    """Where the server under test and the load generator run."""

    server: int | None
    generator: int | None

    def prefix(self, role: str) -> list[str]:
        """``taskset -c N`` for ``role`` (``server`` or ``generator``), or nothing."""
        core = self.server if role == "server" else self.generator
        return [] if core is None else ["taskset", "-c", str(core)]

    def pin(self, pid: int, role: str) -> None:
        """Move a running process to its role's core."""
        core = self.server if role == "server" else self.generator
        if core is not None:
            os.sched_setaffinity(pid, {core})


def cores() -> Cores:
    """The last core for the server, the first for the load generator (one core: none)."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return Cores(None, None)
    return Cores(available[-1], available[0])


def load_average() -> float:
    """The 1-minute load average (other work on the machine)."""
    return os.getloadavg()[0]


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> dict[str, int]:
    """Resident and peak resident memory of a process."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return {"rss": out["VmRSS"], "peak": out["VmHWM"]}


def wrk_env(keys: int, prefix: str, method: str, body: bytes) -> dict[str, str]:
    """The environment :data:`WRK_LUA` reads its settings from."""
    return {
        **os.environ,
        "BENCH_KEYS": str(keys),
        "BENCH_PREFIX": prefix,
        "BENCH_METHOD": method,
        "BENCH_BODY": body.decode(),
    }


def wrk_result(out: str) -> dict[str, Any]:
    """The figures :data:`WRK_LUA` printed."""
    raw = json.loads(out.rsplit("RESULT ", 1)[1])
    seconds_run = raw["duration_us"] / 1e6
    return {
        "ops_per_s": raw["requests"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "p999_ms": raw["p999_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "errors": raw["socket_errors"] + raw["non_2xx"],
    }


def wrk(
    url: str,
    prefix: str,
    method: str,
    keys: int,
    seconds: float,
    root: Path,
    where: Cores,
    *,
    body: bytes = b"",
    connections: int = 16,
) -> dict[str, Any]:
    """Run wrk against ``url`` (random keys ``key:00000000``...): rate and latency."""
    script = root / "bench.lua"
    script.write_text(WRK_LUA)
    command = [
        *where.prefix("generator"),
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    env = wrk_env(keys, prefix, method, body)
    return wrk_result(
        subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    )


def redis_benchmark(
    port: int, test: str, requests: int, keys: int, where: Cores, connections: int = 16
) -> dict[str, Any]:
    """Run redis-benchmark (``test``: ``get`` or ``set``, 100-byte values)."""
    command = [
        *where.prefix("generator"),
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(connections),
        "-n", str(requests), "-d", "100", "-r", str(keys), "-t", test, "--csv",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    header, row = [line for line in out.splitlines() if line.strip()][-2:]
    names = [h.strip('"') for h in header.split(",")]
    values = dict(zip(names, (v.strip('"') for v in row.split(",")), strict=True))
    return {
        "ops_per_s": float(values["rps"]),
        "p50_ms": float(values["p50_latency_ms"]),
        "p99_ms": float(values["p99_latency_ms"]),
        "max_ms": float(values["max_latency_ms"]),
        "requests": requests,
        "errors": 0,
    }


class RedisServer:
    """A redis-server on 127.0.0.1 with the agent's durability (AOF, fsync every second).

    Args:
        root: Its working directory.
        where: Cores (the server's is used).
    """

    def __init__(self, root: Path, where: Cores) -> None:
        self.root = root
        self.port = free_port("127.0.0.1")
        self.process = subprocess.Popen(
            [
                *where.prefix("server"), "redis-server",
                "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(root),
                "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                "--protected-mode", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit("redis-server did not start")

    def cli(self, *args: str) -> str:
        """Run one redis-cli command; its output ("" if the server is not up)."""
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs it, so it is the same)."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server."""
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        self.process.wait()


@contextlib.contextmanager
def redis_server(root: Path, where: Cores) -> Iterator[RedisServer]:
    """A :class:`RedisServer` stopped on exit."""
    server = RedisServer(root, where)
    try:
        yield server
    finally:
        server.stop()
