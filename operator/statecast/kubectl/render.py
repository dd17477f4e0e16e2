"""The views printed the way kubectl prints things (pure: views in, text out).

Tables with upper-case headers three spaces apart, ``describe``-style sections, ages
like ``5m12s``, and ``-o json|yaml``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from statecast.kubectl.explain import Explanation
from statecast.kubectl.forecast_view import ForecastView
from statecast.kubectl.view import (
    ConditionLine,
    DecisionLine,
    ResourceStatus,
    ResourceSummary,
    as_dict,
)

__all__ = [
    "age",
    "explanation_text",
    "forecast_text",
    "status_text",
    "structured",
    "summary_text",
    "table",
]

NONE = "<none>"


def age(then: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago ``then`` was, as kubectl's AGE column says it (``<unknown>`` if unset)."""
    if then is None:
        return "<unknown>"
    seconds = int((now - then).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if days < 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> str:
    """Columns padded to their widest cell and three spaces apart, kubectl's way."""
    cells = [[h.upper() for h in headers]] + [
        [NONE if c is None or c == "" else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        indent + "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    return "\n".join(lines) + "\n"


def structured(view: Any, output: str) -> str:
    """A view as ``json`` or ``yaml`` (camelCase keys, RFC 3339 times)."""
    data = as_dict(view)
    if output == "json":
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False))


def _fields(pairs: Sequence[tuple[str, object]], width: int = 16) -> str:
    """``Key:   value`` lines, values aligned at ``width`` as ``kubectl describe`` does."""
    return "".join(f"{(k + ':').ljust(width)}{NONE if v in (None, '') else v}\n" for k, v in pairs)


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def summary_text(rows: Sequence[ResourceSummary], now: dt.datetime, namespaces: bool) -> str:
    """``status`` without a name: one line per resource."""
    if not rows:
        return ""
    headers = ["name", "policy", "phase", "ready", "hit%", "forecast", "last decision", "age"]
    lines = [
        [r.name, r.policy, r.phase, r.ready, r.hit_percent, r.forecast, r.last_decision,
         age(r.created, now)]
        for r in rows
    ]  # fmt: skip
    if namespaces:
        headers = ["namespace", *headers]
        lines = [[r.namespace, *line] for r, line in zip(rows, lines, strict=True)]
    return table(headers, lines)


def _conditions_text(conditions: Sequence[ConditionLine], now: dt.datetime) -> str:
    rows = [[c.type, c.status, c.reason, age(c.since, now), c.message] for c in conditions]
    return table(["type", "status", "reason", "age", "message"], rows, "  ")


def decisions_text(decisions: Sequence[DecisionLine], now: dt.datetime) -> str:
    """Decisions as kubectl lists Events: newest first."""
    rows = [
        [age(d.time, now), d.type, d.reason, d.message + (f" (x{d.count})" if d.count > 1 else "")]
        for d in decisions
    ]
    return table(["age", "type", "reason", "message"], rows, "  ")


def status_text(view: ResourceStatus, now: dt.datetime) -> str:
    """``status RESOURCE``, in the manner of ``kubectl describe``."""
    hit = (
        f"{view.hit_percent} (local-hit ratio {view.local_hit_ratio:.3f} over the last 5m)"
        if view.hit_percent is not None and view.local_hit_ratio is not None
        else "<none> (no reads sampled yet)"
    )
    prediction = f"interval {view.interval}, horizon {view.horizon}, level {view.level:g}"
    out = _fields(
        [
            ("Name", view.name),
            ("Namespace", view.namespace),
            ("Consistency", f"{view.consistency} (merge {view.merge})"),
            ("Policy", f"{view.policy} ({prediction})"),
            ("Phase", view.phase),
            ("Replicas", f"{view.ready_replicas}/{view.desired_replicas} Ready"),
            ("Hit%", hit),
            ("Age", age(view.created, now)),
        ]
    )
    if view.zones:
        out += f"\nZones (spread across {view.spread_across}):\n"
        rows = [[z.zone, len(z.nodes), len(z.with_replica), ",".join(z.with_replica)]
                for z in view.zones]  # fmt: skip
        out += table(["zone", "nodes", "replicas", "held on"], rows, "  ")
    out += "\nReplicas:\n"
    if view.replicas:
        rows = [
            [r.zone, r.node, r.role, r.phase,
             f"{r.lag_seconds:.1f}s" if r.lag_seconds is not None else None,
             r.reason, age(r.created, now) if r.created else None]
            for r in view.replicas
        ]  # fmt: skip
        out += table(["zone", "node", "role", "phase", "lag", "reason", "age"], rows, "  ")
    else:
        out += "  <none>\n"
    out += "\n" + _forecast_heading(view, now)
    if view.forecast:
        rows = [
            [f.node, f.zone, _number(f.mean), _number(f.lower), _number(f.upper),
             "yes" if f.replica else "no"]
            for f in view.forecast
        ]  # fmt: skip
        out += table(["node", "zone", "mean", "lower", "upper", "replica"], rows, "  ")
    out += "\n" + _fields(
        [("Tuning", view.tuning or None), ("Last decision", view.last_decision or None)]
    )
    out += "\nConditions:\n" + (
        _conditions_text(view.conditions, now) if view.conditions else "  <none>\n"
    )
    out += "\nRecent decisions (Events):\n"
    out += decisions_text(view.decisions, now) if view.decisions else "  <none>\n"
    return out


def _forecast_heading(view: ResourceStatus, now: dt.datetime) -> str:
    if view.forecast_generated is None:
        reason = next((c for c in view.conditions if c.type == "ForecastReady"), None)
        why = f": {reason.reason} ({reason.message})" if reason and reason.message else ""
        return f"Forecast: <none>{why}\n"
    return (
        f"Forecast (model {view.forecast_model or NONE}, made {age(view.forecast_generated, now)}"
        f" ago; accesses per {view.interval} interval, mean over the {view.horizon} horizon,"
        f" {view.level:.0%} band):\n"
    )


def forecast_text(view: ForecastView, now: dt.datetime) -> str:
    """``forecast RESOURCE``: the forecast per node and zone beside the demand sampled."""
    made = (
        f"made {age(view.generated_at, now)} ago by model {view.model or NONE}"
        if view.generated_at
        else "none yet"
    )
    out = _fields(
        [
            ("Name", view.name),
            ("Namespace", view.namespace),
            ("Forecast", made),
            (
                "Interval",
                f"{view.interval_s:g}s (horizon {view.horizon_s:g}s, level {view.level:g})",
            ),
            ("History", view.history_note),
        ]
    )
    head = ["node", "zone", "recent", "mean", "lower", "upper", "replica"]
    rows = [
        [n.node, n.zone, _maybe(n.recent), _maybe(n.mean), _maybe(n.lower), _maybe(n.upper),
         "yes" if n.replica else "no"]
        for n in view.nodes
    ]  # fmt: skip
    out += "\nNodes (accesses per interval; recent: mean of the last horizon sampled):\n"
    out += table(head, rows, "  ") if rows else "  <none>\n"
    zone_rows = [[z.zone, _maybe(z.recent), _maybe(z.mean), _maybe(z.lower), _maybe(z.upper),
                  str(z.replicas)] for z in view.zones]  # fmt: skip
    out += "\nZones (sums over their nodes):\n"
    out += (
        table(["zone", "recent", "mean", "lower", "upper", "replicas"], zone_rows, "  ")
        if zone_rows
        else "  <none>\n"
    )
    return out


def _maybe(value: float | None) -> str | None:
    return None if value is None else _number(value)


def explanation_text(view: Explanation, now: dt.datetime) -> str:
    """``explain RESOURCE``: a paragraph per replica, then the nodes without one."""
    out = f"{view.namespace}/{view.name}: {view.summary}\n"
    for r in view.replicas:
        placed = f", placed {age(r.placed, now)} ago" if r.placed else ""
        where = f"{r.node} ({r.zone or 'no zone'})"
        out += f"\n{where}: {r.reason or 'unknown reason'}, {r.phase}{placed}\n"
        out += f"  {r.why}\n"
        for line in r.evidence:
            out += f"  - {line}\n"
    if view.others:
        out += "\nNodes without a replica:\n"
        for n in view.others:
            out += f"  {n.node} ({n.zone or 'no zone'}): {n.why}\n"
    return out
