"""`kubectl statecast status`: API objects into the view, and the view into text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from statecast.core.reconcile import change_event, changes_events, first_placement
from statecast.core.replica_set import ReplicaChange
from statecast.kubectl.render import age, status_text, structured, summary_text, table
from statecast.kubectl.view import (
    ADD_OR_REMOVE,
    decisions,
    replica_lines,
    status_view,
    summary_view,
)
from tests.unit._kubectl_objects import (
    NOW,
    event,
    node,
    replica,
    resource,
    stamp,
    summary,
)

NODES = [
    node("node-1", "zone-a"),
    node("node-2", "zone-b"),
    node("node-3", "zone-c"),
    node("node-4", "zone-a"),
]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (-1, "0s"),  # a clock a second ahead is "now", as kubectl says
        (-5, "<invalid>"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60 * 7, "3h7m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (9 * 86400, "9d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_ages_read_like_kubectls_age_column(seconds: int, shown: str) -> None:
    then = NOW - __import__("datetime").timedelta(seconds=seconds)
    assert age(then, NOW) == shown


def test_an_unknown_time_is_unknown() -> None:
    assert age(None, NOW) == "<unknown>"


def test_tables_pad_columns_three_spaces_apart_and_show_none_for_empty_cells() -> None:
    text = table(["name", "hit%"], [["flags", 80], ["sessions-long", None]])
    assert text.splitlines() == [
        "NAME            HIT%",
        "flags           80",
        "sessions-long   <none>",
    ]


def test_the_status_of_the_operator_wins_over_a_replicas_own_phase() -> None:
    # The agent of node-2 last said Ready; the operator knows the node is lost.
    res = resource(
        replicas=[summary("node-1", "zone-a"), summary("node-2", "zone-b", phase="Lost")]
    )
    lines = replica_lines(res, [replica("node-1"), replica("node-2")], {})
    assert [(r.node, r.zone, r.phase) for r in lines] == [
        ("node-1", "zone-a", "Ready"),
        ("node-2", "zone-b", "Lost"),
    ]


def test_a_replica_the_status_does_not_list_yet_shows_its_own_phase_and_the_nodes_zone() -> None:
    res = resource(replicas=[summary("node-1", "zone-a")])
    lines = replica_lines(
        res, [replica("node-1"), replica("node-3", "predicted", "Syncing")], {"node-3": "zone-c"}
    )
    assert [(r.node, r.zone, r.phase, r.reason) for r in lines] == [
        ("node-1", "zone-a", "Ready", "minimum"),
        ("node-3", "zone-c", "Syncing", "predicted"),
    ]


def test_replicas_are_listed_by_zone_then_node() -> None:
    res = resource(
        replicas=[
            summary("node-9", "zone-a"),
            summary("node-2", "zone-b"),
            summary("node-1", "zone-a"),
        ]
    )
    assert [r.node for r in replica_lines(res, [], {})] == ["node-1", "node-9", "node-2"]


def test_zones_count_their_nodes_and_those_holding_a_live_replica() -> None:
    res = resource(
        replicas=[summary("node-1", "zone-a"), summary("node-2", "zone-b", phase="Lost")]
    )
    view = status_view(res, [], [], NODES)
    assert [(z.zone, len(z.nodes), z.with_replica) for z in view.zones] == [
        ("zone-a", 2, ("node-1",)),
        ("zone-b", 1, ()),  # a Lost copy holds nothing
        ("zone-c", 1, ()),
    ]


def test_without_permission_to_list_nodes_zones_are_left_out() -> None:
    view = status_view(resource(replicas=[summary("node-1", "zone-a")]), [], [], None)
    assert view.zones == ()
    assert view.replicas[0].zone == "zone-a"


def test_the_forecast_lists_the_busiest_nodes_first_and_says_which_hold_a_replica() -> None:
    res = resource(
        replicas=[summary("node-1", "zone-a")],
        forecast=[
            {"node": "node-1", "mean": 3.0, "lower": 1.0, "upper": 5.0},
            {"node": "node-3", "mean": 40.0, "lower": 30.0, "upper": 52.0},
        ],
    )
    view = status_view(res, [], [], NODES)
    assert [(f.node, f.zone, f.replica) for f in view.forecast] == [
        ("node-3", "zone-c", False),
        ("node-1", "zone-a", True),
    ]


def test_decisions_are_the_operators_events_newest_first() -> None:
    events = [
        event("ReplicaAdded", "add replica on node-3 (reason predicted)", 30),
        event("Logging", "Handler 'resync' succeeded.", 10),  # kopf's own: not a decision
        event("ReplicaRemoved", "remove replica on node-4 (reason cost)", 5),
        event("ReplicaLost", "flags-node-2: node node-2 is NotReady or gone", 60, "Warning"),
    ]
    found = decisions(events)
    assert [(d.reason, d.node) for d in found] == [
        ("ReplicaRemoved", "node-4"),
        ("ReplicaAdded", "node-3"),
        ("ReplicaLost", ""),
    ]
    assert [d.reason for d in decisions(events, limit=1)] == ["ReplicaRemoved"]


def test_a_copy_kept_for_want_of_a_node_is_a_decision() -> None:
    """The operator's NoReplacement Warning (a copy on a cordoned node kept, session 16)."""
    message = "only 2 eligible nodes for 3 replicas: the copy on node-3 (...) is kept"
    found = decisions([event("NoReplacement", message, 5, "Warning")])
    assert [(d.reason, d.type) for d in found] == [("NoReplacement", "Warning")]


