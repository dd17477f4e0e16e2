"""What one resource's demand history and forecast hold, over simulated days (#16).

The scale benchmark's operator grew by ~110 MB per 15 minutes at 1,000 resources x 50
nodes: each resource's history rings, its forecast engine's window and its last day of
reads grow with the nodes its demand has visited and with the intervals held. This probe
drives the operator's own objects - a :class:`~statecast.controller.sampling.DemandSampler`
fed agent readings and a :class:`~statecast.controller.forecasting.DemandForecaster`
asked for the resource's forecast every interval, as the reconciles do - for ONE
resource over simulated 10 s intervals, with the benchmark's demand (its
:class:`~bench.scale_agents.DemandModel`: a hot node and its neighbours, moving to the
next node every 2 minutes, a 5-minute sine on the rate), and reads ``tracemalloc``'s
traced bytes at chosen simulated times (after a garbage collection). No cluster, no
clock: simulated time only.

    python -m bench.operator_memory --nodes 50 --hours 1 6 12 24 --json OUT

The bytes are everything the probe's objects hold (the one resource's history and
forecast, and the sampler's last reading per agent, which a real operator holds once for
all its resources). ``own_bytes`` of them the probe's simulated agents allocated: their
counters and the readings they hand the sampler (which keeps each agent's last one, once
for all resources); at the last reading ``resource_bytes`` is what deleting the resource
frees (its history, forecast engine, last forecast and score: what each of a thousand
resources holds). ``top`` splits the newest reading by where the memory was allocated.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from bench.scale_agents import DemandModel
from statecast.api.shared_resource import SharedResourceSpec
from statecast.controller.forecasting import DemandForecaster
from statecast.controller.sampling import DemandSampler
from statecast.core.demand import AgentSample

__all__ = ["Probe", "Reading", "main", "run"]

#: When the simulated agents' counters start (any fixed time: the runs are repeatable).
START = 1_796_500_000.0
#: The resource (index 2 of the benchmark's: read on 3 nodes around its hot node).
RESOURCE = ("bench", "res-0002")


@dataclass(frozen=True)
class Reading:
    """Traced bytes at one simulated time.

    Attributes:
        hours: simulated hours since the agents started.
        bytes: traced bytes the probe's objects hold (after a collection).
        own_bytes: of them, what the simulated agents allocated (their counters and
            readings: not the resource's).
        resource_bytes: what deleting the resource frees (the last reading only: the
            probe's steady state; None at the others).
        nodes: nodes in the resource's forecast.
        window_steps: intervals the forecast engine's window holds.
        top: the largest holders by allocation site (``file:line`` -> bytes).
    """

    hours: float
    bytes: int
    nodes: int
    window_steps: int
    top: dict[str, int] = field(default_factory=dict)
    own_bytes: int = 0
    resource_bytes: int | None = None


class Probe:
    """One resource's sampler and forecaster, fed the benchmark's demand every interval.

    Args:
        nodes: nodes in the cluster (the demand walks over all of them).
        interval: seconds per interval (the readings and ``prediction.interval``).
        shift_s: seconds between two moves of the hot node.
    """

    def __init__(self, nodes: int, interval: float = 10.0, shift_s: float = 120.0) -> None:
        self.nodes = [f"node-{i:02d}" for i in range(1, nodes + 1)]
        self.interval = interval
        self.model = DemandModel(
            [("bench", f"res-{r:04d}") for r in range(3)], self.nodes,
            shift_s=shift_s, start=START,
        )  # fmt: skip
        self.spec = SharedResourceSpec.model_validate(
            {"replicas": {"min": 2}, "prediction": {"interval": f"{interval:g}s", "horizon": "1m"}}
        )
        self.sampler = DemandSampler(lambda: [])
        self.forecaster = DemandForecaster(self.sampler)
        self.counts: dict[str, float] = {}
        self.tick = 0

    def step(self) -> None:
        """One interval: every agent read, then the resource's forecast asked for."""
        self.tick += 1
        now = START + self.interval * self.tick
        r = 2  # the benchmark's resource index of RESOURCE
        for k, node in enumerate(self.nodes):
            rate = self.model.rates(k, now).get(r, 0.0)
            if rate > 0 or node in self.counts:
                self.counts[node] = self.counts.get(node, 0.0) + rate * self.interval
            counts = {(*RESOURCE, "local"): int(self.counts[node])} if node in self.counts else {}
            self.sampler.record(AgentSample(node, START, now, counts))
        when = dt.datetime.fromtimestamp(now + 0.5, dt.UTC)
        self.forecaster.demand(RESOURCE, self.spec, self.nodes, when)

    def reading(self, top: int = 8) -> Reading:
        """Traced bytes now, with the largest allocation sites."""
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.statistics("lineno")[:top]
        sites = {
            f"{s.traceback[0].filename.split('statecast/')[-1]}:{s.traceback[0].lineno}": s.size
            for s in stats
        }
        engine = self.forecaster._engines.get(RESOURCE)
        nodes = 0 if engine is None else len(engine.settings.nodes)
        steps = 0 if engine is None else engine.steps
        return Reading(
            self.tick * self.interval / 3600.0, current, nodes, steps, sites, _own(snapshot)
        )


def _own(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes the probe's simulated agents allocated (their frame first, or a dataclass's
    generated ``__init__`` called from it: a reading's default fields)."""
    own = 0
    for trace in snapshot.traces:
        frames = [frame.filename for frame in trace.traceback]  # newest first
        if frames[0] == __file__ or (frames[0] == "<string>" and __file__ in frames[1:2]):
            own += trace.size
    return own


def run(nodes: int, hours: list[float], interval: float = 10.0) -> list[Reading]:
    """Readings of one probe at each of ``hours`` (simulated), in order."""
    warm = Probe(nodes, interval)  # imports and caches loaded before tracing starts
    # past the first forecasts and rebuilds (at 1-minute intervals 20 minutes held no
    # forecast yet: ~0.75 MiB of modules were imported, and counted, after tracing began)
    while warm.tick * interval < max(1200.0, 120 * interval):
        warm.step()
    del warm
    gc.collect()
    tracemalloc.start(2)  # two frames: a reading's fields (see _own)
    base, _ = tracemalloc.get_traced_memory()
    probe = Probe(nodes, interval)
    out: list[Reading] = []
    for target in sorted(hours):
        while probe.tick * interval < target * 3600.0:
            probe.step()
        reading = probe.reading()
        out.append(
            Reading(reading.hours, reading.bytes - base, reading.nodes, reading.window_steps,
                    reading.top, reading.own_bytes)
        )  # fmt: skip
        print(
            f"{reading.hours:6.1f} h: {(reading.bytes - base) / 1024:9.1f} KiB "
            f"({reading.own_bytes / 1024:.1f} KiB the agents'), "
            f"{reading.nodes} nodes, {reading.window_steps} steps",
            file=sys.stderr,
            flush=True,
        )
    out[-1] = _with_resource(out[-1], probe, base)
    freed = out[-1].resource_bytes or 0
    print(f"deleting the resource frees {freed / 1024:.1f} KiB", file=sys.stderr, flush=True)
    tracemalloc.stop()
    return out


def _with_resource(last: Reading, probe: Probe, base: int) -> Reading:
    """``last`` with what the resource itself holds: the bytes its deletion frees.

    The forecaster and the sampler forget the resource (as when it is deleted); what
    that frees is the resource's, and what a thousand of them hold a thousand times -
    not the agents' readings, nor what numpy and the process keep once (small-buffer
    caches, imported code).
    """
    probe.forecaster.forget(RESOURCE)
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    return dataclasses.replace(last, resource_bytes=last.bytes - (after - base))


def main(argv: list[str] | None = None) -> int:
    """Run the probe and print (or write) its readings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 6.0, 12.0, 24.0])
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--json", default=None, help="write the readings here")
    args = parser.parse_args(argv)
    started = time.time()
    readings = run(args.nodes, args.hours, args.interval)
    report: dict[str, Any] = {
        "command": "python -m bench.operator_memory " + " ".join(argv or sys.argv[1:]),
        "nodes": args.nodes,
        "interval_s": args.interval,
        "seconds": round(time.time() - started, 1),
        "readings": [r.__dict__ for r in readings],
    }
    text = json.dumps(report, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
