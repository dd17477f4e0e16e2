"""Where a request's CPU goes: the agent under wrk against Redis under redis-benchmark.

Placed as in the capacity section (server alone on the last core, load generator on the
first, 16 connections, 100-byte values, random keys among 10,000), for GET and PUT/SET:

1. CPU per request, unprofiled: the server's user and kernel CPU time (``/proc``) over
   a run divided by the requests it answered; for the agent also per thread (the event
   loop's, the log writer's).
2. Native split (``perf record`` on the server, ~2,000 samples a second): the shares of
   the interpreter, uvloop, httptools, libc and the kernel (and the kernel's top
   functions).
3. Python split (``py-spy record --threads``, 500 samples a second, the event loop's
   thread): each function's own samples (a C function it calls counts as its own: the
   answer's ``transport.write`` is ``_send``'s) grouped by step of the request path.

Shares times the unprofiled CPU per request give microseconds a request per step. The
profiled runs are slower (the samplers cost CPU): only their shares are used.
py-spy is installed from PyPI when missing; perf comes from the system (Debian's
``linux-perf``) and is skipped if absent.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import loadgen, native
from statecast.agent.launcher import LocalAgents

__all__ = ["bench_profile", "render_profile"]

KEYS = 10_000
RESOURCE = {"namespace": "bench", "name": "flags"}
REDIS_RATE_GUESS = 150_000

#: Steps of the request path: (step, pattern on a Python function's "name (file)").
STEPS: list[tuple[str, str]] = [
    (
        "read and parse: data_received, llhttp and its callbacks",
        r"data_received|_feed \(|_plain_get \(|on_(url|header|headers_complete|body"
        r"|message_begin|message_complete) \(",
    ),
    (
        "answer: encode, queue, transport.write (the send(2))",
        r"_send \(|_write \(|encode \(|_send_plain \("
        r"|_send_held \(|_pump \(",
    ),
    (
        "routing, the handler, validation",
        r"__call__ \(.*server\.py|_segments|_match|get \(.*server\.py|put \(.*server\.py"
        r"|_key \(|_reader \(|_local \(|_body \(|_render|_json_body|_guard|_answered \(",
    ),
    ("request counters and latency histogram", r"answered \(.*accounting|_count \(|accounting"),
    (
        "store: read or write the CRDT map",
        r"store\.py|delta_map\.py|table\.py|lww\.py|slots\.py|events\.py|clock\.py|crdt",
    ),
    ("write-ahead log: record, batch, hand-over", r"persistence\.py|logfile\.py"),
    ("replication hooks (push outbox, watch)", r"replication\.py|outbox\.py|watch\.py"),
    ("event loop (uvloop), timers, other", r"."),
]


def _ensure_py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return found


def _threads(pid: int) -> dict[int, tuple[float, float]]:
    """Per thread of ``pid``: (user s, system s)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rpartition(")")[2].split()
        out[int(task.name)] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return out


