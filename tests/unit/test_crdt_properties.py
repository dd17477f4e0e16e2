"""Hypothesis properties of the CRDTs: join laws, convergence, delta completeness."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from statecast.core.clock import HybridClock
from statecast.core.crdt import (
    CounterConflictError,
    DeltaMap,
    Entry,
    decode_entry,
    encode_entry,
    join,
)

REPLICAS = ("a", "b", "c")
KEYS = ("k0", "k1", "k2")


@dataclass
class FakeTime:
    """A shared manual clock: replicas often stamp within the same millisecond."""

    now: int = 1_000

    def __call__(self) -> int:
        return self.now


@dataclass
class Cluster:
    maps: dict[str, DeltaMap]
    inbox: dict[str, list[tuple[str, int, int, dict[str, Entry]]]] = field(default_factory=dict)
    seen_entries: dict[str, list[Entry]] = field(default_factory=dict)

    def record(self, delta: dict[str, Entry] | None, origin: str) -> None:
        if not delta:
            return
        seq = self.maps[origin].version_vector.get_seq(origin)
        for key, entry in delta.items():
            self.seen_entries.setdefault(key, []).append(entry)
        for other in self.maps:
            if other != origin:
                self.inbox.setdefault(other, []).append((origin, seq, seq, delta))


def make_cluster(multi_value: bool, time: FakeTime) -> Cluster:
    return Cluster(
        {
            r: DeltaMap(r, multi_value=multi_value, clock=HybridClock(r, time), index_limit=8)
            for r in REPLICAS
        }
    )


operation = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(REPLICAS), st.sampled_from(KEYS), st.integers(0, 9)),
    st.tuples(st.just("del"), st.sampled_from(REPLICAS), st.sampled_from(KEYS), st.just(0)),
    st.tuples(st.just("inc"), st.sampled_from(REPLICAS), st.sampled_from(KEYS), st.integers(-3, 3)),
    st.tuples(st.just("deliver"), st.sampled_from(REPLICAS), st.just(""), st.integers(0, 50)),
    st.tuples(st.just("drop"), st.sampled_from(REPLICAS), st.just(""), st.integers(0, 50)),
    st.tuples(st.just("sync"), st.sampled_from(REPLICAS), st.sampled_from(REPLICAS), st.just(0)),
    st.tuples(st.just("tick"), st.just("a"), st.just(""), st.integers(0, 2)),
)


def run(cluster: Cluster, time: FakeTime, program: list[tuple[str, str, str, int]]) -> None:
    for kind, replica, arg, num in program:
        node = cluster.maps[replica]
        if kind == "put":
            cluster.record(node.put(arg, json.dumps(f"{replica}{num}").encode()), replica)
        elif kind == "del":
            cluster.record(node.delete(arg), replica)
        elif kind == "inc":
            with contextlib.suppress(CounterConflictError):
                cluster.record(node.increment(arg, num), replica)
        elif kind in ("deliver", "drop"):
            box = cluster.inbox.get(replica, [])
            if box:
                origin, first, last, delta = box.pop(num % len(box))
                if kind == "deliver":
                    node.apply_push(origin, first, last, delta)
        elif kind == "sync" and replica != arg:
            payload = cluster.maps[arg].delta_since(node.version_vector.entries)
            node.apply_sync(payload)
        elif kind == "tick":
            time.now += num


def converge(cluster: Cluster) -> None:
    for _ in range(2):
        for a in REPLICAS:
            for b in REPLICAS:
                if a != b:
                    cluster.maps[a].apply_sync(
                        cluster.maps[b].delta_since(cluster.maps[a].version_vector.entries)
                    )


programs = st.lists(operation, max_size=60)


@settings(max_examples=150, deadline=None)
@given(program=programs, multi_value=st.booleans())
@example(  # a delete of a counter whose register write then loses (fixed in e8d6b3e)
    program=[
        ("put", "a", "k0", 0),
        ("put", "a", "k0", 0),
        ("inc", "c", "k2", 0),
        ("del", "c", "k2", 0),
        ("deliver", "b", "", 2),
        ("put", "b", "k2", 0),
    ],
    multi_value=True,
)
def test_replicas_converge_after_anti_entropy(program, multi_value):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    converge(cluster)
    states = [cluster.maps[r].entries() for r in REPLICAS]
    assert states[0] == states[1] == states[2]
    vvs = [cluster.maps[r].version_vector for r in REPLICAS]
    assert vvs[0] == vvs[1] == vvs[2]
    values = [dict(cluster.maps[r].items()) for r in REPLICAS]
    assert values[0] == values[1] == values[2]


@settings(max_examples=150, deadline=None)
@given(program=programs, multi_value=st.booleans())
def test_delta_since_brings_a_peer_to_at_least_the_sender_state(program, multi_value):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    sender, receiver = cluster.maps["a"], cluster.maps["b"]
    receiver.apply_sync(sender.delta_since(receiver.version_vector.entries))
    for key, entry in sender.entries().items():
        mine = receiver.entry(key)
        assert join(mine, entry) == mine
    assert receiver.version_vector.dominates(sender.version_vector)


@settings(max_examples=100, deadline=None)
@given(
    program=programs,
    multi_value=st.booleans(),
    picks=st.lists(st.integers(0, 10**6), min_size=3, max_size=3),
)
def test_join_is_commutative_associative_idempotent(program, multi_value, picks):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    for entries in cluster.seen_entries.values():
        a, b, c = (entries[p % len(entries)] for p in picks)
        assert join(a, b) == join(b, a)
        assert join(join(a, b), c) == join(a, join(b, c))
        assert join(a, a) == a
        assert join(join(a, b), b) == join(a, b)


@settings(max_examples=100, deadline=None)
@given(program=programs, multi_value=st.booleans())
def test_entries_survive_the_codec(program, multi_value):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    for entries in cluster.seen_entries.values():
        for entry in entries:
            wire = json.loads(json.dumps(encode_entry(entry)))
            assert decode_entry(wire) == entry


@settings(max_examples=100, deadline=None)
@given(program=programs, multi_value=st.booleans())
def test_garbage_collection_never_changes_what_readers_see(program, multi_value):
    time = FakeTime()
    cluster = make_cluster(multi_value, time)
    run(cluster, time, program)
    converge(cluster)
    before = [dict(cluster.maps[r].items()) for r in REPLICAS]
    for r in REPLICAS:
        others = [cluster.maps[o].version_vector for o in REPLICAS if o != r]
        cluster.maps[r].collect_garbage(others)
    # Late, duplicated deliveries of old deltas must not resurrect collected keys.
    for r in REPLICAS:
        for origin, first, last, delta in cluster.inbox.get(r, []):
            cluster.maps[r].apply_push(origin, first, last, delta)
    after = [dict(cluster.maps[r].items()) for r in REPLICAS]
    assert before == after
