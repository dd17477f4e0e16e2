"""Placement benchmark: every policy side by side in the trace-driven simulator.

Run from the repository root::

    .venv/bin/python -m bench.sim            # everything; writes docs/bench/sim.{md,json,png}
    .venv/bin/python -m bench.sim --quick    # two scenarios, no scale section

Sections, all from one run:

1. the built-in scenarios (``statecast simulate --scenario NAME``), every policy;
2. the NAB Twitter trace: the ten series of /work/shared/data/traces/nab as ten nodes in
   three zones sharing one resource, written as TRACE/NODES/RES CSVs and read back
   through the command's own loader;
3. scale: a week of 5-minute steps for 100 nodes x 100 resources through the
   non-forecasting policies and the predictive policy (end to end);
4. the target checks, computed from the numbers above, beside the best local-hit ratio
   any policy could reach with reactive's replica-hours (``statecast.sim.bounds``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from statecast.sim import PolicyResult, SimConfig, Trace, replay
from statecast.sim.bounds import local_hit_bound
from statecast.sim.loaders import load_trace
from statecast.sim.planned import Predictive
from statecast.sim.plot import plot
from statecast.sim.registry import make_policy
from statecast.sim.report import table
from statecast.sim.scenarios import MOVING, SCENARIOS, scenario

OUT = Path("docs/bench")
TRACES = Path("/work/shared/data/traces/nab")
TWITTER = ("AAPL", "AMZN", "CRM", "CVS", "FB", "GOOG", "IBM", "KO", "PFE", "UPS")
POLICIES = ("static", "full", "reactive", "predictive", "oracle")
# Forecasts: one update per step for every series, a refit once a day (trace.period).


def run_all(
    trace: Trace, config: SimConfig, policies: tuple[str, ...]
) -> tuple[list[PolicyResult], Predictive | None]:
    results = []
    predictive = None
    for name in policies:
        policy = make_policy(name, trace.period)
        results.append(replay(trace, policy, config))
        if name == "predictive" and isinstance(policy, Predictive):
            predictive = policy
        print(f"  {trace.name:16s} {name:16s} {results[-1].elapsed_s:7.1f}s", flush=True)
    return results, predictive


def twitter_trace(workdir: Path) -> Trace:
    """The ten Twitter series as ten nodes in three zones, through the CSV loader."""
    frames = []
    for i, name in enumerate(TWITTER):
        frame = pd.read_csv(TRACES / f"Twitter_volume_{name}.csv")
        frame["node"] = f"node-{name.lower()}"
        frame["zone"] = ("zone-a", "zone-b", "zone-c")[i % 3]
        frames.append(frame)
    data = pd.concat(frames)
    trace_csv, nodes_csv, res_csv = (workdir / n for n in ("trace.csv", "nodes.csv", "res.csv"))
    pd.DataFrame(
        {
            "timestamp": data["timestamp"],
            "resource": "tweets",
            "node": data["node"],
            "accesses": data["value"],
        }
    ).to_csv(trace_csv, index=False)
    data[["node", "zone"]].drop_duplicates().to_csv(nodes_csv, index=False)
    # A small lookup table: 16 MiB, 10 writes a minute (chosen once, not tuned).
    res_csv.write_text("resource,bytes,writes_per_min\ntweets,16Mi,10\n")
    return load_trace(trace_csv, nodes_csv, res_csv, name="twitter-nab")


def scale_trace(nodes: int, resources: int, steps: int, seed: int = 7) -> Trace:
    """Many nodes and resources: daily cycles with per-zone phases and random weights."""
    rng = np.random.default_rng(seed)
    zones = tuple(f"zone-{i % 5}" for i in range(nodes))
    t = np.arange(steps) * 300.0 / 3600.0
    phase = np.array([int(z[-1]) * 4.8 for z in zones])
    shape = 0.2 + np.exp(-0.5 * (((t[None, :] - phase[:, None] + 12) % 24 - 12) / 3) ** 2)
    weight = rng.gamma(0.7, 1.0, size=(resources, nodes))
    scale = rng.lognormal(5.0, 1.0, size=resources)
    demand = rng.poisson(scale[:, None, None] * weight[:, :, None] * shape[None, :, :] / 5)
    return Trace(
        name=f"scale-{nodes}x{resources}",
        demand=demand.astype(np.float64),
        resources=tuple(f"res-{i:03d}" for i in range(resources)),
        nodes=tuple(f"node-{i:03d}" for i in range(nodes)),
        zones=zones,
        step_s=300.0,
        available=np.ones((nodes, steps), dtype=np.bool_),
        state_bytes=np.full(resources, 16.0 * 2**20),
        writes_per_min=np.full(resources, 10.0),
        min_replicas=np.full(resources, 2, dtype=np.int64),
        max_replicas=np.zeros(resources, dtype=np.int64),
    )


def matched(trace: Trace, config: SimConfig, by: dict[str, PolicyResult]) -> PolicyResult:
    """``predictive`` at reactive's replica-hours: the smallest cost weight that gets there.

    Bisection on a log scale between 1 (the default prices) and 8, five halvings; the
    result is named after its weight (``predictive@2.38``). When the default prices
    already hold no more than reactive, that is the answer; when even 8x does not,
    the 8x run is returned (and its replica-hours say so).
    """
    target = by["reactive"].replica_hours
    if by["predictive"].replica_hours <= target:
        return by["predictive"]
    low, high = 1.0, 8.0
    best = replay(trace, make_policy(f"predictive@{high:g}", trace.period), config)
    if best.replica_hours > target:
        return best
    for _ in range(5):
        weight = round(float(np.sqrt(low * high)), 2)
        result = replay(trace, make_policy(f"predictive@{weight:g}", trace.period), config)
        if result.replica_hours <= target:
            high, best = weight, result
        else:
            low = weight
    print(f"  {trace.name:16s} {best.policy:16s} matched reactive's replica-hours", flush=True)
    return best


def add_matched(
    trace: Trace,
    config: SimConfig,
    by: dict[str, PolicyResult],
    rows: list[tuple[str, PolicyResult]],
) -> None:
    """Run :func:`matched` and file it as ``predictive@match`` (and a results row)."""
    result = matched(trace, config, by)
    by["predictive@match"] = result
    if result is not by["predictive"]:
        rows.append((trace.name, result))


def bound(trace: Trace, config: SimConfig, by: dict[str, PolicyResult]) -> tuple[float, float]:
    """Best local-hit ratio at reactive's replica-hours: keeping the spread, and not."""
    hours = by["reactive"].replica_hours if "reactive" in by else 0.0
    return (
        local_hit_bound(trace, hours, warmup_steps=config.warmup_steps, spread=True),
        local_hit_bound(trace, hours, warmup_steps=config.warmup_steps, spread=False),
    )