@pytest.mark.parametrize("action", ["add", "remove"])
def test_the_operators_event_messages_are_the_ones_the_view_reads(action: str) -> None:
    message = change_event(ReplicaChange(action, "node-7", "predicted")).message
    match = ADD_OR_REMOVE.match(message)
    assert match is not None
    assert (match["action"], match["node"], match["reason"]) == (action, "node-7", "predicted")


def test_an_event_listing_a_reconciles_changes_is_a_decision_per_change() -> None:
    """The operator posts one Event per action and reconcile (a first pass over a
    thousand resources posted two thousand, one per Replica)."""
    changes = [
        ReplicaChange("add", "node-2", "spread"),
        ReplicaChange("add", "node-5", "failover", stand_in_for=("node-1", "node-4")),
        ReplicaChange("remove", "node-6", "cost"),
    ]
    posted = changes_events(changes, routine=True)  # the routine cost removal too
    assert [e.reason for e in posted] == ["ReplicaAdded", "ReplicaRemoved"]
    events = [event(e.reason, e.message, 20) for e in posted]
    found = decisions(events)
    assert sorted((d.reason, d.node) for d in found) == [
        ("ReplicaAdded", "node-2"),
        ("ReplicaAdded", "node-5"),
        ("ReplicaRemoved", "node-6"),
    ]
    texts = {d.node: d.message for d in found}
    assert texts["node-2"] == "add replica on node-2 (reason spread)"
    assert texts["node-5"].startswith("add replica on node-5 (reason failover); a stand-in")
    assert "node-2" not in texts["node-5"]
    assert changes_events([]) == ()


def test_routine_moves_post_no_event_by_default_and_news_does() -> None:
    """Events are for what a user should notice (the API conventions): the policies'
    routine moves are logged and counted, the floor, consumers, failovers and stand-ins
    are posted."""
    routine = [
        ReplicaChange("add", "node-1", "predicted"),
        ReplicaChange("add", "node-2", "hedge"),
        ReplicaChange("add", "node-3", "rebalance"),
        ReplicaChange("remove", "node-4", "cost"),
        ReplicaChange("remove", "node-5", "rebalance"),
    ]
    assert changes_events(routine) == ()
    news = [
        ReplicaChange("add", "node-6", "minimum"),
        ReplicaChange("add", "node-7", "consumer"),
        ReplicaChange("add", "node-8", "failover"),
        ReplicaChange("add", "node-9", "predicted", stand_in_for=("node-1",)),
        ReplicaChange("remove", "node-10", "failover"),
    ]
    posted = changes_events([*routine, *news])
    found = decisions([event(e.reason, e.message, 20) for e in posted])
    assert sorted(d.node for d in found) == ["node-10", "node-6", "node-7", "node-8", "node-9"]
    assert len(changes_events(routine, routine=True)) == 2  # STATECAST_ROUTINE_EVENTS=1


