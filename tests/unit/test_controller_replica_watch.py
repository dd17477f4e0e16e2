"""The Replicas watched outside kopf: the store, the wakes, the list and watch loop."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from statecast.api.types import Ref
from statecast.controller.gateway import KubeGateway
from statecast.controller.observe import Indexes
from statecast.controller.replica_watch import ReplicaStore, ReplicaWatch, wakes
from statecast.core.reconcile.views import replica_view


def replica(resource: str, node: str, phase: str | None = None, ns: str = "ns") -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": f"{resource}-{node}", "namespace": ns, "resourceVersion": "7"},
        "spec": {"resource": resource, "nodeName": node},
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


class Feed:
    """What the Wakeups are told."""

    def __init__(self) -> None:
        self.copies: list[tuple[Ref, str, bool]] = []
        self.woken: list[Ref] = []

    def replica(self, ref: Ref, node: str, *, present: bool) -> None:
        self.copies.append((ref, node, present))

    def wake(self, refs: Iterable[Ref], *, first: bool = False) -> None:
        self.woken += list(refs)


class Source:
    """Lists and watches from scripts; each watch ends after its events."""

    def __init__(self, lists: list[list[dict[str, Any]]], watches: list[Any]) -> None:
        self.lists, self.watches = lists, watches
        self.listed, self.watched_from = 0, list[str]()
        self.namespaces: list[str | None] = []
        self.done = threading.Event()

    def replicas_at(self, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        self.namespaces.append(namespace)
        bodies = self.lists[min(self.listed, len(self.lists) - 1)]
        self.listed += 1
        return bodies, f"list-{self.listed}"

    def watch_replicas(
        self, resource_version: str, timeout: int = 300, namespace: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watched_from.append(resource_version)
        self.namespaces.append(namespace)
        if not self.watches:
            self.done.set()
            threading.Event().wait(5)  # the watch that never ends
            return
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script
        yield from script


@pytest.mark.parametrize(
    ("kind", "phase", "wakes_it"),
    [
        (None, "Ready", False),  # listed: its resource is reconciled when listed
        ("ADDED", None, False),  # created by a reconcile that counted it already
        ("ADDED", "Ready", True),
        ("MODIFIED", "Ready", True),
        ("MODIFIED", None, True),
        ("DELETED", "Ready", True),
    ],
)
def test_which_replica_events_wake_the_resource(
    kind: str | None, phase: str | None, wakes_it: bool
) -> None:
    assert wakes(kind, replica("r", "a", phase)) is wakes_it


def test_the_store_keeps_each_resources_replicas_as_the_events_bring_them() -> None:
    store = ReplicaStore()
    assert not store.wait_listed(0)
    assert store.listed([replica_view(replica("r", "a"))]) == (set(), set())
    assert store.wait_listed(0)
    store.seen("ADDED", replica_view(replica("r", "b")))
    store.seen("MODIFIED", replica_view(replica("r", "a", "Ready")))
    store.seen("ADDED", replica_view(replica("s", "a")))
    assert sorted((v.node, v.phase) for v in store.get(("ns", "r"), [])) == [
        ("a", "Ready"),
        ("b", "Pending"),
    ]
    store.seen("DELETED", replica_view(replica("s", "a")))
    assert store.get(("ns", "s"), []) == [] and ("ns", "s") not in store
    assert dict(store.items()).keys() == {("ns", "r")} and len(store) == 1
    indexes = Indexes.of({"node_index": {}}, store)
    assert len(indexes.replicas.get(("ns", "r"), [])) == 2


def test_a_later_list_says_which_resources_changed_and_which_copies_went() -> None:
    store = ReplicaStore()
    store.listed([replica_view(replica("r", "a")), replica_view(replica("s", "a"))])
    changed, gone = store.listed(
        [replica_view(replica("r", "a", "Ready")), replica_view(replica("t", "b"))]
    )
    assert changed == {("ns", "r"), ("ns", "s"), ("ns", "t")}
    assert gone == {(("ns", "s"), "a")}


def test_a_replica_index_given_to_a_handler_is_read_instead_of_the_store() -> None:
    given: dict[Ref, list[Any]] = {("ns", "r"): []}
    assert Indexes.of({"node_index": {}, "replica_index": given}, ReplicaStore()).replicas is given
    with pytest.raises(LookupError):
        Indexes.of({"node_index": {}})


def test_the_watch_lists_then_follows_events_and_tells_the_wakeups() -> None:
    source = Source(
        [[replica("r", "a", "Ready")]],
        [
            [
                ("ADDED", replica("r", "b")),
                ("BOOKMARK", {"metadata": {"resourceVersion": "42"}}),
                ("MODIFIED", replica("r", "b", "Ready")),
                ("DELETED", replica("r", "a", "Ready")),
            ]
        ],
    )
    store, feed = ReplicaStore(), Feed()
    watch = ReplicaWatch(source, store, feed, retry=0.01)
    watch.start()
    assert source.done.wait(5)
    watch.stop()
    assert feed.copies == [
        (("ns", "r"), "a", True),
        (("ns", "r"), "b", True),
        (("ns", "r"), "b", True),
        (("ns", "r"), "a", False),
    ]
    assert feed.woken == [("ns", "r"), ("ns", "r")]  # the report and the deletion
    assert [(v.node, v.phase) for v in store[("ns", "r")]] == [("b", "Ready")]
    # the server ended the watch: watched again from the last version seen, no list
    assert source.listed == 1 and source.watched_from == ["list-1", "7"]


def test_a_failed_watch_lists_again_and_wakes_what_the_gap_changed() -> None:
    source = Source(
        [[replica("r", "a"), replica("s", "a")], [replica("r", "a", "Ready")]],
        [RuntimeError("410: too old")],
    )
    store, feed = ReplicaStore(), Feed()
    watch = ReplicaWatch(source, store, feed, retry=0.01)
    watch.start()
    assert source.done.wait(5)
    watch.stop()
    assert source.listed == 2 and source.watched_from == ["list-1", "list-2"]
    assert sorted(feed.woken) == [("ns", "r"), ("ns", "s")]
    assert (("ns", "s"), "a", False) in feed.copies
    assert ("ns", "s") not in store


@pytest.mark.parametrize(
    ("namespaces", "asked", "kept"),
    [
        ((), None, {"ns", "other"}),
        (("ns",), "ns", {"ns"}),  # asked of "ns" alone
        (("ns", "x"), None, {"ns"}),
        (("n*",), None, {"ns"}),
        (("!other",), None, {"ns"}),
    ],
)
def test_a_namespaced_operator_keeps_the_replicas_of_its_namespaces_only(
    namespaces: tuple[str, ...], asked: str | None, kept: set[str]
) -> None:
    source = Source([[replica("r", "a"), replica("r", "a", ns="other")]], [])
    store = ReplicaStore()
    watch = ReplicaWatch(source, store, Feed(), namespaces, retry=0.01)
    watch.start()
    assert source.done.wait(5)
    watch.stop()
    assert source.namespaces == [asked, asked]
    assert {ns for ns, _ in store} == kept


class Response:
    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self.closed = False

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        yield self.data[:10]
        yield self.data[10:]

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass


class Custom:
    def __init__(self, response: Response) -> None:
        self.response = response
        self.asked: dict[str, Any] = {}

    def list_cluster_custom_object(self, *args: Any, **kwargs: Any) -> Any:
        self.asked = kwargs
        if kwargs.get("watch"):
            return self.response
        return {"metadata": {"resourceVersion": "5"}, "items": [replica("r", "a")]}

    def list_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> Any:
        self.asked = {**kwargs, "namespace": args[2]}
        return self.response if kwargs.get("watch") else {"items": []}


def gateway(custom: Custom) -> KubeGateway:
    gate = KubeGateway.__new__(KubeGateway)
    gate._custom = custom
    return gate


def test_the_gateway_lists_and_watches_replicas_decoding_each_line_once() -> None:
    response = Response(
        [
            {"type": "ADDED", "object": replica("r", "b")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
        ]
    )
    custom = Custom(response)
    gate = gateway(custom)
    assert gate.replicas_at() == ([replica("r", "a")], "5")
    events = list(gate.watch_replicas("5", timeout=60))
    assert [kind for kind, _ in events] == ["ADDED", "BOOKMARK"]
    assert events[0][1] == replica("r", "b")
    assert custom.asked["resource_version"] == "5" and custom.asked["allow_watch_bookmarks"]
    assert response.closed
    assert gate.replicas_at("ns") == ([], "") and custom.asked["namespace"] == "ns"


def test_a_watch_error_from_the_server_is_raised_to_list_again() -> None:
    response = Response([{"type": "ERROR", "object": {"code": 410}}])
    with pytest.raises(RuntimeError, match="410"):
        list(gateway(Custom(response)).watch_replicas("5"))
    assert response.closed
