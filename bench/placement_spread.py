"""Where an operator's copies went, from its log: per node, and a lapse's replacements.

Run on a scale run's operator log (``bench.operator_scale --logs DIR``)::

    .venv/bin/python -m bench.placement_spread DIR/.../operator-scale-1.log [--json OUT]

It reads the operator's ``event=replica-add`` / ``event=replica-remove`` lines (node and
reason of each) and its ``event=agent-down`` line, and reports: the copies on each node
at the lapse (adds minus removes before it), the copies added for ``minimum`` per node
(the spread's own choices: a node whose name sorts first used to take most of them),
and the nodes the lapse's replacements went to (the additions for ``minimum`` or
``failover`` in the seconds after it, by resources that had a copy on the lost node).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

_CHANGE = re.compile(
    r"^time=(\S+ \S+) .*event=replica-(add|remove) resource=(\S+) node=(\S+) reason=(\S+)"
)
_DOWN = re.compile(r"^time=(\S+ \S+) .*event=agent-down node=(\S+)")
#: Reasons of the additions that restore a resource's minimum (a replacement).
_REPLACING = ("minimum", "failover")


def _spread(counts: Counter[str]) -> dict[str, Any]:
    values = list(counts.values())
    return {
        "nodes": len(values),
        "max": max(values, default=0),
        "median": statistics.median(values) if values else 0,
        "top": counts.most_common(5),
    }


def spread_of(lines: list[str], after_s: float = 30.0) -> dict[str, Any]:
    """The report (see the module doc) for an operator log's ``lines``."""
    down = next((m.groups() for m in map(_DOWN.match, lines) if m), None)
    held: dict[str, set[str]] = defaultdict(set)
    minimum: Counter[str] = Counter()
    replaced: dict[str, str] = {}
    for match in map(_CHANGE.match, lines):
        if match is None:
            continue
        at, action, resource, node, reason = match.groups()
        if down is not None and at >= down[0]:
            replacing = action == "add" and reason in _REPLACING and resource not in replaced
            if replacing and down[1] in held[resource] and _seconds(down[0], at) <= after_s:
                replaced[resource] = node
            continue
        if action == "add":
            held[resource].add(node)
            minimum[node] += reason == "minimum"
        else:
            held[resource].discard(node)
    per_node: Counter[str] = Counter(n for nodes in held.values() for n in nodes)
    return {
        "lost_node": down[1] if down else None,
        "lapse_at": down[0] if down else None,
        "copies_per_node_at_lapse": _spread(per_node),
        "minimum_adds_per_node": _spread(minimum),
        "replacements": len(replaced),
        "replacements_per_node": dict(Counter(replaced.values()).most_common()),
    }


def _seconds(start: str, end: str) -> float:
    def parse(stamp: str) -> float:
        clock = stamp.split(" ")[1].replace(",", ".")
        h, m, s = clock.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    return parse(end) - parse(start)


def main() -> None:
    """Command line (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the operator's log")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = spread_of(args.log.read_text().splitlines())
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
