"""The scale benchmark's simulated agents: a lost agent's Lease expiry."""

from __future__ import annotations

import json
import threading
from typing import Any

from bench.scale_agents import DemandModel, FakeAgents, ReplicaReports, follow_objects


class SlowLeases:
    """A Lease API whose PATCH of node-2 waits until ``release`` is set."""

    def __init__(self) -> None:
        self.patching, self.release = threading.Event(), threading.Event()

    def patch_namespaced_lease(self, name: str, namespace: str, body: Any) -> None:
        if name.endswith("node-2") and not self.release.is_set():
            self.patching.set()
            assert self.release.wait(30)

    def create_namespaced_lease(self, namespace: str, body: Any) -> None:
        pass


def test_a_renewal_under_way_when_the_agent_is_lost_counts_and_none_follows() -> None:
    """The expiry was taken from the renewal before the one under way: the operator,
    which saw the later one, looked up to a round of renewals (seconds) late."""
    leases = SlowLeases()
    agents = FakeAgents(leases, "ns", DemandModel([("scale", "r")], ["node-1", "node-2"]))
    try:
        leases.release.set()
        agents.renew_all()
        before = agents.renewed["node-2"]
        leases.release.clear()
        renewing = threading.Thread(target=agents.renew_all)
        renewing.start()
        assert leases.patching.wait(30)
        lost = threading.Thread(target=lambda: expiries.append(agents.lose("node-2")))
        expiries: list[float] = []
        lost.start()
        leases.release.set()
        renewing.join(30)
        lost.join(30)
        assert expiries == [agents.renewed["node-2"] + agents.lease_s]
        assert agents.renewed["node-2"] > before
        renewals = agents.renewals
        agents.renew_all()
        assert agents.renewals == renewals + 1  # node-1 only
    finally:
        agents._server.server_close()  # never served: shutdown() would wait for it


class Statuses:
    """A Replica status API that records each PATCH."""

    def __init__(self) -> None:
        self.patched: list[tuple[str, str]] = []
        self.done = threading.Event()

    def patch_namespaced_custom_object_status(self, *args: Any) -> None:
        name, body = args[4], args[5]
        self.patched.append((name, body["status"]["phase"]))
        if len(self.patched) == 4:
            self.done.set()


def replica(name: str, node: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"nodeName": node}, "status": status or {}}


def test_a_new_replica_is_reported_in_its_phases_once_unless_its_agent_is_lost() -> None:
    """Without it every copy stayed Pending and the operator never removed one (the
    hand-off waits for Ready copies): the copies the demand's moves placed piled up."""
    statuses = Statuses()
    reports = ReplicaReports(
        statuses, "scale", {"node-3": 0.0}, phases=("Syncing", "Ready"), step_s=0.01
    )
    reports.start(watch=False)
    try:
        assert reports.seen("ADDED", replica("r-node-1", "node-1"))
        assert not reports.seen("ADDED", replica("r-node-1", "node-1")), "listed again"
        assert not reports.seen("ADDED", replica("r-node-2", "node-2", {"phase": "Ready"}))
        assert not reports.seen("MODIFIED", replica("r-node-4", "node-4"))
        assert not reports.seen("ADDED", replica("r-node-3", "node-3")), "its agent is lost"
        assert reports.seen("ADDED", replica("r-node-5", "node-5"))
        assert statuses.done.wait(30)
    finally:
        reports.stop()
    assert sorted(statuses.patched) == [
        ("r-node-1", "Ready"),
        ("r-node-1", "Syncing"),
        ("r-node-5", "Ready"),
        ("r-node-5", "Syncing"),
    ]
    assert statuses.patched.index(("r-node-1", "Syncing")) < statuses.patched.index(
        ("r-node-1", "Ready")
    )
    assert reports.written == 4


def test_a_staggered_demand_moves_each_resource_at_its_own_time() -> None:
    resources = [("scale", f"r{i}") for i in range(4)]
    model = DemandModel(resources, ["node-1", "node-2"], shift_s=120.0, staggered=True)
    moves = [
        next(t for t in range(1, 121) if model.step(r, float(t)) > model.step(r, 0.0))
        for r in range(4)
    ]
    assert moves == [120, 90, 60, 30], "one move every 30 s, each resource every 120 s"
    published = DemandModel(resources, ["node-1", "node-2"], shift_s=120.0)
    assert {published.step(r, 119.0) for r in range(4)} == {0}
    assert {published.step(r, 120.0) for r in range(4)} == {1}, "all at once"


class WatchResponse:
    """A watch's answer: each event a JSON line, in chunks that split lines."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
        self.released = False

    def stream(self, amt: Any = None, decode_content: bool = False) -> Any:
        yield from (self.data[i : i + 7] for i in range(0, len(self.data), 7))

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        self.released = True


def test_a_followed_watch_hands_each_event_decoded_once_and_resumes_from_its_version() -> None:
    """The client's Watch decoded each custom object twice, in the process that plays
    the agents beside the operator on the same cores."""
    stop = threading.Event()
    seen: list[tuple[str, str]] = []
    asked: list[dict[str, Any]] = []
    responses = [
        WatchResponse(
            [
                {"type": "ADDED", "object": replica("r-node-1", "node-1")},
                {"type": "MODIFIED", "object": {"metadata": {"name": "x", "resourceVersion": "8"}}},
            ]
        ),
        WatchResponse([]),
    ]

    class Custom:
        def list_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> WatchResponse:
            asked.append(kwargs)
            if len(asked) == 2:
                stop.set()
            return responses[len(asked) - 1]

    follow_objects(
        Custom(),
        "scale",
        "replicas",
        lambda k, o: seen.append((k, o["metadata"]["name"])),
        stop,
        "t",
    )
    assert seen == [("ADDED", "r-node-1"), ("MODIFIED", "x")]
    assert asked[0]["watch"] and not asked[0]["_preload_content"]
    assert asked[1]["resource_version"] == "8" and responses[0].released
