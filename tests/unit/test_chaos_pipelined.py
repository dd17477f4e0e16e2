"""Pipelined writers against real agents over HTTP: every write answered and recorded.

The write-burst's writers through the client library sent one request at a time and
offered 593-738 writes/s against the 10,000 asked (issue 13); these keep up to
``depth`` PUTs in flight on one connection, and the loss check reads their history as
it reads the client library's.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from functools import partial

from statecast.chaos.checker import parse_version
from statecast.chaos.history import History
from statecast.chaos.pipelined import PipelinedWriter, run_pipelined
from tests.unit._agents import REF, URLS


async def test_pipelined_writes_are_answered_in_order_and_recorded_with_versions(agents):
    holder, forwarder = await agents("n1", "n2")
    holder.open_replica(holder.specs[REF])
    holder.locations[REF] = ("n1",)
    forwarder.locations[REF] = ("n1",)  # its writes are forwarded to n1
    history = History()
    keys = [f"k{i}" for i in range(5)]
    writers = [
        PipelinedWriter(URLS[node], *REF, keys, node, f"{node}/writer", 400.0, 16,
                        random.Random(i), history, asyncio.get_running_loop().time)
        for i, node in enumerate(("n1", "n2"))
    ]  # fmt: skip
    await run_pipelined(writers, partial(time.sleep, 0.5))
    writes = history.snapshot()
    assert len(writes) == sum(w.sent for w in writers) > 2 * 16  # more than one window each
    assert {w.outcome for w in writes} == {"ok"}
    store = holder.stores[REF]
    for writer in writers:  # each client's values in the order it sent them
        mine = [w for w in writes if w.client == writer.name]
        assert [w.value["n"] for w in mine] == list(range(1, len(mine) + 1))
    for key in keys:
        latest = max((w for w in writes if w.key == key), key=lambda w: parse_version(w.version))
        assert json.loads(store.get(key)) == latest.value
