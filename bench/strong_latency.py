"""Write latency of a strong resource (majority acknowledgement) next to eventual ones.

Run from the repository root (``make bench-strong``)::

    .venv/bin/python -m bench.strong_latency [--seconds 15] [--clients 4]

Three agent processes on loopback (standalone, ``statecast.agent.launcher``), one run,
three resources measured one after the other with the same closed-loop load (``--clients``
threads, each with its own keep-alive connection, one PUT after another of a 100-byte
value to 1,000 keys):

- ``eventual`` (``fsync: interval``, the agent's default): acknowledged once written to
  the local log, replicated after;
- ``eventual, fsync always``: acknowledged after the local fsync (group commit);
- ``strong``: the client at the leader; acknowledged after a majority of the three
  voters (the leader and one follower at least) stored the entry and fsynced it.

Latency is measured by the client around each request; the percentiles come from every
request of the run. Results go to ``docs/bench/strong.json`` and the latency table of
``docs/bench/strong.md`` (with the machine's load at the start).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from statecast.agent.launcher import LocalAgents
from statecast.client import Client

OUT = Path("docs/bench")
VALUE = "x" * 90


def _load(url: str, resource: str, seconds: float, clients: int) -> list[float]:
    samples: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        with Client([url], discover_peers=False, timeout=10) as api:
            n = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                api.put("default", resource, f"k{(index * 7919 + n) % 1000}", VALUE)
                samples[index].append(time.perf_counter() - started)
                n += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [s for per in samples for s in per]


def _row(name: str, latencies: list[float], seconds: float) -> dict[str, Any]:
    ms = np.array(latencies) * 1000
    return {
        "mode": name,
        "writes": len(latencies),
        "writes_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def main() -> None:
    """Measure and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    load = os.getloadavg()
    resources = [
        {"namespace": "default", "name": "flags"},
        {"namespace": "default", "name": "ledger", "consistency": "strong", "leader": "node-0"},
    ]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for fsync in ("interval", "always"):
            agents = LocalAgents(Path(root) / fsync, 3, resources, {"fsync": fsync})
            agents.start_all()
            try:
                url = agents.agents[0].url
                _load(url, "flags", 2.0, args.clients)  # warm-up
                name = "eventual" if fsync == "interval" else "eventual, fsync always"
                rows.append(
                    _row(name, _load(url, "flags", args.seconds, args.clients), args.seconds)
                )
                if fsync == "always":
                    _load(url, "ledger", 2.0, args.clients)
                    latencies = _load(url, "ledger", args.seconds, args.clients)
                    rows.append(_row("strong (majority of 3, fsync)", latencies, args.seconds))
            finally:
                agents.stop_all()
    for row in rows:
        print(json.dumps(row), flush=True)
    result = {"load_average": round(load[0], 1), "clients": args.clients, "rows": rows}
    (OUT / "strong.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Strong consistency: write latency",
        "",
        f"`make bench-strong` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): three "
        f"agents on loopback, {args.clients} closed-loop clients, {args.seconds:g} s per mode, "
        f"load average {load[0]:.1f} on 2 cores at the start (a shared machine: compare the "
        "rows, not the absolute numbers).",
        "",
        "| mode | writes/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        *(
            f"| {r['mode']} | {r['writes_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |"
            for r in rows
        ),
    ]
    (OUT / "strong.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
