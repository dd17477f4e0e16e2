"""New copies go to the least loaded node, not to the node that sorts first (issue 19,
item 8: every resource's minimum replicas landed on node-1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import kopf

from statecast.controller.observe import Indexes
from statecast.controller.sampling import DemandSampler
from statecast.controller.services import NodeLoad, Services
from statecast.controller.wave import reconcile_one
from statecast.core.demand import AgentSample
from statecast.core.reconcile import Observed, reconcile
from statecast.core.spread import Candidate, spread
from tests.unit.test_controller_handlers import FakeGateway, FakeIndex, node
from tests.unit.test_controller_reconcile import NODES, NOW, replica, resource


def nodes(**loads: tuple[float, ...]) -> list[Candidate]:
    zones = {"n1": "a", "n2": "b", "n3": "a", "n4": "b"}
    return [Candidate(n, zones[n], {}, load=loads.get(n, ())) for n in sorted(zones)]


def test_without_loads_the_spread_is_as_before() -> None:
    assert spread(nodes(), 1) == ["n1"]
    assert spread(nodes(), 2) == ["n1", "n2"]


def test_a_new_copy_goes_to_the_least_loaded_node_of_the_least_used_zone() -> None:
    busy = {
        "n1": (3.0, 300.0, 0.0),
        "n2": (1.0, 10.0, 0.0),
        "n3": (0.0, 0.0, 0.0),
        "n4": (0.0, 0.0, 5.0),
    }
    assert spread(nodes(**busy), 1) == ["n3"]  # zone a's free node is the least loaded
    assert spread(nodes(**busy), 2) == ["n3", "n4"]
    # a copy that exists stays, whatever the loads
    assert spread(nodes(**busy), 1, current=["n1"]) == ["n1"]
    # replicas first, then bytes, then the agent's accesses per second
    ties = {
        "n1": (1.0, 5.0, 0.0),
        "n3": (1.0, 5.0, 900.0),
        "n2": (1.0, 9.0, 0.0),
        "n4": (1.0, 9.0, 0.0),
    }
    assert spread(nodes(**ties), 1) == ["n1"]


def test_the_reconcile_spreads_the_first_copies_by_load() -> None:
    load = {"node-1": (4.0, 0.0, 0.0), "node-2": (4.0, 0.0, 0.0), "node-3": (1.0, 0.0, 0.0)}
    spec = {"replicas": {"min": 2}, "replication": {"policy": "static"}}
    result = reconcile(Observed(resource(spec), NODES, [], now=NOW, node_load=load))
    assert sorted(c.node for c in result.changes) == ["node-3", "node-4"]


def test_node_load_counts_other_resources_once_a_second() -> None:
    load = NodeLoad(ttl=1.0)
    index = {
        ("ns", "flags"): [replica("node-1", resource="flags")],
        ("ns", "other"): [replica("node-1", resource="other"), replica("node-2", resource="other")],
    }
    found = load.of(("ns", "flags"), index, {"node-2": 12.34}, NOW)
    assert found == {"node-1": (1, 0, 0.0), "node-2": (1, 0, 12.3)}
    index[("ns", "more")] = [replica("node-1", resource="more")]
    assert load.of(("ns", "x"), index, {}, NOW)["node-1"] == (2, 0, 0.0)  # cached
    later = NOW + dt.timedelta(seconds=2)
    assert load.of(("ns", "x"), index, {}, later)["node-1"] == (3, 0, 0.0)


def test_the_sampler_knows_each_agents_recent_rate() -> None:
    sampler = DemandSampler(list)
    sampler.record(AgentSample("a", 0.0, 10.0, {("ns", "r", "local"): 100}))
    assert sampler.node_rates() == {}
    sampler.record(AgentSample("a", 0.0, 20.0, {("ns", "r", "local"): 300}))
    assert sampler.node_rates() == {"a": 20.0}


def test_a_copy_the_operator_created_counts_in_the_load_at_once() -> None:
    """The load is summed once a second: every plan within that second saw the same
    figures, and all their new copies went to the same least loaded node (session 9:
    tens of plans a second in a first pass). A creation counts at once now."""
    gateway = FakeGateway()
    services = Services.build(gateway)
    cluster = FakeIndex({n: [node(n, z)] for n, z in [("a", "z1"), ("b", "z2"), ("c", "z1")]})
    indexes = Indexes(cluster, FakeIndex())  # type: ignore[arg-type]  # the index lags
    for name in ("r1", "r2", "r3"):
        spec = {"replicas": {"min": 1}, "replication": {"policy": "static"}}
        meta = {"name": name, "namespace": "ns", "uid": name, "generation": 1}
        body = {**resource(spec), "metadata": meta}
        reconcile_one(services, kopf.Body(body), indexes)
    assert sorted(b["spec"]["nodeName"] for b in gateway.created) == ["a", "b", "c"]


def test_a_plans_new_copy_counts_for_the_other_resources_only_until_the_next_sum() -> None:
    load = NodeLoad(ttl=1.0)
    index: dict[tuple[str, str], list[Any]] = {}
    assert load.of(("ns", "a"), index, {}, NOW) == {}
    load.added(("ns", "a"), "node-1")
    assert load.of(("ns", "b"), index, {}, NOW) == {"node-1": (1, 0, 0.0)}
    # not for its own resource: a second plan before the index shows the copy would
    # take it for another resource's and place its copies elsewhere
    assert load.of(("ns", "a"), index, {}, NOW) == {}
    later = NOW + dt.timedelta(seconds=2)  # the next sum: the index is the truth again
    assert load.of(("ns", "b"), index, {}, later) == {}
