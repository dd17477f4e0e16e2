"""The linearizable chaos workload: writes with unknown outcomes are resolved after the heal."""

from __future__ import annotations

import itertools

from statecast.chaos.linearizable import LinearizableWorkload
from statecast.client import Client
from statecast.client.core import REQUEST_ID, Call, Response


def _workload(answers: list[Response | str]) -> tuple[LinearizableWorkload, list[Call[Response]]]:
    ticks = itertools.count()
    workload = LinearizableWorkload(
        "ns", "res", "run", {"node-1": "http://127.0.0.1:9"}, lambda: float(next(ticks)),
        resend_for=0.0,
    )  # fmt: skip
    sent: list[Call[Response]] = []

    def send(_: Client, call: Call[Response]) -> Response | str:
        sent.append(call)
        return answers.pop(0)

    workload._send = send  # type: ignore[method-assign]
    return workload, sent


def test_a_write_with_an_unknown_outcome_is_resent_after_the_heal_with_its_id() -> None:
    workload, sent = _workload(["unknown", "refused", Response(200, b'{"value": 7, "epoch": 3}')])
    with Client(["http://127.0.0.1:9"]) as api:
        workload._increment(api, "c", "run-n0")  # unknown, and resend_for has passed
    assert workload.history == []
    assert workload.resolve(deadline=float("inf")) == (1, 0)
    (op,) = workload.history
    assert (op.kind, op.call, op.output) == ("increment", 0.0, 7) and op.ret is not None
    assert len({dict(call.headers)[REQUEST_ID] for call in sent}) == 1  # one named write
    assert workload.acked_at == [(op.ret, 3)]


def test_a_write_still_unanswered_after_the_heal_stays_unknown() -> None:
    workload, _ = _workload(["unknown", "unknown"])
    with Client(["http://127.0.0.1:9"]) as api:
        workload._put(api, "c", "run-k0", 1)
    assert workload.resolve(deadline=0.0) == (1, 1)
    (op,) = workload.history
    assert (op.kind, op.ret) == ("put", None)


def test_a_refused_write_never_happened() -> None:
    workload, _ = _workload(["refused"])
    with Client(["http://127.0.0.1:9"]) as api:
        workload._put(api, "c", "run-k0", 1)
    assert workload.resolve(deadline=float("inf")) == (0, 0)
    assert workload.history == []
