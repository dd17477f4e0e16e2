"""bench.placement_spread: where an operator's copies went, from its log."""

from __future__ import annotations

from bench.placement_spread import spread_of


def add(at: str, resource: str, node: str, reason: str = "minimum") -> str:
    return (
        f"time=2026-12-05 06:{at} level=INFO logger=statecast.controller.apply "
        f"event=replica-add resource=scale/{resource} node={node} reason={reason}"
    )


LOG = [
    add("39:35,798", "r1", "node-1"),
    add("39:35,801", "r1", "node-2"),
    add("39:35,802", "r2", "node-1"),
    add("39:35,803", "r2", "node-3"),
    add("39:36,000", "r3", "node-2", "predicted"),
    "time=2026-12-05 06:39:40,100 level=INFO logger=statecast.controller.apply "
    "event=replica-remove resource=scale/r3 node=node-2 reason=cost",
    "time=2026-12-05 06:42:00,757 level=INFO logger=statecast.controller.woken "
    "event=agent-down node=node-1 noticed-after=0.011 confirmed-after=0.159",
    add("42:00,900", "r2", "node-4", "predicted"),  # not a replacement: for demand
    add("42:01,064", "r1", "node-3"),
    add("42:01,100", "r2", "node-4", "failover"),
    add("42:01,200", "r3", "node-4"),  # had no copy on node-1
    add("43:00,000", "r1", "node-5"),  # a later add: the first replacement counts
]


def test_copies_per_node_minimum_adds_and_the_lapses_replacements() -> None:
    report = spread_of(LOG)
    assert report["lost_node"] == "node-1"
    assert report["copies_per_node_at_lapse"]["top"] == [("node-1", 2), ("node-2", 1),
                                                         ("node-3", 1)]  # fmt: skip
    assert report["minimum_adds_per_node"]["max"] == 2
    assert report["replacements"] == 2
    assert report["replacements_per_node"] == {"node-3": 1, "node-4": 1}


def test_a_log_without_a_lapse_has_no_replacements() -> None:
    report = spread_of(LOG[:6])
    assert report["lost_node"] is None
    assert report["replacements"] == 0
