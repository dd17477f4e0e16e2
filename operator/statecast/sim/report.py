"""Results as JSON (the command's ``--json``) and as a Markdown table (the docs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from statecast.sim.config import SimConfig
from statecast.sim.replay import PolicyResult
from statecast.sim.trace import Trace

COLUMNS = (
    ("local_hit_ratio", "local hit", "{:.3f}"),
    ("mean_latency_ms", "mean ms", "{:.3f}"),
    ("p99_latency_ms", "p99 ms", "{:.2f}"),
    ("replica_hours", "replica-h", "{:.0f}"),
    ("bytes_moved", "GiB moved", "{:.2f}"),
    ("actions", "actions", "{:d}"),
    ("elapsed_s", "run s", "{:.1f}"),
)


def to_json(
    trace: Trace,
    config: SimConfig,
    results: Sequence[PolicyResult],
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The document ``--json`` writes: the trace's shape and one entry per policy."""
    policies: dict[str, Any] = {}
    for result in results:
        entry: dict[str, Any] = dict(result.metrics())
        entry.update((extra or {}).get(result.policy, {}))
        policies[result.policy] = entry
    return {
        "trace": trace.name,
        "nodes": trace.n_nodes,
        "resources": trace.n_resources,
        "steps": trace.steps,
        "step_seconds": trace.step_s,
        "warmup_steps": config.warmup_steps,
        "latency_ms": {
            "local": config.latency.local_ms,
            "same_zone": config.latency.same_zone_ms,
            "cross_zone": config.latency.cross_zone_ms,
            "no_replica": config.latency.no_replica_ms,
        },
        "policies": policies,
    }


def table(rows: Sequence[tuple[str, PolicyResult]]) -> str:
    """A Markdown table, one row per (trace, policy)."""
    head = "| trace | policy | " + " | ".join(c[1] for c in COLUMNS) + " |"
    rule = "|---|---|" + "---:|" * len(COLUMNS)
    lines = [head, rule]
    for name, result in rows:
        metrics = result.metrics()
        cells = []
        for key, _, fmt in COLUMNS:
            value = metrics[key]
            if key == "bytes_moved":
                value = float(value) / 2**30
            cells.append(fmt.format(value))
        lines.append(f"| {name} | {result.policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
