"""The Agent API over real HTTP on loopback: values, errors, limits, metrics, stats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from statecast.agent.config import AgentConfig, Limits, ResourceSpec
from statecast.agent.httpserver import Request
from statecast.agent.runtime import Agent
from statecast.agent.server import AgentApi, build_server


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[Agent, str, aiohttp.ClientSession]]:
    config = AgentConfig(
        node="n1",
        data_dir=tmp_path,
        limits=Limits(max_key_bytes=16, max_value_bytes=64),
        resources=(
            ResourceSpec(namespace="default", name="flags"),
            ResourceSpec(namespace="default", name="sessions", merge="multi-value"),
            ResourceSpec(namespace="default", name="ledger", consistency="strong"),
        ),
    )
    node = Agent(config)
    node.load_standalone()
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    async with aiohttp.ClientSession() as session:
        yield node, f"http://127.0.0.1:{server.port}", session
    await server.close()
    await node.stop()


async def call(session, method, url, body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    async with session.request(method, url, data=data, headers=headers) as response:
        return response.status, await response.read(), response.headers


async def test_put_then_get_returns_the_value_served_locally(agent):
    _, base, session = agent
    status, body, _ = await call(session, "PUT", f"{base}/v1/default/flags/beta", {"on": True})
    assert status == 200
    assert json.loads(body)["seq"] == 1
    status, body, headers = await call(session, "GET", f"{base}/v1/default/flags/beta")
    assert (status, json.loads(body), headers["Statecast-Served"]) == (200, {"on": True}, "local")


async def test_delete_then_get_is_not_found(agent):
    _, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/k", 1)
    assert (await call(session, "DELETE", f"{base}/v1/default/flags/k"))[0] == 200
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags/k")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "key_not_found"


async def test_increment_counts_and_the_map_lists_everything(agent):
    _, base, session = agent
    await call(session, "POST", f"{base}/v1/default/flags/hits/increment", {"by": 2})
    status, body, _ = await call(
        session, "POST", f"{base}/v1/default/flags/hits/increment", {"by": 5}
    )
    assert json.loads(body)["value"] == 7
    await call(session, "PUT", f"{base}/v1/default/flags/name", "x")
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags")
    assert (status, json.loads(body)) == (200, {"hits": 7, "name": "x"})


async def test_multi_value_resource_answers_one_value_when_there_is_one(agent):
    _, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/sessions/s1", {"user": "u"})
    status, body, headers = await call(session, "GET", f"{base}/v1/default/sessions/s1")
    assert (status, json.loads(body)) == (200, {"user": "u"})
    assert "Statecast-Siblings" not in headers


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/v1/default/flags/k", b"{not json", 400, "malformed_json"),
        ("PUT", "/v1/default/flags/k", b"NaN", 400, "malformed_json"),
        ("PUT", "/v1/default/flags/" + "k" * 17, b"1", 400, "key_too_long"),
        ("PUT", "/v1/default/flags/k", json.dumps("x" * 100).encode(), 413, "too_large"),
        ("GET", "/v1/default/nothing/k", None, 404, "unknown_resource"),
        ("PUT", "/v1/default/nothing/k", b"1", 404, "unknown_resource"),
        ("POST", "/v1/default/flags/text/increment", b'{"by": 1}', 409, "conflict"),
        ("POST", "/v1/default/flags/c/increment", b'{"by": "many"}', 400, "bad_increment"),
        ("POST", "/v1/default/flags/c/increment", b'{"by": true}', 400, "bad_increment"),
        ("PUT", "/v1/default/ledger/k", b"1", 503, "no_leader"),
        ("DELETE", "/v1/default/flags/missing", None, 404, "not_found"),
        (
            "POST",
            "/v1/peer/push/default/flags",
            b'{"from": "stranger", "first": 1, "last": 1, "entries": {}}',
            403,
            "unknown_peer",
        ),
        ("POST", "/v1/peer/sync/default/flags", b'{"from": "n9"}', 400, "bad_request"),
        ("POST", "/v1/peer/sync/default/flags", b"[", 400, "bad_request"),
        ("GET", "/nowhere", None, 404, "not_found"),
        ("GET", "/v1/default/flags/%ff", None, 400, "bad_request"),
        ("PATCH", "/v1/default/flags/k", b"1", 405, "method_not_allowed"),
    ],
)
async def test_bad_input_gets_a_json_error_and_changes_nothing(
    agent, method, path, body, status, code
):
    node, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/text", "hello")
    before = {ref: s.version_vector for ref, s in node.stores.items()}
    got_status, got_body, _ = await call(session, method, base + path, body)
    assert got_status == status
    assert json.loads(got_body)["error"]["code"] == code
    assert {ref: s.version_vector for ref, s in node.stores.items()} == before


async def test_a_replica_id_that_does_not_belong_is_refused(agent):
    node, base, session = agent
    node.directory.set("n2", "http://127.0.0.9:1")  # known agent, but no replica of flags
    body = {"from": "n2", "first": 1, "last": 1, "entries": {}}
    status, reply, _ = await call(session, "POST", f"{base}/v1/peer/push/default/flags", body)
    assert status == 403
    assert json.loads(reply)["error"]["code"] == "replica_does_not_belong"


async def test_accesses_are_counted_in_stats_and_metrics(agent):
    _, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/a", 1)
    for _ in range(3):
        await call(session, "GET", f"{base}/v1/default/flags/a")
    _, body, _ = await call(session, "GET", f"{base}/v1/stats")
    stats = json.loads(body)
    rows = {(r["resource"], r["operation"], r["served"]): r["count"] for r in stats["accesses"]}
    assert rows[("flags", "get", "local")] == 3
    assert rows[("flags", "put", "local")] == 1
    flags = next(r for r in stats["replicas"] if r["resource"] == "flags")
    (origin,) = flags["versionVector"]  # this copy's replica id: n1#<token>
    assert flags["versionVector"] == {origin: 1} and origin.startswith("n1#")
    assert stats["peers"] == []  # no round trip measured yet
    _, metrics, _ = await call(session, "GET", f"{base}/metrics")
    line = (
        'statecast_agent_accesses_total{namespace="default",node="n1",operation="get",'
        'resource="flags",served="local"} 3.0'
    )
    assert line in metrics.decode()


async def test_stats_carry_the_round_trips_measured_to_peers(agent):
    node, base, session = agent
    node.directory.set("n2", "http://127.0.0.9:1")
    node.directory.set("n3", "http://127.0.0.9:2")
    node.directory.observe_rtt("n2", 0.003)
    _, body, _ = await call(session, "GET", f"{base}/v1/stats")
    assert json.loads(body)["peers"] == [{"node": "n2", "rttSeconds": 0.003}]


async def test_answers_are_counted_by_route_and_status_with_their_latency(agent):
    _, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/a", 1)
    await call(session, "GET", f"{base}/v1/default/flags/a")
    await call(session, "GET", f"{base}/v1/default/flags/missing")
    await call(session, "PUT", f"{base}/v1/default/ledger/a", 1)  # strong: 503
    _, metrics, _ = await call(session, "GET", f"{base}/metrics")
    text = metrics.decode()
    for line in (
        'statecast_agent_responses_total{code="200",route="put"} 1.0',
        'statecast_agent_responses_total{code="200",route="get"} 1.0',
        'statecast_agent_responses_total{code="404",route="get"} 1.0',
        'statecast_agent_responses_total{code="503",route="put"} 1.0',
        'statecast_agent_request_seconds_count{route="get"} 2.0',
        'statecast_agent_request_seconds_bucket{le="+Inf",route="put"} 2.0',
    ):
        assert line in text
    assert "# TYPE statecast_agent_forward_failures_total counter" in text
    assert "# TYPE statecast_agent_syncing_answers_total counter" in text


async def test_health_and_readiness(agent):
    _, base, session = agent
    assert (await call(session, "GET", f"{base}/healthz"))[0] == 200
    assert (await call(session, "GET", f"{base}/readyz"))[0] == 200


async def test_keys_are_percent_decoded_so_any_character_round_trips(agent):
    node, base, session = agent
    status, _, _ = await call(session, "PUT", f"{base}/v1/default/flags/a%2Fb%20c", "x")
    assert status == 200
    assert node.stores["default", "flags"].get("a/b c") == b'"x"'
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags/a%2Fb%20c")
    assert (status, json.loads(body)) == (200, "x")


async def test_method_not_allowed_names_the_allowed_ones(agent):
    _, base, session = agent
    status, _, headers = await call(session, "POST", f"{base}/v1/default/flags/k")
    assert (status, headers["Allow"]) == (405, "DELETE, GET, PUT")


async def test_valid_requests_count_as_demand_whatever_their_outcome(agent):
    node, base, session = agent
    await call(session, "GET", f"{base}/v1/default/flags/missing")  # 404, still demand
    await call(session, "DELETE", f"{base}/v1/default/flags/missing")  # 404, still demand
    await call(session, "PUT", f"{base}/v1/default/flags/k", b"{bad")  # invalid: not counted
    counts = {(r["operation"], r["served"]): r["count"] for r in node.access.snapshot()}
    assert counts == {("get", "local"): 1, ("delete", "local"): 1}


async def test_a_replica_still_catching_up_sends_reads_to_a_peer(agent):
    node, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/k", 1)
    store = node.stores["default", "flags"]
    node.directory.set("n2", "http://127.0.0.9:9")  # a peer holding a replica, unreachable
    node.locations["default", "flags"] = ("n1", "n2")
    store.serving = False
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags/k")
    assert (status, json.loads(body)["error"]["code"]) == (503, "no_replica"), "not served here"
    status, body, _ = await call(
        session, "GET", f"{base}/v1/default/flags/k", headers={"Statecast-Forwarded-By": "n2"}
    )
    assert (status, json.loads(body)["error"]["code"]) == (503, "replica_syncing")
    node.locations["default", "flags"] = ("n1",)  # alone, and not caught up yet: retry later
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags/k")
    assert (status, json.loads(body)["error"]["code"]) == (503, "replica_syncing")
    store.serving = True
    status, _, headers = await call(session, "GET", f"{base}/v1/default/flags/k")
    assert (status, headers["Statecast-Served"]) == (200, "local")


# --- hostile input (issue 15) ---------------------------------------------------------


@pytest.fixture
async def roomy(tmp_path: Path) -> AsyncIterator[tuple[Agent, str, aiohttp.ClientSession]]:
    """An agent with the default limits (1 MiB values) and one eventual resource."""
    config = AgentConfig(
        node="n1", data_dir=tmp_path, resources=(ResourceSpec(namespace="default", name="flags"),)
    )
    node = Agent(config)
    node.load_standalone()
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    async with aiohttp.ClientSession() as session:
        yield node, f"http://127.0.0.1:{server.port}", session
    await server.close()
    await node.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/v1/default/flags/k", b"[" * 100_000, 400, "too_deep"),
        ("PUT", "/v1/default/flags/k", b"[" * 65 + b"]" * 65, 400, "too_deep"),
        ("PUT", "/v1/default/flags/k", b'{"a":' * 65 + b"1" + b"}" * 65, 400, "too_deep"),
        ("POST", "/v1/default/flags/c/increment", b"[" * 100_000, 400, "too_deep"),
        (
            "POST",
            "/v1/default/flags/c/increment",
            b'{"by": 1, "x": ' + b"[" * 100_000,
            400,
            "too_deep",
        ),
        ("PUT", "/v1/default/flags/", b"1", 400, "bad_key"),
        ("GET", "/v1/default/flags/", None, 400, "bad_key"),
        ("DELETE", "/v1/default/flags/", None, 400, "bad_key"),
        ("POST", "/v1/default/flags//increment", b'{"by": 1}', 400, "bad_key"),
        ("PUT", "/v1/default/flags/a%00b", b"1", 400, "bad_key"),
        ("PUT", "/v1/default/flags/a%0Ab", b"1", 400, "bad_key"),
        ("PUT", "/v1/default/flags/k", b"[" + b"1," * 600_000 + b"1]", 413, "too_large"),
    ],
)
async def test_hostile_values_and_keys_get_a_json_error_and_change_nothing(
    roomy, method, path, body, status, code
):
    node, base, session = roomy
    await call(session, "PUT", f"{base}/v1/default/flags/text", "hello")
    before = {ref: s.version_vector for ref, s in node.stores.items()}
    got_status, got_body, _ = await call(session, method, base + path, body)
    assert (got_status, json.loads(got_body)["error"]["code"]) == (status, code)
    assert {ref: s.version_vector for ref, s in node.stores.items()} == before
    assert dict(node.stores["default", "flags"].state.items()) == {"text": b'"hello"'}


async def test_a_value_nested_to_the_limit_is_stored(roomy):
    _, base, session = roomy
    value = b"[" * 64 + b'"[[[["' + b"]" * 64  # brackets inside a string do not count
    assert (await call(session, "PUT", f"{base}/v1/default/flags/k", value))[0] == 200
    status, body, _ = await call(session, "GET", f"{base}/v1/default/flags/k")
    assert (status, body) == (200, value)


async def test_an_application_body_over_the_value_limit_is_refused_from_its_head(roomy):
    _, base, _ = roomy
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    # 2 MiB declared (under the 256 MiB peer limit), none of it sent: the answer comes
    writer.write(b"PUT /v1/default/flags/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 413")
    writer.close()


def _api_request(method: str, path: str, remote: str, forwarded: bool) -> Request:
    headers = {"statecast-forwarded-by": "n2"} if forwarded else {}
    return Request(method, path, headers, b"", remote)


async def test_a_forwarded_by_header_from_a_non_peer_is_still_counted_as_demand(roomy):
    node, _, _ = roomy
    node.directory.set("n2", "http://10.0.0.2:7420")
    api = AgentApi(node)
    api(_api_request("GET", "/v1/default/flags/k", "10.0.0.66:40000", forwarded=True))
    api(_api_request("GET", "/v1/default/flags/k", "10.0.0.2:40000", forwarded=True))
    api(_api_request("GET", "/v1/default/flags/k", "10.0.0.66:40001", forwarded=False))
    counts = {(r["operation"], r["served"]): r["count"] for r in node.access.snapshot()}
    assert counts == {("get", "local"): 2}  # the peer's forward is not demand here


@pytest.mark.parametrize(
    ("peer", "header", "believed"),
    [
        ("n2.agent.statecast", "n2", True),
        # an agent's certificate speaking for another node (issue 15: per-node identity)
        ("n3.agent.statecast", "n2", False),
        ("operator.statecast", "n2", False),
        (None, "n2", False),  # the application listener: no certificate
    ],
)
def test_with_tls_a_forwarded_by_header_is_believed_only_from_the_node_it_names(
    peer, header, believed
):
    from statecast.agent.directory import PeerDirectory
    from statecast.agent.trust import forwarded_by_peer
    from statecast.pki.contexts import TlsMaterial

    directory = PeerDirectory("n1", tls=TlsMaterial())
    directory.set("n2", "https://10.0.0.2:7421")
    directory.set("n3", "https://10.0.0.3:7421")
    request = Request(
        "GET", "/v1/default/flags/k", {"statecast-forwarded-by": header}, b"", "10.0.0.3:1", peer
    )
    assert forwarded_by_peer(request, "statecast-forwarded-by", directory) is believed


async def test_a_log_write_held_up_by_the_kernel_stalls_its_writer_and_its_key_not_the_loop(
    agent, monkeypatch
):
    """The log's write(2) runs off the event loop: while the kernel holds it (page
    writeback of a snapshot), reads of other keys are answered; the write is answered,
    and its key read, only once its record is written."""
    import os
    import threading

    node, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/other", 1)
    files = node.stores["default", "flags"].files
    assert files is not None
    release, real_write = threading.Event(), os.write

    def held_write(fd: int, data: bytes) -> int:
        if fd == files._fd and threading.current_thread() is not threading.main_thread():
            release.wait(30)  # the kernel holding the log's write
        elif fd == files._fd:
            release.wait(2)  # (before: on the loop itself; give up so the test ends)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", held_write)
    order: list[str] = []

    async def request(name: str, method: str, key: str, body: object = None) -> None:
        status, _, _ = await call(session, method, f"{base}/v1/default/flags/{key}", body)
        order.append(f"{name} {status}")

    put = asyncio.create_task(request("put", "PUT", "k", 2))
    await asyncio.sleep(0.2)
    read_k = asyncio.create_task(request("get k", "GET", "k"))
    await request("get other", "GET", "other")
    order.append("released")
    release.set()
    await asyncio.gather(put, read_k)
    assert order[:2] == ["get other 200", "released"]
    assert sorted(order[2:]) == ["get k 200", "put 200"]


async def test_a_full_sync_of_a_large_map_is_encoded_while_reads_are_answered(agent, monkeypatch):
    """A new copy's full sync of a large map is encoded a step per loop turn, on the loop:
    the node's readers are answered between the steps (before: in a worker thread,
    whose hold of the interpreter lock made each of the loop's callbacks wait for it)."""
    from statecast.agent import server as server_module
    from statecast.agent.wire import decode_sync_reply, encode_sync_request

    node, base, session = agent
    store = node.stores["default", "flags"]
    for i in range(20000):  # more than a full sync encodes at once
        store.put_now(f"k{i}", b"1")
    node.directory.set("n2", "http://127.0.0.1:9")
    node.locations["default", "flags"] = ("n1", "n2")
    # two kept-alive connections in the pool: the read below needs loop turns only, not
    # a new connection's handshake (a full unit run at load 7-8 once had 300 turns end first)
    await asyncio.gather(*(call(session, "GET", f"{base}/v1/default/flags/k1") for _ in range(2)))
    monkeypatch.setattr(server_module, "_ENCODE_TURN", 0.0)  # one step a turn
    monkeypatch.setattr(server_module, "_ENCODE_BATCH", 16)  # ~1,250 steps
    real = server_module.sync_reply_steps
    order: list[str] = []
    reads: list[asyncio.Task[None]] = []

    async def read() -> None:
        status, _, _ = await call(session, "GET", f"{base}/v1/default/flags/k1")
        order.append(f"read {status}")

    def steps(*args: Any, **kwargs: Any) -> Generator[None, None, list[bytes]]:
        reads.append(asyncio.get_running_loop().create_task(read()))  # the sync has begun
        pieces = yield from real(*args, **kwargs)
        order.append("encoded")
        return pieces

    monkeypatch.setattr(server_module, "sync_reply_steps", steps)
    ask = encode_sync_request("n2", {})
    status, body, _ = await call(session, "POST", f"{base}/v1/peer/sync/default/flags", ask)
    await asyncio.gather(*reads)
    assert status == 200
    assert order == ["read 200", "encoded"]
    reply = decode_sync_reply(body)
    assert reply.payload.full
    assert len(reply.payload.entries) == 20000


