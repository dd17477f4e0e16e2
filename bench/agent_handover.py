"""What handing the log's batches to the writer thread costs, in CPU time.

One process per measurement: a replica store with its log on disk, and ``connections``
writers on an event loop (uvloop, as the agent runs), each writing a 100-byte value,
waiting until its batch is written (what a PUT's answer waits for), and writing again.
Two ways of writing the same batches:

- ``writer thread``: as the agent does (``persistence._LogWriter``: the loop hands the
  batch over, the thread writes it and wakes the loop);
- ``event loop``: the loop thread makes the same ``write(2)`` itself (what the agent
  did before the writer thread; a write the kernel holds then stops every request).

The figures are CPU time (the process's, and the loop thread's own), so the other load
on a shared machine counts little; the wall time is not reported. The difference per
batch is the hand-over's cost.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from typing import Any

__all__ = ["bench_handover", "render_handover"]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, resource, sys, tempfile, time
    from pathlib import Path
    import uvloop
    from statecast.agent import persistence
    from statecast.agent.config import ResourceSpec
    from statecast.agent.persistence import ReplicaFiles
    from statecast.agent.store import ReplicaStore

    variant, writes, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batches = 0
    threaded = persistence._LogWriter.put

    def counted(self, job):
        global batches
        batches += 1
        threaded(self, job)

    def inline(self, job):
        global batches
        batches += 1
        files, fd, data, sync, start, loop = job
        error = None
        try:
            persistence._write_all(fd, data, sync, start)
        except OSError as err:
            error = err
        files._in_flight.release()
        loop.call_soon(files._written, error)

    persistence._LogWriter.put = inline if variant == "event loop" else counted

    async def main(tmp):
        spec = ResourceSpec(namespace="bench", name="flags")
        store = ReplicaStore(spec, "node-1", ReplicaFiles(Path(tmp)))
        store.open()
        value = b'"' + b"x" * 98 + b'"'
        each = writes // connections

        async def writer(c):
            for i in range(each):
                _, batch = store.put_now(f"key:{c:03d}{i:07d}", value)
                if batch is not None and not batch.done:
                    await batch.wait()

        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu, own = time.process_time(), time.thread_time()
        await asyncio.gather(*(writer(c) for c in range(connections)))
        cpu, own = time.process_time() - cpu, time.thread_time() - own
        after = resource.getrusage(resource.RUSAGE_SELF)
        store.close()
        n = each * connections
        switches = after.ru_nvcsw - before.ru_nvcsw + after.ru_nivcsw - before.ru_nivcsw
        print(json.dumps({
            "writes": n, "batches": batches, "cpu_us": 1e6 * cpu / n,
            "loop_cpu_us": 1e6 * own / n, "switches": switches,
        }))

    with tempfile.TemporaryDirectory() as tmp:
        uvloop.run(main(tmp))
    """
)

VARIANTS = ("writer thread", "event loop")


def _measure(variant: str, writes: int, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, variant, str(writes), str(connections)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def bench_handover(writes: int, rounds: int = 3) -> list[dict[str, Any]]:
    """Each variant with 1 and 16 writers, ``rounds`` times, alternating; medians."""
    rows = []
    for connections in (1, 16):
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        for _ in range(rounds):
            for variant in VARIANTS:
                runs[variant].append(_measure(variant, writes, connections))
        for variant in VARIANTS:
            got = runs[variant]
            row = {
                "connections": connections,
                "variant": variant,
                "writes": got[0]["writes"],
                **{
                    k: statistics.median(r[k] for r in got)
                    for k in ("batches", "cpu_us", "loop_cpu_us", "switches")
                },
            }
            rows.append(row)
            print(f"  handover: {row}", flush=True)
    return rows


def render_handover(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown section."""
    lines = [
        "## Handing the log's batches to the writer thread: CPU cost",
        "",
        "A replica store and its log in one process, N writers on the event loop, each "
        "writing a 100-byte value and waiting until its batch is written (what a PUT's "
        "answer waits for). The same batches written by the writer thread (as the agent "
        "does) or by the event loop itself (as before the thread). CPU time, so the "
        "machine's other load counts little; medians of 3 alternating runs.",
        "",
        "| writers | log written by | writes per batch | process CPU µs/write "
        "| loop thread CPU µs/write | context switches per batch |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['connections']} | {r['variant']} | {r['writes'] / r['batches']:.1f} | "
            f"{r['cpu_us']:.1f} | {r['loop_cpu_us']:.1f} | {r['switches'] / r['batches']:.1f} |"
        )
    by = {(r["connections"], r["variant"]): r for r in rows}
    for connections in (1, 16):
        thread, loop = by.get((connections, VARIANTS[0])), by.get((connections, VARIANTS[1]))
        if thread is None or loop is None:
            continue
        per_write = thread["cpu_us"] - loop["cpu_us"]
        per_batch = per_write * thread["writes"] / thread["batches"]
        share = (thread["cpu_us"] / loop["cpu_us"] - 1) * 100
        lines.append("")
        if per_write > 0:
            lines.append(
                f"{connections} writer(s): the hand-over costs {per_batch:.1f} µs of process "
                f"CPU per batch, {per_write:.1f} µs per write ({share:+.0f}%)."
            )
        else:
            lines.append(
                f"{connections} writer(s): no hand-over cost measurable ({per_write:+.1f} µs "
                f"per write, {share:+.0f}%: within the runs' spread)."
            )
    return lines
