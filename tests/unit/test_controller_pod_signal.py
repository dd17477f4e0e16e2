"""Consumer pods per node as a leading signal of demand: counted, recorded, forecast."""

from __future__ import annotations

from statecast.api.shared_resource import LabelSelector
from statecast.controller.observed import PodView, consumer_pods


def pod(node: str, uses: str = "", **labels: str) -> PodView:
    return PodView("ns", f"job-{node}", node, labels, frozenset(filter(None, uses.split(","))))


def test_consumer_pods_are_counted_per_node_by_annotation_or_selector() -> None:
    pods = [
        pod("node-1", uses="flags"),
        pod("node-1", app="web"),
        pod("node-2", uses="sessions,flags"),
        pod("node-3", uses="sessions"),
        pod("node-3", app="batch"),
    ]
    web = LabelSelector.model_validate({"matchLabels": {"app": "web"}})
    assert consumer_pods(pods, "flags", web) == {"node-1": 2, "node-2": 1}
    assert consumer_pods(pods, "flags", None) == {"node-1": 1, "node-2": 1}
    assert consumer_pods(pods, "sessions", None) == {"node-2": 1, "node-3": 1}
    everything = LabelSelector()
    assert consumer_pods(pods, "other", everything) == {"node-1": 2, "node-2": 1, "node-3": 2}