async def test_full_syncs_in_progress_share_one_encoding_budget_per_loop_turn(agent, monkeypatch):
    """Two new copies' full syncs at once: the steps encoded in one loop turn, over both,
    stay within the turn's budget (each gets one a turn at least). Before, each answer
    had a budget of its own, so N syncs made N times the work in a turn (here, with a
    time budget that never binds, every step of an answer in one turn)."""
    from statecast.agent import server as server_module
    from statecast.agent.wire import decode_sync_reply, encode_sync_request

    node, base, session = agent
    store = node.stores["default", "flags"]
    for i in range(6000):
        store.put_now(f"k{i}", b"1")
    for peer in ("n2", "n3"):
        node.directory.set(peer, "http://127.0.0.1:9")
    node.locations["default", "flags"] = ("n1", "n2", "n3")
    monkeypatch.setattr(server_module, "_ENCODE_TURN", 3600.0)  # steps alone bound a turn
    loop = asyncio.get_running_loop()
    turn, ticking = [0], [True]

    def tick() -> None:  # once every loop turn
        turn[0] += 1
        if ticking[0]:
            loop.call_soon(tick)

    real = server_module.sync_reply_steps
    steps_in: dict[int, int] = {}

    def counted(*args: Any, **kwargs: Any) -> Generator[None, None, list[bytes]]:
        inner = real(*args, **kwargs)
        while True:
            try:
                next(inner)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            steps_in[turn[0]] = steps_in.get(turn[0], 0) + 1
            yield

    monkeypatch.setattr(server_module, "sync_reply_steps", counted)
    loop.call_soon(tick)
    try:
        answers = await asyncio.gather(
            *(
                call(session, "POST", f"{base}/v1/peer/sync/default/flags", ask)
                for ask in (encode_sync_request("n2", {}), encode_sync_request("n3", {}))
            )
        )
    finally:
        ticking[0] = False
    for status, body, _ in answers:
        assert status == 200
        assert len(decode_sync_reply(body).payload.entries) == 6000
    assert sum(steps_in.values()) >= 2 * (6000 // 256)
    assert max(steps_in.values()) <= server_module._ENCODE_STEPS + 1


async def _raw_get(base: str, head: bytes) -> bytes:
    """One request's answer, head and body, over a connection of its own."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head)
    answer = await reader.readuntil(b"\r\n\r\n")
    length = int(answer.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    answer += await reader.readexactly(length)
    writer.close()
    return answer


async def test_a_plain_get_is_answered_without_the_parser_as_the_route_answers_it(agent):
    """A plain GET (HTTP/1.1, Host and the like) of a local key is answered by the fast
    path; byte for byte what the general route answers, and counted the same way."""
    node, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/k", {"on": True})
    api = AgentApi(node)
    assert api.fast_get(b"/v1/default/flags/k") is not None  # (before: no such path)
    counted = (
        node.requests.responses["get", 200],
        node.access.counts["default", "flags", "get", "local"],
    )
    plain = b"GET /v1/default/flags/k HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"
    general = b"GET /v1/default/flags/k HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\n\r\n"
    assert await _raw_get(base, plain) == await _raw_get(base, general)
    assert (await _raw_get(base, plain)).endswith(b'\r\n\r\n{"on": true}')
    after = (
        node.requests.responses["get", 200],
        node.access.counts["default", "flags", "get", "local"],
    )
    assert (after[0] - counted[0], after[1] - counted[1]) == (3, 3)


@pytest.mark.parametrize(
    ("target", "why"),
    [
        (b"/v1/default/flags/missing", "not found: the route's 404"),
        (b"/v1/default/flags/hits", "a counter"),
        (b"/v1/default/flags/%6b", "percent-encoded"),
        (b"/v1/default/flags/k?x=1", "a query"),
        (b"/v1/default/flags/k x", "a space: malformed"),
        (b"/v1/default/nothing/k", "an unknown resource"),
        (b"/v1/default/ledger/k", "a strong resource"),
        (b"/v1/default/flags/" + b"k" * 17, "a key over the limit"),
        (b"/v1/default/flags", "the map"),
        (b"/v1/peer/ping", "not a key"),
    ],
)
async def test_the_fast_path_leaves_everything_else_to_the_route(agent, target, why):
    node, base, session = agent
    await call(session, "PUT", f"{base}/v1/default/flags/k", 1)
    await call(session, "POST", f"{base}/v1/default/flags/hits/increment", {"by": 1})
    assert AgentApi(node).fast_get(target) is None, why


async def test_a_plain_get_while_the_server_closes_is_answered_with_connection_close(
    tmp_path: Path,
) -> None:
    """The usual way says ``Connection: close`` once the server is closing; so does a
    plain GET (before: the fast path answered it as kept alive)."""
    config = AgentConfig(
        node="n1", data_dir=tmp_path, resources=(ResourceSpec(namespace="default", name="flags"),)
    )
    node = Agent(config)
    node.load_standalone()
    server = build_server(node)
    await server.start("127.0.0.1", 0)
    await node.start()
    try:
        store = node.stores["default", "flags"]
        store.put_now("k", b"1")
        for _ in range(500):  # its log batch written (else the usual way answers it)
            if store.unwritten("k") is None:
                break
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        plain = b"GET /v1/default/flags/k HTTP/1.1\r\nHost: x\r\n\r\n"
        for closing in (False, True):
            server.closing = closing
            writer.write(plain)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert (b"connection: close" in head.lower()) == closing
            assert await reader.readexactly(1) == b"1"
        writer.close()
    finally:
        server.closing = False
        await server.close()
        await node.stop()