def checks(
    sections: dict[str, dict[str, PolicyResult]],
    policy: str,
    bounds: dict[str, tuple[float, float]],
) -> list[str]:
    """The issue's targets for one predictive variant, per trace (a check mark when met).

    ``bounds`` holds, per trace, the best local-hit ratio any policy could reach with
    reactive's replica-hours, keeping the zone spread and not (:func:`local_hit_bound`).
    """

    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    lines = [
        f"`{policy}`:",
        "",
        "| trace | hit / oracle's (>= 0.9) | replica-h / full's (<= 0.5)"
        " | mean ms vs reactive (lower) | replica-h / reactive's (<= 1)"
        " | hit points over reactive (>= 10 where demand moves)"
        " | best hit at reactive's replica-h: spread / no spread |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by in sections.items():
        if not {policy, "oracle", "full", "reactive"} <= by.keys():
            continue
        p, f, r = by[policy], by["full"], by["reactive"]
        hit = p.local_hit_ratio / max(by["oracle"].local_hit_ratio, 1e-9)
        hours = p.replica_hours / f.replica_hours
        versus = p.replica_hours / max(r.replica_hours, 1e-9)
        points = 100 * (p.local_hit_ratio - r.local_hit_ratio)
        moving = name in MOVING
        spread, free = bounds.get(name, (float("nan"), float("nan")))
        possible = spread >= r.local_hit_ratio + 0.10
        label = name if p.policy == policy else f"{name} ({p.policy})"
        # Against the oracle at the default prices only: a dearer predictive is
        # compared with reactive, not with a differently priced oracle.
        to_oracle = f"{hit:.2f} {mark(hit >= 0.9)}" if "@" not in p.policy else "-"
        lines.append(
            f"| {label} | {to_oracle}"
            f" | {hours:.2f} {mark(hours <= 0.5)}"
            f" | {p.mean_latency_ms:.3f} vs {r.mean_latency_ms:.3f}"
            f" {mark(p.mean_latency_ms < r.mean_latency_ms)}"
            f" | {versus:.3f} {mark(versus <= 1.0)}"
            f" | {points:+.1f}{(' ' + mark(points >= 10)) if moving else ' (not moving)'}"
            f" | {spread:.3f}{'' if possible else ' (+10 impossible)'} / {free:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two scenarios, no scale section")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, PolicyResult]] = []
    sections: dict[str, dict[str, PolicyResult]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    raw: dict[str, object] = {}
    names = ("follow-the-sun", "batch-jobs") if args.quick else tuple(SCENARIOS)
    # predictive+tune: the self-tuner at work. After these, predictive@match: the
    # predictive policy at the cost weight that holds reactive's replica-hours.
    policies = (*POLICIES, "predictive+tune")
    print("scenarios", flush=True)
    for name in names:
        trace = scenario(name)
        config = SimConfig(warmup_steps=trace.period)
        results, predictive = run_all(trace, config, policies)
        rows += [(name, r) for r in results]
        sections[name] = {r.policy: r for r in results}
        add_matched(trace, config, sections[name], rows)
        bounds[name] = bound(trace, config, sections[name])
        raw[name] = {r.policy: r.metrics() for r in sections[name].values()}
        if predictive is not None:
            raw[name]["predictive"]["forecast_s"] = round(predictive.forecast_seconds, 2)  # type: ignore[index]
        if name == "follow-the-sun" and predictive is not None:
            plot(trace, results, OUT / "sim.png", band=predictive.band, start=trace.period)

    print("twitter", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        trace = twitter_trace(Path(tmp))
    config = SimConfig(warmup_steps=trace.period)
    results, predictive = run_all(trace, config, policies)
    rows += [(trace.name, r) for r in results]
    sections[trace.name] = {r.policy: r for r in results}
    add_matched(trace, config, sections[trace.name], rows)
    bounds[trace.name] = bound(trace, config, sections[trace.name])
    raw[trace.name] = {r.policy: r.metrics() for r in sections[trace.name].values()}
    if predictive is not None:
        plot(
            trace,
            results,
            OUT / "sim-twitter.png",
            band=predictive.band,
            start=trace.steps - 3 * trace.period,
        )

    scale_lines: list[str] = []
    if not args.quick:
        print("scale", flush=True)
        week = scale_trace(100, 100, 7 * 288)
        config = SimConfig(warmup_steps=0)
        for name in ("static", "full", "reactive"):
            started = time.perf_counter()
            result = replay(week, make_policy(name), config)
            scale_lines.append(
                f"| {week.name}, 7 days | {name} | {time.perf_counter() - started:.1f} s |"
            )
            print(f"  {week.name} {name} {result.elapsed_s:.1f}s", flush=True)
        # The predictive policy end to end on the same week: 10,000 series updated every
        # step and refitted once a day (early on whenever the history doubles), and
        # plan() for 100 resources every step.
        policy = make_policy("predictive", week.period)
        started = time.perf_counter()
        result = replay(week, policy, config)
        wall = time.perf_counter() - started
        assert isinstance(policy, Predictive)
        fc = policy.forecast_seconds
        scale_lines.append(
            f"| {week.name}, 7 days | predictive (refit daily, update every step)"
            f" | {wall:.0f} s: forecasts {fc:.0f} s ({policy.refits} refits),"
            f" plan() and replay {wall - fc:.0f} s ({(wall - fc) / week.steps:.2f} s a step) |"
        )
        print(f"  {week.name} predictive {wall:.1f}s forecasts {fc:.1f}s", flush=True)

    text = [
        "# Placement policies in the simulator",
        "",
        "Generated by `make bench-sim` (`python -m bench.sim`); do not edit by hand.",
        "Forecasts updated every step, refitted once a day; warm-up of one day not measured;",
        "latency local 0.1 ms, same zone 0.5 ms, cross zone 2 ms, no replica 50 ms.",
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## Targets",
        "",
        *checks(sections, "predictive", bounds),
        "",
        "`predictive@match` is the predictive policy at the cost weight (found by",
        "bisection in this run) that holds no more replica-hours than reactive: latency",
        "and local hits at equal cost. The weight is in parentheses; no weight: the",
        "default prices already hold no more.",
        "",
        *checks(sections, "predictive@match", bounds),
        "",
        *checks(sections, "predictive+tune", bounds),
        "",
        "![follow-the-sun: demand, forecast band, placement](sim.png)",
        "",
        "![NAB Twitter trace, last three days](sim-twitter.png)",
    ]
    if scale_lines:
        text += [
            "",
            "## Replay speed (2 cores, shared)",
            "",
            "| trace | policy | wall time |",
            "|---|---|---|",
            *scale_lines,
        ]
    (OUT / "sim.md").write_text("\n".join(text) + "\n")
    (OUT / "sim.json").write_text(json.dumps(raw, indent=2) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
