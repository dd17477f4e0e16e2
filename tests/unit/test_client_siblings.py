"""A multi-value key's concurrent values come back as Siblings, never as a list that looks
like a stored value (issue 19, item 11)."""

from __future__ import annotations

import asyncio

from statecast.agent.config import ResourceSpec
from statecast.client import Client, Siblings
from statecast.client.core import Response, get_call, siblings_call
from tests.unit._agents import REF, URLS


def test_an_answer_with_several_siblings_is_siblings_and_a_stored_list_a_list() -> None:
    get, every = get_call("ns", "r", "k"), siblings_call("ns", "r", "k")
    two = Response.of(200, b'["a","b"]', {"statecast-siblings": "2"}.get)
    stored = Response.of(200, b'["a","b"]', {}.get)  # a value that is a list
    assert get.read(two) == Siblings(("a", "b"))
    assert get.read(stored) == ["a", "b"]
    assert every.read(two) == Siblings(("a", "b"))
    assert every.read(stored) == Siblings((["a", "b"],))
    assert not isinstance(get.read(two), list)


async def test_concurrent_writes_to_a_multi_value_key_read_as_siblings(agents) -> None:
    x, y = await agents("x", "y")
    spec = ResourceSpec(namespace="apps", name="flags", merge="multi-value")
    for agent in (x, y):
        agent.specs[REF] = spec
        agent.locations[REF] = ("x", "y")
    one, two = x.open_replica(spec), y.open_replica(spec)
    await one.put("cart", b'["book"]')  # before either heard of the other: concurrent
    await two.put("cart", b'["pen"]')
    await x.replication.anti_entropy_round()

    def read() -> tuple[object, object]:
        with Client([URLS["x"]], discover_peers=False) as client:
            return client.get("apps", "flags", "cart"), client.get_siblings("apps", "flags", "cart")

    value, every = await asyncio.to_thread(read)
    assert isinstance(value, Siblings)
    assert sorted(value.values) == [["book"], ["pen"]]
    assert every == value
