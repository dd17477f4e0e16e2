"""The near cache's core: what it answers from the stream, the agent's answers and writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from statecast.client.nearcache import MISS, NearCache, Version
from tests.unit._clock import ManualClock


def line(key: str, value: object, stamp: str | None) -> bytes:
    return json.dumps({"k": key, "v": value, "s": stamp}).encode() + b"\n"


def beat(vector: dict[str, int] | None = None) -> bytes:
    return json.dumps({"vv": vector or {}, "t": 1.0}).encode() + b"\n"


def fresh_cache(**options: object) -> tuple[NearCache, ManualClock]:
    clock = ManualClock(100.0)
    cache = NearCache(clock=clock, **options)  # type: ignore[arg-type]
    cache.connected()
    cache.feed(beat())
    return cache, clock


def test_a_miss_then_the_answer_then_a_hit():
    cache, _ = fresh_cache()
    assert cache.lookup("k") is MISS
    cache.fill("k", b'"v"', "5.0.a")
    assert cache.lookup("k") == b'"v"'
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)


def test_a_not_found_answer_is_kept_as_absent():
    cache, _ = fresh_cache()
    assert cache.lookup("k") is MISS
    cache.fill("k", None, None)
    assert cache.lookup("k") is None
    cache.feed(line("k", "born", "9.0.a"))  # created later: the stream brings it
    assert cache.lookup("k") == b'"born"'


def test_without_a_recent_heartbeat_reads_go_to_the_agent():
    cache, clock = fresh_cache(max_staleness=0.1)
    cache.lookup("k")
    cache.fill("k", b"1", "5.0.a")
    clock.now += 0.2
    assert cache.lookup("k") is MISS  # held, but possibly behind: ask the agent
    assert cache.stats.stale == 1
    cache.fill("k", b"1", "5.0.a")
    cache.feed(beat())
    assert cache.lookup("k") == b"1"


def test_a_closed_stream_or_a_gap_sends_reads_to_the_agent():
    cache, _ = fresh_cache()
    cache.lookup("k")
    cache.fill("k", b"1", "5.0.a")
    cache.disconnected()
    assert cache.lookup("k") is MISS
    cache.abandon("k")
    cache.connected()
    cache.feed(beat())
    assert cache.lookup("k") == b"1"
    cache.feed(b'{"gap":true}\n')
    assert cache.lookup("k") is MISS
    assert cache.stats.gaps == 1


def test_the_stream_updates_held_keys_and_ignores_others():
    cache, _ = fresh_cache()
    cache.lookup("held")
    cache.fill("held", b"1", "5.0.a")
    cache.feed(line("held", 2, "6.0.b") + line("other", 3, "6.1.b") + beat({"b": 2}))
    assert cache.lookup("held") == b"2"
    assert cache.lookup("other") is MISS
    assert cache.stats.updates == 1
    assert cache.vector == {"b": 2}


def test_an_answer_older_than_a_line_that_came_while_it_was_fetched_loses():
    cache, _ = fresh_cache()
    assert cache.lookup("k") is MISS
    cache.feed(line("k", "new", "7.0.a"))  # arrives before the read's answer
    cache.fill("k", b'"old"', "6.0.a")
    assert cache.lookup("k") == b'"new"'


def test_a_line_older_than_the_value_held_loses_and_a_tie_goes_to_the_line():
    cache, _ = fresh_cache()
    cache.lookup("k")
    cache.fill("k", b'"fill"', "7.0.a")
    cache.feed(line("k", "older", "6.9.a"))
    assert cache.lookup("k") == b'"fill"'
    cache.feed(line("k", ["fill", "sibling"], "7.0.a"))  # same stamp, more merged
    assert cache.lookup("k") == b'["fill", "sibling"]'


def test_a_write_is_read_back_at_once_and_older_lines_do_not_undo_it():
    cache, _ = fresh_cache()
    cache.wrote("k", b'"mine"', "10.0.a")
    assert cache.lookup("k") == b'"mine"'
    cache.feed(line("k", "before", "9.0.b"))
    assert cache.lookup("k") == b'"mine"'
    cache.wrote("k", None, "11.0.a")  # a delete
    assert cache.lookup("k") is None


def test_a_reset_empties_the_cache_and_a_collected_key_is_dropped():
    cache, _ = fresh_cache()
    for key in ("a", "b"):
        cache.wrote(key, b"1", "5.0.a")
    cache.feed(line("a", None, None))
    assert cache.lookup("a") is MISS
    cache.abandon("a")
    cache.feed(b'{"reset":true}\n')
    assert len(cache) == 0
    assert cache.stats.resets == 1


def test_memory_is_bounded_least_recently_used_first():
    cache, _ = fresh_cache(max_keys=2)
    cache.wrote("a", b"1", "1.0.a")
    cache.wrote("b", b"2", "1.0.a")
    assert cache.lookup("a") == b"1"  # a is now the most recent
    cache.wrote("c", b"3", "1.0.a")
    assert [cache.lookup(k) for k in ("a", "c")] == [b"1", b"3"]
    assert cache.lookup("b") is MISS
    assert cache.stats.evictions == 1
    small, _ = fresh_cache(max_bytes=400)
    for i in range(10):
        small.wrote(f"k{i}", b"x" * 50, "1.0.a")
    assert small.bytes <= 400
    assert len(small) == 2


def test_lines_may_arrive_in_any_pieces():
    cache, _ = fresh_cache()
    cache.wrote("k", b"0", "1.0.a")
    data = line("k", {"deep": [1, 2]}, "2.0.a") + beat({"a": 2})
    for i in range(len(data)):
        cache.feed(data[i : i + 1])
    assert json.loads(cache.lookup("k")) == {"deep": [1, 2]}  # type: ignore[arg-type]


def test_a_line_the_agent_never_sends_is_an_error():
    cache, _ = fresh_cache()
    with pytest.raises(ValueError, match="unknown stream line"):
        cache.feed(b'{"what":1}\n')


def test_stamps_order_by_wall_then_logical_then_replica_with_dots_in_names():
    from statecast.client.nearcache import parse_version

    assert parse_version("10.2.ip-10-0-0-1.ec2.internal") == Version(
        10, 2, "ip-10-0-0-1.ec2.internal"
    )
    assert parse_version("10.2.a") < parse_version("10.10.a") < parse_version("11.0.a")  # type: ignore[operator]


# --- the stated bound, against a model of one agent and one process -------------------


@dataclass
class World:
    """One agent's key, its history of states, and what is in flight to the process."""

    history: list[tuple[str, bytes | None]] = field(default_factory=lambda: [("1.0.a", b"0")])
    stream: list[bytes] = field(default_factory=list)
    heard: int = 0  # index in history of the state as of the last heartbeat delivered
    pending: list[int] = field(default_factory=list)  # reads in flight: answer = that state
    wrote: int = 0  # the process's last own write (index in history)

    def state(self, index: int) -> tuple[str, bytes | None]:
        return self.history[index]


