"""The operator's readiness: ready once kopf has its indexes, or while standing by."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from statecast.agent.launcher import free_port
from statecast.controller.readiness import Readiness, readiness_report, serve, standing_by

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
OWN = -1_700_000_000_000_000  # started at 1.7e9 s: priorities are minus start microseconds


def peer(priority: int, seen_ago: float, lifetime: int = 60) -> dict[str, Any]:
    seen = (NOW - dt.timedelta(seconds=seen_ago)).isoformat()
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen}


@pytest.mark.parametrize(
    ("peers", "standby"),
    [
        ({}, False),  # alone
        ({"me": peer(OWN, 1)}, False),  # only ourselves
        ({"me": peer(OWN, 1), "older": peer(OWN + 5, 10)}, True),  # an older pod acts
        ({"me": peer(OWN, 1), "newer": peer(OWN - 5, 10)}, False),  # we are the older one
        ({"me": peer(OWN, 1), "older": peer(OWN + 5, 61)}, False),  # the older one is dead
        ({"me": peer(OWN, 1), "older": peer(OWN + 5, 200, lifetime=300)}, True),
        ({"me": peer(OWN, 1), "junk": {"priority": "x"}, "bad": "text"}, False),
    ],
)
def test_an_operator_stands_by_while_a_live_peer_of_higher_priority_holds_the_peering(
    peers: dict[str, Any], standby: bool
) -> None:
    assert standing_by(peers, OWN, NOW) is standby


@pytest.mark.parametrize(
    ("started", "indexed", "standby", "ready", "says"),
    [
        (False, False, None, False, "starting"),
        (True, False, None, False, "waiting for kopf to list"),
        (True, False, False, False, "waiting for kopf to list"),
        (True, False, True, True, "ok: standing by"),
        (True, True, None, True, "ok: indexes populated"),
        (True, True, True, True, "ok: indexes populated"),
    ],
)
def test_ready_when_acting_with_indexes_or_standing_by(
    started: bool, indexed: bool, standby: bool | None, ready: bool, says: str
) -> None:
    report = readiness_report(started, indexed, standby)
    assert (report.ready, report.reason.startswith(says)) == (ready, True)


def test_the_peering_is_read_at_most_once_per_ttl_and_a_failure_is_unknown() -> None:
    reads: list[int] = []

    def peers() -> dict[str, Any]:
        reads.append(1)
        if len(reads) > 1:
            raise RuntimeError("API down")
        return {
            "older": {
                "priority": OWN + 1,
                "lifetime": 60,
                "lastseen": dt.datetime.now(dt.UTC).isoformat(),
            }
        }

    readiness = Readiness("http://127.0.0.1:1/readyz", OWN, peers, ttl=3600)
    readiness.started = True
    assert readiness.report().ready
    assert readiness.report().ready
    assert len(reads) == 1
    readiness = Readiness("http://127.0.0.1:1/readyz", OWN, peers, ttl=0)
    readiness.started = True
    assert not readiness.report().ready  # the read failed: not known to stand by


async def test_readyz_answers_503_until_the_indexes_are_populated() -> None:
    port = free_port("127.0.0.1")
    readiness = Readiness(f"http://127.0.0.1:{port}/readyz", OWN, lambda: None)
    cleanup = await serve(readiness)
    try:
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{port}/readyz"
            readiness.started = True
            answer = await http.get(url)
            assert (answer.status_code, answer.text) == (
                503,
                "waiting for kopf to list Nodes, Replicas and Pods\n",
            )
            readiness.indexed = True
            answer = await http.get(url)
            assert (answer.status_code, answer.text) == (200, "ok: indexes populated\n")
    finally:
        await cleanup()


async def test_a_readiness_url_that_is_not_http_host_port_is_refused() -> None:
    with pytest.raises(ValueError, match="--readiness wants http://HOST:PORT/PATH"):
        await serve(Readiness("tcp://0.0.0.0/readyz", OWN, lambda: None))