def test_a_new_resources_first_copies_for_its_minimum_post_no_event() -> None:
    """Its creation asked for them and its status reports them; at 1,000 new resources
    they were one write in seven of a first pass. Anything else in the first reconcile,
    and the floor restored later, is still news."""
    floor = [ReplicaChange("add", "node-1", "minimum"), ReplicaChange("add", "node-2", "minimum")]
    assert changes_events(floor, first=True) == ()
    assert [e.message for e in changes_events(floor)] == [
        "add replica on node-1 (reason minimum) + add replica on node-2 (reason minimum)"
    ]
    with_consumer = [*floor, ReplicaChange("add", "node-3", "consumer")]
    (posted,) = changes_events(with_consumer, first=True)
    assert posted.message == "add replica on node-3 (reason consumer)"
    stand_in = [ReplicaChange("add", "node-4", "minimum", stand_in_for=("node-1",))]
    assert len(changes_events(stand_in, first=True)) == 1
    assert len(changes_events(floor, first=True, routine=True)) == 1  # routine: every change
    # a resource held on every node (session 25's reason; ``minimum`` before): the same
    everywhere = [ReplicaChange("add", "node-5", "everywhere")]
    assert changes_events(everywhere, first=True) == ()
    assert len(changes_events(everywhere)) == 1
    assert first_placement({}) and first_placement({"phase": "Pending"})
    assert not first_placement({"observedGeneration": 1})


def _status_view() -> Any:
    res = resource(
        replicas=[summary("node-1", "zone-a"), summary("node-3", "zone-c", "predicted")],
        forecast=[{"node": "node-3", "mean": 40.0, "lower": 30.0, "upper": 52.0}],
    )
    res["status"]["lastDecision"] = {
        "action": "add",
        "reason": "predicted",
        "node": "node-3",
        "message": "1 to add, 0 to remove",
        "time": stamp(30),
    }
    events = [event("ReplicaAdded", "add replica on node-3 (reason predicted)", 30)]
    return status_view(
        res, [replica("node-1"), replica("node-3", "predicted", age=30)], events, NODES
    )


def test_status_reads_like_kubectl_describe() -> None:
    text = status_text(_status_view(), NOW)
    assert "Name:           flags\n" in text
    assert "Policy:         predictive (interval 5s, horizon 30s, level 0.9)\n" in text
    assert "Hit%:           80 (local-hit ratio 0.800 over the last 5m)\n" in text
    assert "  ZONE     NODE     ROLE   PHASE   LAG    REASON      AGE\n" in text
    assert "  zone-c   node-3   peer   Ready   0.2s   predicted   30s\n" in text
    assert "  node-3   zone-c   40.0   30.0    52.0    no" not in text  # it holds one
    assert "  node-3   zone-c   40.0   30.0    52.0    yes\n" in text
    assert "Last decision:  add on node-3 (predicted): 1 to add, 0 to remove\n" in text
    assert "  30s   Normal   ReplicaAdded   add replica on node-3 (reason predicted)\n" in text
    assert "  zone-b   1       0          <none>\n" in text  # a zone without a replica


def test_a_resource_without_forecast_says_why() -> None:
    res = resource(
        replicas=[summary("node-1", "zone-a")],
        hit=None,
        conditions=[
            {
                "type": "ForecastReady",
                "status": "False",
                "reason": "NotEnoughHistory",
                "message": "2 of 3 intervals sampled",
            }
        ],
    )
    text = status_text(status_view(res, [], [], None), NOW)
    assert "Forecast: <none>: NotEnoughHistory (2 of 3 intervals sampled)\n" in text
    assert "Hit%:           <none> (no reads sampled yet)\n" in text


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_structured_output_has_camel_case_keys_and_rfc3339_times(output: str) -> None:
    text = structured(_status_view(), output)
    data = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert data["name"] == "flags"
    assert data["hitPercent"] == 80
    assert data["replicas"][1]["reason"] == "predicted"
    assert data["forecastGenerated"] == stamp(5)
    assert data["decisions"][0]["node"] == "node-3"


def test_the_summary_has_a_line_per_resource() -> None:
    other = resource(policy="static", hit=None)
    other["metadata"]["name"], other["metadata"]["namespace"] = "sessions", "web"
    rows = summary_view(
        [other, resource(forecast=[{"node": "node-3", "mean": 4.25, "lower": 1, "upper": 9}])]
    )
    assert [(r.namespace, r.name, r.forecast) for r in rows] == [
        ("shop", "flags", "node-3 4.2/interval"),
        ("web", "sessions", ""),
    ]
    lines = summary_text(rows, NOW, namespaces=True).splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "NAME",
        "POLICY",
        "PHASE",
        "READY",
        "HIT%",
        "FORECAST",
        "LAST",
        "DECISION",
        "AGE",
    ]
    assert lines[2].split()[:6] == ["web", "sessions", "static", "Ready", "0/0", "<none>"]
