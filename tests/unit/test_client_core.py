"""The client's sans-I/O core as table tests: which agent next, and what each outcome means."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from statecast.client import Client, NotFoundError, RequestError, UnavailableError
from statecast.client.core import (
    PEERS_CALL,
    Call,
    ClientCore,
    Failed,
    Failure,
    GarbledAnswerError,
    Response,
    delete_call,
    get_call,
    increment_call,
    put_call,
)

A, B, C = "http://a:7420", "http://b:7420", "http://c:7420"
PEERS = json.dumps({"peers": [{"url": C, "rttSeconds": 0.002}]}).encode()


def answer(status: int, body: Any = "v", served: str = "local") -> Response:
    return Response(status, json.dumps(body).encode(), served)


def refused() -> Failed:
    return Failed(Failure.NOT_SENT, ConnectionRefusedError("refused"))


def reset() -> Failed:
    return Failed(Failure.MAYBE_SENT, ConnectionResetError("reset"))


def drive(
    core: ClientCore, call: Call[Any], outcomes: list[Response | Failed]
) -> tuple[Any, list[str]]:
    """Run ``call`` with the scripted outcomes; the result (or the error) and the trips made."""
    attempt = core.attempt(call)
    trips: list[str] = []
    script = iter(outcomes)
    while (trip := attempt.next_trip()) is not None:
        trips.append(f"{trip.method} {trip.url}{trip.path}")
        attempt.outcome(next(script))
    try:
        return attempt.result(), trips
    except RequestError as err:
        return err, trips


GET = get_call("ns", "flags", "beta")
INCREMENT = increment_call("ns", "hits", "total", 2)


@pytest.mark.parametrize(
    ("sentence", "call", "outcomes", "result", "trips"),
    [
        ("the first agent's answer is the result", GET, [answer(200, "on")], "on", [A]),
        ("a refused agent is passed for the next", GET, [refused(), answer(200)], "v", [A, B]),
        ("a reset agent is passed for the next on a read", GET,
         [reset(), answer(200)], "v", [A, B]),
        ("an increment that may have arrived is never sent twice", INCREMENT,
         [reset()], UnavailableError, [A]),
        ("an increment that never arrived goes to the next agent", INCREMENT,
         [refused(), answer(200, {"value": 5})], 5, [A, B]),
        ("a 503 (nothing applied) asks the next agent", GET,
         [answer(503), answer(200)], "v", [A, B]),
        ("when every agent answers 503, that 503 is the error", GET,
         [answer(503), answer(503)], UnavailableError, [A, B]),
        ("an increment's 503 is raised at once", INCREMENT, [answer(503)], UnavailableError, [A]),
        ("a 404 is the caller's answer, not a reason to ask elsewhere", GET,
         [answer(404)], NotFoundError, [A]),
        ("a status the call takes as an answer is read, not raised",
         GET._replace(ok_statuses=frozenset({404}), read=lambda r: r.status),
         [answer(404)], 404, [A]),
        ("no agent reachable at all is unavailable", GET, [refused(), refused()],
         UnavailableError, [A, B]),
    ],
)  # fmt: skip
def test_one_attempt_walks_the_agents_by_the_table(
    sentence: str, call: Call[Any], outcomes: list[Response | Failed], result: Any, trips: list[str]
) -> None:
    core = ClientCore([A, B], discover_peers=False)
    got, made = drive(core, call, outcomes)
    if isinstance(result, type):
        assert isinstance(got, result), sentence
    else:
        assert got == result, sentence
    assert [t.split(" ")[1].removesuffix(call.path) for t in made] == trips, sentence


def test_an_agent_that_failed_is_tried_last_until_its_cooldown_ends() -> None:
    core = ClientCore([A, B], discover_peers=False)
    drive(core, GET, [refused(), answer(200)])
    _, trips = drive(core, GET, [answer(200)])
    assert trips == [f"GET {B}{GET.path}"]


def test_the_first_agent_that_answers_is_asked_for_its_peers_once() -> None:
    core = ClientCore([A], discover_peers=True)
    got, trips = drive(core, GET, [answer(200, "on"), Response(200, PEERS)])
    assert got == "on"
    assert trips == [f"GET {A}{GET.path}", f"GET {A}{PEERS_CALL.path}"]
    assert core.endpoints.order() == [A, C]
    _, again = drive(core, GET, [refused(), answer(200)])
    assert again == [f"GET {A}{GET.path}", f"GET {C}{GET.path}"], "the peer is the failover"


@pytest.mark.parametrize(
    ("sentence", "peers_outcome"),
    [
        ("a failed peers request counts as no peers", refused()),
        ("an error answer counts as no peers", Response(500, b"oops")),
        ("an unreadable answer counts as no peers", Response(200, b"not json")),
    ],
)
def test_peers_that_cannot_be_learned_are_not_asked_for_again(
    sentence: str, peers_outcome: Response | Failed
) -> None:
    core = ClientCore([A], discover_peers=True)
    got, _ = drive(core, GET, [answer(404), peers_outcome])
    assert isinstance(got, NotFoundError), "the answer held while asking still decides"
    assert core.endpoints.peers_known and core.endpoints.order() == [A], sentence
    assert core.endpoints.order() == [A]


def test_a_write_is_encoded_once_and_served_is_remembered() -> None:
    core = ClientCore([A], discover_peers=False)
    call = put_call("ns", "flags", "banner", {"text": "spring sale"})
    assert call.body == b'{"text":"spring sale"}'
    got, _ = drive(core, call, [answer(200, {"version": "1.0.a", "seq": 1}, served="remote")])
    assert got == {"version": "1.0.a", "seq": 1}
    assert core.last_served == "remote"


def test_a_garbled_siblings_header_is_a_transport_error() -> None:
    headers = {"statecast-siblings": "many"}
    with pytest.raises(GarbledAnswerError):
        Response.of(200, b"[]", headers.get)
    assert Response.of(200, b"[]", {"statecast-siblings": "2"}.get).siblings == 2


class RendezvousAgent:
    """An agent stand-in that answers no request until ``parties`` requests are in flight.

    A client that holds a lock across its round trips can never have two in flight: the
    rendezvous then times out and every request gets a 500.
    """

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536).find(b"\r\n\r\n") < 0:
                pass
            try:
                self.barrier.wait()
                status, body = "200 OK", b'"together"'
            except threading.BrokenBarrierError:
                status, body = "500 Internal Server Error", b'"alone"'
            head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
            conn.sendall(head.encode() + b"\r\n" + body)


@pytest.fixture
def rendezvous() -> Iterator[RendezvousAgent]:
    agent = RendezvousAgent(parties=2)
    yield agent
    agent.sock.close()


def test_a_shared_blocking_client_has_requests_of_many_threads_in_flight_at_once(
    rendezvous: RendezvousAgent,
) -> None:
    client = Client([rendezvous.url], discover_peers=False)
    results: list[Any] = []

    def read() -> None:
        try:
            results.append(client.get("ns", "flags", "beta"))
        except RequestError as err:
            results.append(err)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["together", "together"]


class EchoAgent:
    """Answers every request with its ``X-Ask`` header as ``Statecast-Version``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            asked = next(
                (line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                 if line.lower().startswith(b"x-ask:")),
                b"none",
            )  # fmt: skip
            body = b'"v"'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nStatecast-Version: " + asked
                + b"\r\nContent-Length: 3\r\nConnection: close\r\n\r\n" + body
            )  # fmt: skip