def _cpu_per_request(pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a load unprofiled; the server's user/kernel µs a request, its main thread's too.

    The main thread is the agent's event loop (Redis's too); the others are the agent's
    log writer and worker threads (Redis's background I/O threads).
    """
    before = _threads(pid)
    result = run()
    after = _threads(pid)
    n = result["requests"]
    main, rest = [0.0, 0.0], [0.0, 0.0]
    for tid, (user, system) in after.items():
        was = before.get(tid, (0.0, 0.0))
        into = main if tid == pid else rest
        into[0] += (user - was[0]) / n * 1e6
        into[1] += (system - was[1]) / n * 1e6
    return {
        **result,
        "user_us": main[0] + rest[0],
        "sys_us": main[1] + rest[1],
        "main_us": main[0] + main[1],
        "other_threads_us": rest[0] + rest[1],
    }


def _perf(pid: int, seconds: float, root: Path, run: Callable[[], Any]) -> dict[str, Any]:
    """The server's samples by shared object, and the kernel's top functions."""
    if shutil.which("perf") is None:
        return {}
    data = root / f"perf-{pid}.data"
    record = subprocess.Popen(
        ["perf", "record", "-F", "1999", "-p", str(pid), "-o", str(data), "--", "sleep",
         str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run()
    record.wait()
    by_dso = _perf_report(data, ["--sort", "dso"])
    kernel = _perf_report(data, ["--sort", "sym", "--dsos", "[kernel.kallsyms]"])
    data.unlink(missing_ok=True)
    return {"dso": by_dso, "kernel_top": dict(list(kernel.items())[:8])}


def _perf_report(data: Path, sort: list[str]) -> dict[str, float]:
    out = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "--no-children", *sort],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    shares: dict[str, float] = {}
    for line in out.splitlines():
        match = re.match(r"\s+([0-9.]+)%\s+(.+?)\s*$", line)
        if match:
            shares[match[2]] = float(match[1]) / 100
    return shares


def _py_spy(pid: int, seconds: float, root: Path, run: Callable[[], Any]) -> dict[str, Any]:
    """The event loop thread's own samples per Python function (collapsed stacks)."""
    out = root / f"spy-{pid}.txt"
    spy = subprocess.Popen(
        [_ensure_py_spy(), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "500",
         "--threads", "-f", "raw", "-o", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run()
    spy.wait()
    own: collections.Counter[str] = collections.Counter()
    per_thread: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "concurrent/futures/thread.py" in stack:
            thread = "worker"
        elif "persistence.py" in stack and "_run (" in stack:
            thread = "log writer"
        else:
            thread = "loop"
        per_thread[thread] += int(count)
        if thread == "loop":
            own[re.sub(r":\d+\)$", ")", stack.split(";")[-1])] += int(count)
    out.unlink(missing_ok=True)
    return {"own": own, "threads": per_thread}


def _steps(own: collections.Counter[str]) -> dict[str, float]:
    total = sum(own.values()) or 1
    shares = dict.fromkeys((name for name, _ in STEPS), 0.0)
    for function, n in own.items():
        for name, pattern in STEPS:
            if re.search(pattern, function):
                shares[name] += n / total
                break
    return shares


def bench_profile(root: Path, seconds: float) -> dict[str, Any]:
    """Profile the agent's GET and PUT, and Redis's GET and SET, under native load."""
    native.ensure_tools()
    _ensure_py_spy()
    where = native.cores()
    load_before = native.load_average()
    agents = LocalAgents(root / "profile", 1, [RESOURCE], wrapper=where.prefix("server"))
    agents.start_all()
    agent = agents.agents[0]
    assert agent.process is not None
    pid = agent.process.pid
    value = loadgen.json_value(100)
    keys = [f"key:{i:08d}" for i in range(KEYS)]
    out: dict[str, Any] = {"ours": {}, "redis": {}}
    try:
        asyncio.run(loadgen.load(agent.url, "bench/flags", keys, value))
        for op in ("GET", "PUT"):

            def load(op: str = op) -> dict[str, Any]:
                return native.wrk(
                    agent.url, "/v1/bench/flags/", op, KEYS, seconds, root, where, body=value
                )

            row = _cpu_per_request(pid, load)
            row["perf"] = _perf(pid, seconds, root, load)
            row["syscalls"] = _syscalls(pid, seconds, load)
            spy = _py_spy(pid, seconds, root, load)
            row["steps"] = _steps(spy["own"])
            row["top"] = spy["own"].most_common(25)
            row["loop_samples"] = sum(spy["own"].values())
            out["ours"][op] = row
            print(f"  profile agent {op}: {row['ops_per_s']:.0f}/s "
                  f"{row['user_us']:.1f}+{row['sys_us']:.1f} µs", flush=True)  # fmt: skip
        with native.redis_server(root, where) as redis:
            requests = int(REDIS_RATE_GUESS * seconds)
            native.redis_benchmark(redis.port, "set", requests, KEYS, where)  # fill
            for op in ("get", "set"):

                def bench(op: str = op) -> dict[str, Any]:
                    return native.redis_benchmark(redis.port, op, requests, KEYS, where)

                row = _cpu_per_request(redis.pid, bench)
                row["perf"] = _perf(redis.pid, seconds, root, bench)
                row["syscalls"] = _syscalls(redis.pid, seconds, bench)
                out["redis"][op.upper()] = row
                print(f"  profile redis {op}: {row['ops_per_s']:.0f}/s "
                      f"{row['user_us']:.1f}+{row['sys_us']:.1f} µs", flush=True)  # fmt: skip
    finally:
        agents.stop_all()
    out.update(seconds=seconds, load_before=load_before, load_after=native.load_average())
    jsonable: dict[str, Any] = _jsonable(out)
    return jsonable


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


_GROUPS = (
    "kernel",
    "interpreter",
    "uvloop",
    "httptools",
    "redis-server",
    "libc, allocator",
    "other",
)


def _dso_rows(perf: dict[str, Any]) -> dict[str, float]:
    """perf's shared objects folded into :data:`_GROUPS`."""
    groups = dict.fromkeys(_GROUPS, 0.0)
    for dso, share in perf.get("dso", {}).items():
        if "kernel" in dso or dso.startswith("[vdso"):
            group = "kernel"
        elif dso.startswith("loop.cpython"):  # uvloop's extension module
            group = "uvloop"
        elif dso.startswith("parser.cpython"):  # httptools'
            group = "httptools"
        elif "libpython" in dso or dso.startswith("python"):
            group = "interpreter"
        elif dso.startswith("redis"):  # redis-server (a link to redis-check-rdb)
            group = "redis-server"
        elif dso.startswith(("libc.", "libjemalloc")):
            group = "libc, allocator"
        else:
            group = "other"
        groups[group] += share
    return groups


def _syscalls(pid: int, seconds: float, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """System calls of every thread of ``pid`` per request (``strace -c``), by name."""
    if shutil.which("strace") is None:
        return {}
    trace = subprocess.Popen(
        ["strace", "-c", "-f", "-p", str(pid), "-o", "/dev/stdout"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    time.sleep(0.3)
    result = run()
    trace.send_signal(signal.SIGINT)
    out, _ = trace.communicate()
    calls: dict[str, float] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3]) / result["requests"]
    return dict(sorted(calls.items(), key=lambda kv: -kv[1]))


def render_profile(result: dict[str, Any]) -> list[str]:
    """The Markdown section."""
    lines = [
        "## Where a request's CPU goes (agent under wrk, Redis under redis-benchmark)",
        "",
        "Placed as in the capacity section; CPU time of the server process over a "
        f"{result['seconds']:.0f} s run divided by the requests it answered (unprofiled "
        "run), split by perf (native code) and py-spy (the event loop's Python functions) "
        "in two more runs. Load average before/after: "
        f"{result['load_before']:.1f} / {result['load_after']:.1f}.",
        "",
        "| server | op | requests/s | CPU µs a request | user µs | kernel µs | "
        + " | ".join(_GROUPS)
        + " | system calls a request |",
        "|---|---|---:|---:|---:|---:|" + "---:|" * len(_GROUPS) + "---|",
    ]
    for system, rows in (("statecast", result["ours"]), ("redis", result["redis"])):
        for op, row in rows.items():
            total = row["user_us"] + row["sys_us"]
            dso = _dso_rows(row.get("perf", {}))
            shares = " | ".join(f"{dso[g] * total:.1f}" if dso[g] else "-" for g in _GROUPS)
            calls = row.get("syscalls", {})
            named = ", ".join(f"{name} {n:.2f}" for name, n in list(calls.items())[:5])
            lines.append(
                f"| {system} | {op} | {row['ops_per_s']:,.0f} | {total:.1f} | "
                f"{row['user_us']:.1f} | {row['sys_us']:.1f} | {shares} | "
                f"{sum(calls.values()):.2f}: {named} |"
            )
    lines += [
        "",
        "The columns after the kernel µs: µs a request by where perf found the server's "
        "CPU (the kernel's share includes the system calls' work: TCP on loopback, epoll, "
        "waking the other side), then the system calls a request made (strace -c over a "
        "run of its own, every thread), the five most frequent.",
        "",
        "The agent's event loop, µs a request by step of the request path (py-spy's "
        "samples of the loop thread, each function's own, times the loop thread's CPU "
        "per request):",
        "",
        "| step | GET µs | PUT µs |",
        "|---|---:|---:|",
    ]
    ours = result["ours"]
    for name, _pattern in STEPS:
        cells = [f"{ours[op]['steps'].get(name, 0.0) * ours[op]['main_us']:.1f}" for op in ours]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    cells = [f"**{ours[op]['main_us']:.1f}**" for op in ours]
    lines.append(f"| **the event loop's thread, all** | {' | '.join(cells)} |")
    cells = [f"{ours[op]['other_threads_us']:.1f}" for op in ours]
    lines.append(f"| other threads (the log writer: a batch's write(2)) | {' | '.join(cells)} |")
    lines += ["", "Top functions of the loop thread (own samples, share of the thread):", ""]
    for op, row in ours.items():
        total = row.get("loop_samples") or 1
        top = ", ".join(f"`{f}` {n / total:.0%}" for f, n in row["top"][:10])
        lines.append(f"- {op}: {top}")
    return lines
