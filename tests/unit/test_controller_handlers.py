"""The kopf handlers with a fake gateway: they apply what the reconcile decided."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import inspect
import json
import logging
import subprocess
import sys
import threading
import time
from typing import Any

import kopf
import pytest

from statecast.controller import handlers
from statecast.controller.history_keeper import Owner, history_configmap, history_name
from statecast.controller.resource_bodies import ResourceBodies
from statecast.controller.services import Services
from statecast.core.demand import AgentSample, DemandHistory
from statecast.core.demand_codec import encode
from statecast.core.reconcile.views import (
    AgentLease,
    NodeView,
    PodView,
    ReplicaView,
    node_view,
    pod_view,
    replica_view,
)


class FakeGateway:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.leases: list[AgentLease] = []
        self.lost: list[tuple[str, str]] = []
        self.stand_ins: list[tuple[str, tuple[str, ...]]] = []
        self.histories: dict[tuple[str, str], dict[str, Any]] = {}
        self.status_patches: list[tuple[str, dict[str, Any]]] = []
        self.statuses: dict[str, dict[str, Any]] = {}

    def create_replica(self, body: dict[str, Any]) -> bool:
        if any(b["metadata"]["name"] == body["metadata"]["name"] for b in self.created):
            return False
        self.created.append(body)
        return True

    def delete_replica(self, namespace: str, name: str) -> bool:
        self.deleted.append((namespace, name))
        return True

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason))

    def agent_leases(self) -> list[AgentLease]:
        return list(self.leases)

    def mark_replica_lost(self, namespace: str, name: str, reason: str, message: str) -> None:
        self.lost.append((name, reason))

    def set_stand_in(self, namespace: str, name: str, nodes: tuple[str, ...]) -> None:
        self.stand_ins.append((name, nodes))

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        found = self.histories.get((namespace, history_name(name)))
        return None if found is None else base64.b64decode(found["binaryData"]["demand"])

    def write_history(self, body: dict[str, Any]) -> None:
        self.histories[(body["metadata"]["namespace"], body["metadata"]["name"])] = body

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status_patches.append((name, status))
        self.merge_status(name, status)

    def merge_status(self, name: str, status: dict[str, Any]) -> None:
        """What the API server holds after a merge-patch of ``status`` (top-level fields)."""
        stored = self.statuses.setdefault(name, {})
        stored.update(status)
        for key in [k for k, v in stored.items() if v is None]:
            del stored[key]

    def written(self) -> dict[str, Any]:
        """The last status patch (what the last reconcile changed)."""
        assert self.status_patches, "no status was written"
        return self.status_patches[-1][1]


class FakeIndex(dict[Any, list[Any]]):
    """Stands in for kopf.Index: a mapping of keys to stores (lists) of values."""


def node(name: str, zone: str) -> NodeView:
    return node_view(
        {
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )


def replica(node_name: str, phase: str) -> ReplicaView:
    return replica_view(
        {
            "metadata": {"name": f"flags-{node_name}", "namespace": "ns"},
            "spec": {"resource": "flags", "nodeName": node_name},
            "status": {"phase": phase},
        }
    )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def memo(gateway: FakeGateway) -> kopf.Memo:
    """The operator memo as the startup handler leaves it, with services on the fake."""
    return kopf.Memo(services=Services.build(gateway))


def body(status: dict[str, Any] | None = None) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "statecast.io/v1alpha1",
            "kind": "SharedResource",
            "metadata": {"name": "flags", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {"replicas": {"min": 2}},
            "status": status or {},
        }
    )


def nodes() -> FakeIndex:
    return FakeIndex({n.name: [n] for n in (node("a", "z1"), node("b", "z2"), node("c", "z1"))})


def test_create_applies_the_plan_and_patches_status(gateway: FakeGateway, memo: kopf.Memo) -> None:
    patch = kopf.Patch()
    handlers.reconcile_resource(
        body(), patch=patch, memo=memo, node_index=nodes(), replica_index=FakeIndex()
    )
    assert [b["spec"]["nodeName"] for b in gateway.created] == ["a", "b"]
    assert gateway.deleted == []
    assert gateway.written()["phase"] == "Pending"
    assert gateway.written()["ready"] == "0/2"
    assert "status" not in patch, "written under the resource's lock, not left to kopf"
    assert gateway.events == [], "a new resource's first copies for its minimum: its status"


def test_resync_with_ready_replicas_only_patches_what_changed(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    index = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=index)
    assert gateway.created == []
    first = gateway.written()
    assert first["phase"] == "Ready"
    # the same status again: nothing to patch
    handlers.reconcile_resource(
        body(dict(first)), memo=memo, node_index=nodes(), replica_index=index
    )
    assert len(gateway.status_patches) == 1


def test_scale_down_deletes_through_the_gateway(gateway: FakeGateway, memo: kopf.Memo) -> None:
    index = FakeIndex(
        {("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready"), replica("c", "Ready")]}
    )
    static = body()
    static["spec"]["replication"] = {"policy": "static"}  # predictive holds: no forecast yet
    handlers.reconcile_resource(static, memo=memo, node_index=nodes(), replica_index=index)
    assert gateway.deleted == [("ns", "flags-c")]
    # done once applied: not Progressing (which the next reconcile turned back, a PATCH)
    conditions = {c["type"]: c for c in gateway.written()["conditions"]}
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == (
        "False",
        "Stable",
    )
    after = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    again = body(dict(gateway.statuses["flags"]))
    again["spec"]["replication"] = {"policy": "static"}
    handlers.reconcile_resource(again, memo=memo, node_index=nodes(), replica_index=after)
    assert len(gateway.status_patches) == 1, "the Replica's deletion seen: nothing to write"


def test_a_replica_the_index_has_not_seen_yet_is_not_reported_twice(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    seen = {"observedGeneration": 1}  # reconciled before: its floor restored is news
    handlers.reconcile_resource(
        body(dict(seen)), memo=memo, node_index=nodes(), replica_index=FakeIndex()
    )
    handlers.reconcile_resource(
        body(dict(seen)), memo=memo, node_index=nodes(), replica_index=FakeIndex()
    )
    assert len(gateway.created) == 2
    assert gateway.events == [("Normal", "ReplicaAdded")]  # one Event listing both


def test_an_expired_agent_lease_makes_the_handler_fail_over(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    # liveness is judged by when the operator saw a Lease change, on its own clock: it
    # saw both a minute ago; since then b's changed and a's did not
    liveness = memo.services.liveness
    seen_at = [time.monotonic() - 60]
    liveness.ttl, liveness.clock = 0.0, lambda: seen_at[0]
    renewed = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    gateway.leases = [AgentLease("a", renewed, 6), AgentLease("b", renewed, 6)]
    liveness.current()
    seen_at[0] += 60
    gateway.leases = [AgentLease("a", renewed, 6), AgentLease("b", dt.datetime.now(dt.UTC), 6)]
    replicas = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    handlers.reconcile_resource(body=body(), memo=memo, node_index=nodes(), replica_index=replicas)
    assert [b["spec"]["nodeName"] for b in gateway.created] == ["c"]
    assert [b["spec"]["reason"] for b in gateway.created] == ["failover"]
    rows = gateway.written()["replicas"]
    assert {r["node"]: r["phase"] for r in rows} == {"a": "Lost", "b": "Ready", "c": "Pending"}
    assert gateway.lost == [("flags-a", "AgentLost")]
    assert ("Warning", "ReplicaLost") in gateway.events


def test_a_consumer_pod_in_the_index_gets_a_replica_on_its_node(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    consumer = pod_view(
        {
            "metadata": {
                "name": "web",
                "namespace": "ns",
                "annotations": {"statecast.io/uses": "flags"},
            },
            "spec": {"nodeName": "c"},
            "status": {"phase": "Pending"},
        }
    )
    assert isinstance(consumer, PodView)
    replicas = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    handlers.reconcile_resource(
        body=body(),
        patch=kopf.Patch(),
        memo=memo,
        node_index=nodes(),
        replica_index=replicas,
        pod_index=FakeIndex({"ns": [consumer]}),
    )
    assert [(b["spec"]["nodeName"], b["spec"]["reason"]) for b in gateway.created] == [
        ("c", "consumer")
    ]


def test_a_forecasting_resource_gets_status_tuning_and_tuning_off_removes_it(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    services = handlers.services_of(memo)
    services.activity.mark()  # acting already: the first reconcile keeps the history
    sampler = services.sampler
    now = time.time()
    # Five 1 s intervals of the operator's own readings, binned at the resource's interval
    # (before, two readings 1 s apart binned at the sampler's default minute: when a
    # minute began between them, the history held too few intervals to forecast from).
    sampler.set_interval(("ns", "flags"), 1.0)
    for k in range(6):
        sampler.record(AgentSample("a", now - 30, now - 5 + k, {("ns", "flags", "local"): 6 * k}))
    spec: dict[str, Any] = {
        "replicas": {"min": 2},
        "prediction": {"interval": "1s", "horizon": "5s"},
        "replication": {"tuning": {"targetLocalHitRatio": 0.8}},
    }
    meta = {"name": "flags", "namespace": "ns", "uid": "u1", "generation": 1}
    handlers.reconcile_resource(kopf.Body({"metadata": meta, "spec": spec}), memo=memo,
                    node_index=nodes(), replica_index=FakeIndex())  # fmt: skip
    written = gateway.written()
    assert "tuning" in written, json.dumps(written)
    tuning = written["tuning"]
    assert (tuning["costWeight"], tuning["deviationThreshold"]) == (1.0, 0.5)
    assert tuning["explanation"] == "not tuned yet"
    off = {**spec, "replication": {"tuning": {"enabled": False}}}
    handlers.reconcile_resource(
        kopf.Body({"metadata": meta, "spec": off, "status": {"tuning": tuning}}),
        memo=memo, node_index=nodes(), replica_index=FakeIndex(),
    )  # fmt: skip
    assert gateway.written()["tuning"] is None


def test_a_resource_seen_first_loads_its_saved_demand_history(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    saved = DemandHistory()
    saved.add_sample(None, AgentSample("a", 0.0, 120.0, {("ns", "saved", "local"): 12}))
    snapshot = saved.snapshot(("ns", "saved"))
    assert snapshot is not None
    blob = encode(snapshot)
    owner = Owner("ns", "saved", "u-saved")
    gateway.histories[("ns", "statecast-history-saved")] = history_configmap(owner, blob)
    meta = {"name": "saved", "namespace": "ns", "uid": "u-saved", "generation": 1}
    reconciled = {"observedGeneration": 1, "phase": "Ready"}  # by an operator before this one
    handlers.reconcile_resource(
        kopf.Body({"metadata": meta, "spec": {"replicas": {"min": 2}}, "status": reconciled}),
        memo=memo, node_index=nodes(), replica_index=FakeIndex(),
    )  # fmt: skip
    matrix = handlers.services_of(memo).sampler.matrix(("ns", "saved"), ["a"], 60.0, 120.0, 2)
    assert matrix.tolist() == [[6.0, 6.0]]


def test_a_resource_never_reconciled_has_no_saved_history_to_read(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    """A first pass over a thousand new resources read a thousand absent ConfigMaps."""
    reads: list[str] = []
    read = gateway.read_history

    def counted(namespace: str, name: str, uid: str) -> bytes | None:
        reads.append(name)
        return read(namespace, name, uid)

    gateway.read_history = counted  # type: ignore[method-assign]
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=FakeIndex())
    assert reads == []
    assert gateway.written()["observedGeneration"] == 1
    handlers.services_of(memo).activity.mark()
    handlers.reconcile_resource(
        body({"observedGeneration": 1}), memo=memo, node_index=nodes(), replica_index=FakeIndex()
    )
    assert reads == [], "read once per resource and acting period, and nothing was saved"


def test_importing_the_handlers_builds_nothing_and_starts_nothing() -> None:
    code = (
        "import threading, statecast.controller.handlers as h; "
        "assert threading.active_count() == 1, threading.enumerate(); "
        "assert not [n for n in vars(h) if n.startswith('_') and n[1:2].isalpha() "
        "and not n.startswith('__') and not callable(getattr(h, n))]"
    )
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_startup_keeps_the_services_a_memo_brings_and_cleanup_stops_them(
    gateway: FakeGateway,
) -> None:
    services = Services.build(gateway, sample_seconds=3600.0, save_seconds=3600.0)
    memo = kopf.Memo(services=services)
    handlers.start_services(memo=memo)
    try:
        assert handlers.services_of(memo) is services
        assert any(t.name == "demand-sampler" for t in threading.enumerate())
    finally:
        handlers.stop_services(memo=memo)
    assert not any(t.name == "demand-sampler" for t in threading.enumerate())


def test_a_handler_without_services_says_so() -> None:
    with pytest.raises(LookupError, match="startup handler"):
        handlers.reconcile_resource(body(), memo=kopf.Memo(), node_index=nodes(),
                        replica_index=FakeIndex())  # fmt: skip


def test_a_resource_listed_added_or_respecced_is_reconciled_in_the_woken_workers(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """kopf only delivers the event (no changing handler: no bookkeeping PATCH); a woken
    worker reconciles the resource and patches the status itself; the operator's own
    status write (a MODIFIED event) queues nothing. A spec change's batch logs as one
    (it logged as a lapse's wave)."""
    caplog.set_level(logging.INFO, logger="statecast.controller.wave")
    memo = kopf.Memo(services=Services.build(gateway, sample_seconds=3600.0))
    raw = dict(body())
    index = FakeIndex({("ns", "flags"): [raw]})
    kwargs: dict[str, Any] = {
        "node_index": nodes(),
        "replica_index": FakeIndex(),
        "pod_index": FakeIndex(),
    }
    handlers.start_services(memo, **kwargs)
    wakeups = handlers.services_of(memo).wakeups

    def patched(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(gateway.status_patches) < count:
            assert time.monotonic() < deadline, gateway.status_patches
            time.sleep(0.05)

    try:
        asyncio.run(handlers.resource_seen(kopf.Body(raw), type=None, memo=memo))  # listed at start
        patched(1)
        assert [name for name, _ in gateway.status_patches] == ["flags"]
        assert gateway.status_patches[0][1]["ready"] == "0/2"
        assert [b["spec"]["nodeName"] for b in gateway.created] == ["a", "b"]
        # the watch shows the operator's own write: nothing to do
        written = {**raw, "status": gateway.statuses["flags"]}
        asyncio.run(handlers.resource_seen(kopf.Body(written), type="MODIFIED", memo=memo))
        assert wakeups.pending() == 0
        # the spec changed: generation 2, observed 1
        respecced = {**written, "metadata": {**raw["metadata"], "generation": 2},
                     "spec": {"replicas": {"min": 3}}}  # fmt: skip
        index[("ns", "flags")] = [respecced]
        asyncio.run(handlers.resource_seen(kopf.Body(respecced), type="MODIFIED", memo=memo))
        patched(2)
        assert gateway.status_patches[1][1]["observedGeneration"] == 2
        assert [b["spec"]["nodeName"] for b in gateway.created] == ["a", "b", "c"]
        deadline = time.monotonic() + 30  # logged once the batch's writes are done
        while not (events := [r.getMessage().split()[0] for r in caplog.records
                              if r.name.endswith(".wave")]):  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert events == ["event=spec-change-batch"]
        asyncio.run(handlers.resource_seen(kopf.Body(respecced), type="DELETED", memo=memo))
        wakeups.resync_round(0.0, 1e9, 60.0)
        assert wakeups.pending() == 0, "a deleted resource is forgotten"
    finally:
        handlers.stop_services(memo)


def test_kopf_keeps_no_bookkeeping_on_shared_resources() -> None:
    """No changing handler and no timer on every SharedResource: kopf would PATCH each
    one for its bookkeeping (a finalizer for a timer, the last-handled configuration),
    two writes per resource in a first pass that the reconcile did not need."""
    registry = kopf.get_default_registry()
    plain = kopf.Body({"apiVersion": "statecast.io/v1alpha1", "kind": "SharedResource",
                       "metadata": {"name": "r", "namespace": "ns"}, "spec": {}})  # fmt: skip
    changing = [h for h in registry._changing.get_all_handlers()
                if "sharedresources" in str(h.selector)]  # fmt: skip
    assert changing == []
    timers = [h for h in registry._spawning.get_all_handlers()
              if "sharedresources" in str(h.selector)]  # fmt: skip
    assert [h.id for h in timers] == ["strong_leader"]  # strong resources only:
    assert timers[0].when is not None and not timers[0].when(spec=plain["spec"], body=plain)


def test_a_failed_reconcile_is_queued_to_be_tried_again(
    gateway: FakeGateway, memo: kopf.Memo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not left to the next change or safety resync (a minute or more at 1,000 resources)."""

    def refuse(body: dict[str, Any]) -> bool:
        raise RuntimeError("the API server timed out")

    monkeypatch.setattr(gateway, "create_replica", refuse)
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=FakeIndex())
    assert gateway.written()["conditions"], "the failure is reported"
    assert handlers.services_of(memo).wakeups.pending() == 1


def test_a_handlers_status_never_overwrites_a_newer_woken_one(gateway: FakeGateway) -> None:
    """kopf applies what a handler leaves in its patch after the handler returned, outside
    the resource's lock: a woken reconcile in between wrote a newer status, and kopf's
    older one overwrote it (until the next reconcile, up to a safety resync later)."""
    memo = kopf.Memo(services=Services.build(gateway, sample_seconds=3600.0))
    replicas = FakeIndex()
    kwargs: dict[str, Any] = {
        "node_index": nodes(),
        "replica_index": replicas,
        "pod_index": FakeIndex(),
    }
    handlers.start_services(memo, **kwargs)
    handlers.resource_bodies(memo).seen(body())  # as its event keeps it
    try:
        kopf_patch = kopf.Patch()
        handlers.reconcile_resource(
            body(), patch=kopf_patch, memo=memo, **kwargs
        )  # creates a and b
        # before kopf applies the handler's patch, both copies report Ready: woken
        replicas[("ns", "flags")] = [replica("a", "Ready"), replica("b", "Ready")]
        handlers.services_of(memo).wakeups.wake([("ns", "flags")])
        deadline = time.monotonic() + 30
        while gateway.statuses.get("flags", {}).get("ready") != "2/2":
            assert time.monotonic() < deadline, gateway.status_patches
            time.sleep(0.05)
        gateway.merge_status("flags", dict(kopf_patch.get("status") or {}))  # kopf's PATCH
        assert gateway.statuses["flags"]["ready"] == "2/2"
        assert gateway.statuses["flags"]["phase"] == "Ready"
    finally:
        handlers.stop_services(memo)


def test_a_body_behind_the_operators_own_status_write_is_read_with_it(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    """kopf's bodies lag the operator's own writes: read as they are, the status the
    reconcile had just written looked unwritten and was written again."""
    index = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    patches = [kopf.Patch(), kopf.Patch()]
    # the watch has not shown the first write yet: the second reconcile gets the old body
    for patch in patches:
        handlers.reconcile_resource(
            body(), patch=patch, memo=memo, node_index=nodes(), replica_index=index
        )
    writes = [s for _, s in gateway.status_patches] + [p["status"] for p in patches if p]
    assert len(writes) == 1
    assert writes[0]["phase"] == "Ready"


def test_a_reconciles_replicas_are_created_at_once() -> None:
    """One after the other, a first pass over a thousand resources waited on every
    creation in turn (two or more per resource)."""
    both = threading.Barrier(2, timeout=30)

    class Concurrent(FakeGateway):
        def create_replica(self, body: dict[str, Any]) -> bool:
            both.wait()  # returns only while the other creation is in flight too
            return super().create_replica(body)

    gateway = Concurrent()
    services = Services.build(gateway, io_threads=2)
    try:
        memo = kopf.Memo(services=services)
        handlers.reconcile_resource(
            body({"observedGeneration": 1}), memo=memo, node_index=nodes(),
            replica_index=FakeIndex(),
        )  # fmt: skip
    finally:
        assert services.writes is not None
        services.writes.shutdown()
    assert sorted(b["spec"]["nodeName"] for b in gateway.created) == ["a", "b"]
    assert gateway.events == [("Normal", "ReplicaAdded")]  # one Event listing both
    assert gateway.written()["ready"] == "0/2"


def test_a_resources_kept_body_has_no_managed_fields() -> None:
    raw = dict(body())
    raw["metadata"] = {**raw["metadata"], "managedFields": [{"manager": "kubectl"}]}
    bodies = ResourceBodies()
    ref = bodies.seen(kopf.Body(raw))
    kept = bodies.get(ref)
    assert ref == ("ns", "flags") and kept is not None
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["uid"] == "u1"
    assert kept["spec"] == raw["spec"]


@pytest.mark.parametrize("phase", ["Ready", "Pending"])
def test_a_lost_agents_copy_is_replaced_in_the_reconcile_that_marks_it_lost(
    gateway: FakeGateway, memo: kopf.Memo, phase: str
) -> None:
    """Whatever the copies' phase (the scale benchmark's agents never report one)."""
    liveness = memo.services.liveness
    seen_at = [time.monotonic() - 60]
    liveness.ttl, liveness.clock = 0.0, lambda: seen_at[0]
    renewed = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    gateway.leases = [AgentLease(n, renewed, 6) for n in ("a", "b", "c")]
    liveness.current()
    seen_at[0] += 60
    fresh = dt.datetime.now(dt.UTC)
    gateway.leases = [AgentLease("a", renewed, 6)] + [AgentLease(n, fresh, 6) for n in "bc"]
    replicas = FakeIndex({("ns", "flags"): [replica("a", phase), replica("b", phase)]})
    handlers.reconcile_resource(body=body(), memo=memo, node_index=nodes(), replica_index=replicas)
    assert gateway.lost == [("flags-a", "AgentLost")]
    assert [b["spec"]["nodeName"] for b in gateway.created] == ["c"]


def test_every_index_and_event_handler_runs_on_kopfs_loop_not_in_its_executor() -> None:
    """kopf runs a plain function in its executor (a task, a thread hop, a future) for
    every event of every object: some 5,000 events in a first pass over 1,000 resources."""
    registry = kopf.get_default_registry()
    ours = [
        handler.fn
        for handlers_of in (registry._indexing, registry._watching)
        for handler in handlers_of._handlers
        if handler.fn.__module__ == handlers.__name__
    ]
    assert len(ours) == 5  # two indexes (nodes, pods), three event handlers
    assert [fn.__name__ for fn in ours if not inspect.iscoroutinefunction(fn)] == []


def test_a_lost_agents_copy_removed_by_the_reconcile_is_not_marked_lost_after_it(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    """A copy the reconcile removes (failover: the copies left are Ready and enough) is
    not patched Lost after its deletion: that PATCH was answered 404 for 56 of a lost
    node's 82 copies at 1,000 x 50 (docs/scale-history.md, session 10). Its Warning stays."""
    liveness = memo.services.liveness
    seen_at = [time.monotonic() - 60]
    liveness.ttl, liveness.clock = 0.0, lambda: seen_at[0]
    renewed = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    gateway.leases = [AgentLease(n, renewed, 6) for n in "abc"]
    liveness.current()
    seen_at[0] += 60
    fresh = dt.datetime.now(dt.UTC)
    gateway.leases = [AgentLease("a", renewed, 6)] + [AgentLease(n, fresh, 6) for n in "bc"]
    copies = [replica(n, "Ready") for n in "abc"]
    replicas = FakeIndex({("ns", "flags"): copies})
    handlers.reconcile_resource(body=body(), memo=memo, node_index=nodes(), replica_index=replicas)
    assert gateway.deleted == [("ns", "flags-a")]
    assert gateway.lost == []
    assert ("Warning", "ReplicaLost") in gateway.events


def _cordoned(name: str, zone: str) -> NodeView:
    return node_view(
        {
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )


def _routine_move_start(
    gateway: FakeGateway, memo: kopf.Memo
) -> tuple[list[float], FakeIndex, FakeIndex, dict[str, Any]]:
    """Copies Ready on a and b, then b's node cordoned: (clock, nodes, replicas, status).

    The operator's held statuses read ``clock[0]``; the status is the one stored after
    the first reconcile, before the move.
    """
    clock = [1000.0]
    memo.services.held.clock = lambda: clock[0]
    moved = FakeIndex(
        {
            n.name: [n]
            for n in (node("a", "z1"), _cordoned("b", "z2"), node("c", "z1"), node("d", "z2"))
        }
    )
    settled = FakeIndex({("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready")]})
    handlers.reconcile_resource(body(), memo=memo, node_index=nodes(), replica_index=settled)
    return clock, moved, settled, dict(gateway.written())


def test_a_routine_moves_status_is_written_once_with_its_copys_ready_report(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    """Creation and Ready in one status PATCH, not two; no Event for a routine move."""
    clock, moved, settled, stored = _routine_move_start(gateway, memo)
    assert stored["phase"] == "Ready"
    # b is cordoned: its copy moves to d (a routine rebalance)
    handlers.reconcile_resource(body(stored), memo=memo, node_index=moved, replica_index=settled)
    assert [(b["spec"]["nodeName"], b["spec"]["reason"]) for b in gateway.created] == [
        ("d", "rebalance")
    ]
    assert len(gateway.status_patches) == 1, "held for d's Ready report"
    assert gateway.events == [], "a routine move posts no Event"
    assert ("ns", "flags") in memo.services.wakeups._due, "queued for the hold's deadline"
    # d reports Ready: b is handed off; one PATCH with the last state and the decision
    clock[0] += 0.4
    reported = FakeIndex(
        {("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready"), replica("d", "Ready")]}
    )
    handlers.reconcile_resource(body(stored), memo=memo, node_index=moved, replica_index=reported)
    assert len(gateway.status_patches) == 2
    written = gateway.written()
    assert {r["node"]: r["phase"] for r in written["replicas"]} == {"a": "Ready", "d": "Ready"}
    assert gateway.deleted == [("ns", "flags-b")]
    assert written["lastDecision"]["action"] == "remove"
    assert len(memo.services.held) == 0


def test_a_held_status_is_written_at_its_deadline_if_no_report_comes(
    gateway: FakeGateway, memo: kopf.Memo
) -> None:
    clock, moved, settled, stored = _routine_move_start(gateway, memo)
    handlers.reconcile_resource(body(stored), memo=memo, node_index=moved, replica_index=settled)
    assert len(gateway.status_patches) == 1
    clock[0] += 60  # past the deadline, d still Pending: the queued reconcile writes
    pending = FakeIndex(
        {("ns", "flags"): [replica("a", "Ready"), replica("b", "Ready"), replica("d", "Pending")]}
    )
    handlers.reconcile_resource(body(stored), memo=memo, node_index=moved, replica_index=pending)
    assert len(gateway.status_patches) == 2
    written = gateway.written()
    assert {r["node"]: r["phase"] for r in written["replicas"]}["d"] == "Pending"
    assert written["lastDecision"] == {**written["lastDecision"], "action": "add", "node": "d"}


def test_no_kopf_index_holds_the_shared_resources() -> None:
    """kopf's index pre-population makes one toggle per object of an indexed kind, each
    waking every object already waiting: some N x N wake-ups on its loop before the
    first reconcile of N new resources. Their bodies are kept by their event handler."""
    registry = kopf.get_default_registry()
    indexed = {h.selector.any_name for h in registry._indexing._handlers if h.selector}
    assert "sharedresources" not in indexed
    assert {"nodes", "pods"} <= indexed


def test_kopf_neither_indexes_nor_handles_the_replicas() -> None:
    """kopf's per-object machinery for each Replica event (two handlers' causes, a task
    and a queue per object, a patch) was the largest block of the operator's CPU in a
    first pass (~4,000 Replica events at 1,000 resources): a plain watch keeps them
    (:mod:`statecast.controller.replica_watch`)."""
    registry = kopf.get_default_registry()
    handled = {
        h.selector.any_name
        for handlers_of in (registry._indexing, registry._watching)
        for h in handlers_of._handlers
        if h.selector and h.fn.__module__ == handlers.__name__
    }
    assert "replicas" not in handled
    assert {"nodes", "pods", "sharedresources"} <= handled


def test_a_resources_event_keeps_its_body_and_its_deletion_drops_it(
    gateway: FakeGateway,
) -> None:
    memo = kopf.Memo(services=Services.build(gateway, sample_seconds=3600.0))
    bodies = handlers.resource_bodies(memo)
    raw = dict(body())
    asyncio.run(handlers.resource_seen(kopf.Body(raw), type=None, memo=memo))
    assert bodies.get(("ns", "flags")) == raw
    respecced = {**raw, "metadata": {**raw["metadata"], "generation": 2}}
    asyncio.run(handlers.resource_seen(kopf.Body(respecced), type="MODIFIED", memo=memo))
    kept = bodies.get(("ns", "flags"))
    assert kept is not None and kept["metadata"]["generation"] == 2
    asyncio.run(handlers.resource_seen(kopf.Body(respecced), type="DELETED", memo=memo))
    assert bodies.get(("ns", "flags")) is None and len(bodies) == 0
