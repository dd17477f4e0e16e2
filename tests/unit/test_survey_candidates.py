"""A plan builds each usable node's placement candidate once (issue 16: a `Candidate` per
node was built twice per plan - once bare, once more with its load - for every node,
usable or not: ~20% of a plan's CPU in bench.operator_cpu's profile)."""

from __future__ import annotations

from typing import Any

import pytest

from statecast.api.shared_resource import SharedResourceSpec
from statecast.core.reconcile import Observed
from statecast.core.reconcile.survey import survey
from statecast.core.reconcile.views import node_view
from statecast.core.spread import Candidate
from tests.unit.test_controller_reconcile import NOW, node, resource

ZONE = "topology.kubernetes.io/zone"


def cordoned(name: str, zone: str) -> Any:
    return node_view(
        {
            "metadata": {"name": name, "labels": {ZONE: zone}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )


CLUSTER = [
    node("node-1", "zone-a"),
    node("node-2", "zone-b"),
    node("node-3", "zone-a", ready=False),
    cordoned("node-4", "zone-b"),
    node("node-5", "zone-c"),
]
LOAD = {
    "node-1": (3.0, 30.0, 0.5),
    "node-2": (1.0, 10.0, 0.0),
    "node-3": (0.0, 0.0, 0.0),
    "node-5": (2.0, 20.0, 1.5),
}


def test_each_usable_node_becomes_one_candidate_with_its_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    init = Candidate.__init__

    def counted(self: Candidate, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        built.append(self.name)

    monkeypatch.setattr(Candidate, "__init__", counted)
    spec = SharedResourceSpec.model_validate({"replicas": {"min": 2}})
    seen = survey(Observed(resource(), CLUSTER, [], now=NOW, node_load=LOAD), spec)
    assert [(c.name, c.domain, c.load) for c in seen.candidates] == [
        ("node-1", "zone-a", (3.0, 30.0, 0.5)),
        ("node-2", "zone-b", (1.0, 10.0, 0.0)),
        ("node-5", "zone-c", (2.0, 20.0, 1.5)),
    ]
    assert all(c.ready for c in seen.candidates)
    assert sorted(built) == ["node-1", "node-2", "node-5"]  # once each; none for 3 and 4


def test_a_node_without_a_load_enters_as_idle_and_the_selector_still_applies() -> None:
    spec = SharedResourceSpec.model_validate(
        {"replicas": {"min": 1}, "placement": {"nodeSelector": {ZONE: "zone-b"}}}
    )
    load = {"node-1": (3.0, 30.0, 0.5)}
    seen = survey(Observed(resource(), CLUSTER, [], now=NOW, node_load=load), spec)
    assert [(c.name, c.load) for c in seen.candidates] == [("node-2", (0.0, 0.0, 0.0))]