def test_a_call_sends_its_headers_and_reads_the_version_stamp() -> None:
    agent = EchoAgent()
    call = get_call("ns", "flags", "beta")
    asking = call._replace(headers=(("X-Ask", "1764300000123.0.n1"),), read=lambda r: r.version)
    try:
        assert Client([agent.url], discover_peers=False).call(asking) == "1764300000123.0.n1"
    finally:
        agent.sock.close()


def _error(status: int, code: str) -> Response:
    return Response(status, json.dumps({"error": {"code": code, "message": code}}).encode())


def test_a_write_that_may_have_arrived_somewhere_is_never_called_refused() -> None:
    core = ClientCore([A, B], discover_peers=False)
    got, _ = drive(core, INCREMENT, [reset()])
    assert isinstance(got, UnavailableError) and got.code == "outcome_unknown"
    got, _ = drive(core, GET, [refused(), refused()])
    assert isinstance(got, UnavailableError) and got.code == "no_agent"
    got, trips = drive(core, INCREMENT, [_error(503, "outcome_unknown")])
    assert got.code == "outcome_unknown" and len(trips) == 1  # never resent


PUT = put_call("ns", "flags", "beta", 1)


@pytest.mark.parametrize(
    ("sentence", "call", "outcomes", "result", "trips"),
    [
        ("an increment refused by a syncing replica goes to the next agent", INCREMENT,
         [_error(503, "replica_syncing"), answer(200, {"value": 3})], 3, [A, B]),
        ("a write that must not be sent twice, refused without a leader, goes on",
         PUT._replace(retry=False), [_error(503, "no_leader"), answer(200, {})], {}, [A, B]),
        ("a 503 of a code not known to apply nothing ends such a call", INCREMENT,
         [_error(503, "who_knows"), answer(200, {"value": 3})], UnavailableError, [A]),
        ("outcome_unknown ends it", INCREMENT,
         [_error(503, "outcome_unknown"), answer(200, {"value": 3})], UnavailableError, [A]),
        ("a PUT that may have arrived is not called refused by the next agent's 503", PUT,
         [reset(), _error(503, "no_leader")], "outcome_unknown", [A, B]),
        ("a PUT never sent anywhere is refused as the agents said", PUT,
         [refused(), _error(503, "no_leader")], "no_leader", [A, B]),
    ],
)  # fmt: skip
def test_a_503_that_proves_nothing_was_applied_sends_any_call_on(
    sentence: str, call: Call[Any], outcomes: list[Response | Failed], result: Any, trips: list[str]
) -> None:
    core = ClientCore([A, B], discover_peers=False)
    got, made = drive(core, call, outcomes)
    if isinstance(result, str):
        assert isinstance(got, UnavailableError) and got.code == result, sentence
    elif isinstance(result, type):
        assert isinstance(got, result), sentence
    else:
        assert got == result, sentence
    assert [t.split(" ")[1].removesuffix(call.path) for t in made] == trips, sentence