steps = st.lists(
    st.sampled_from(["write", "my-write", "delete", "flush", "deliver", "read", "answer"]),
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(program=steps, answer_first=st.booleans())
@example(  # a read's answer overtaken by the stream: the line came while it was fetched
    program=["deliver", "read", "write", "deliver", "flush", "deliver", "answer", "read"],
    answer_first=True,
)
def test_a_hit_is_never_older_than_the_agent_at_the_last_heartbeat_nor_than_own_writes(
    program, answer_first
):
    clock = ManualClock(100.0)
    cache = NearCache(clock=clock, max_staleness=1e9)
    cache.connected()
    world = World()
    world.stream.append(beat())
    stamp = 1
    for step in program:
        if step in ("write", "my-write", "delete"):
            stamp += 1
            value = None if step == "delete" else str(stamp).encode()
            world.history.append((f"{stamp}.0.a", value))
            world.stream.append(line("k", None if value is None else stamp, f"{stamp}.0.a"))
            if step == "my-write":
                cache.wrote("k", value, f"{stamp}.0.a")
                world.wrote = len(world.history) - 1
        elif step == "flush":
            world.stream.append(beat({"a": len(world.history)}) + b"#%d" % len(world.history))
        elif step == "deliver" and world.stream:
            data = world.stream.pop(0)
            if b"#" in data:  # a heartbeat: the agent had applied everything up to here
                data, index = data.split(b"#")
                world.heard = int(index) - 1
            cache.feed(data)
        elif step == "read":
            found = cache.lookup("k")
            if found is MISS:
                world.pending.append(len(world.history) - 1)
            else:  # the newest state with that value (deletes all read as None)
                newest = max(i for i, (_, v) in enumerate(world.history) if v == found)
                assert newest >= world.heard, "older than the agent at the last heartbeat"
                assert newest >= world.wrote, "older than the process's own write"
        elif step == "answer" and world.pending:
            index = world.pending.pop(0 if answer_first else -1)
            version, value = world.state(index)
            cache.fill("k", value, version)