def test_a_strong_resources_leader_is_learned_and_tried_first_until_it_refuses() -> None:
    core = ClientCore([A, B], discover_peers=False)
    forwarded = Response(200, b'"v"', "remote", 1, None, C)
    drive(core, GET, [forwarded])
    _, trips = drive(core, GET, [answer(200)])
    assert trips[0].startswith(f"GET {C}/v1/ns/flags")
    _, trips = drive(core, GET, [_error(503, "not_leader"), answer(200)])
    _, trips = drive(core, GET, [answer(200)])
    assert trips[0].startswith(f"GET {A}")  # forgotten once it said it is not the leader


@pytest.mark.parametrize(
    ("sentence", "call", "first", "marked"),
    [
        ("a named PUT sent on after a reset says it may have been applied", PUT, reset(), True),
        ("a named DELETE likewise", delete_call("ns", "flags", "beta"), reset(), True),
        ("never sent: nothing to say", PUT, refused(), False),
        ("a GET is not a write", GET, reset(), False),
    ],
)  # fmt: skip
def test_a_named_write_sent_on_says_it_may_have_been_applied_somewhere(
    sentence: str, call: Call[Any], first: Failed, marked: bool
) -> None:
    attempt = ClientCore([A, B], discover_peers=False).attempt(call)
    trip = attempt.next_trip()
    assert trip is not None and ("Statecast-Maybe-Applied-At", "*") not in trip.headers
    attempt.outcome(first)
    trip = attempt.next_trip()
    assert trip is not None and trip.url == B
    assert (("Statecast-Maybe-Applied-At", "*") in trip.headers) == marked, sentence


def test_a_named_write_sent_on_names_the_agents_it_tried_beside_the_star() -> None:
    # session 12: "*" stays (an agent of before asks every replica), the agents the write
    # may have reached beside it, once their nodes are known (GET /v1/agents)
    core = ClientCore([A, B], discover_peers=False)
    core.learned(answer(200, {"node": "node-a", "peers": [{"node": "node-b", "url": B}]}), A)
    attempt = core.attempt(PUT)
    attempt.next_trip()
    attempt.outcome(reset())
    trip = attempt.next_trip()
    assert trip is not None and trip.url == B
    assert ("Statecast-Maybe-Applied-At", "*") in trip.headers
    assert ("Statecast-Tried-Agents", "node-a") in trip.headers
