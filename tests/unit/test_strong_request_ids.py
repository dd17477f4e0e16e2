"""Named writes (``Statecast-Request-Id``) on a strong resource: once, with the first answer.

Since session 9 a follower names every write it forwards (aiohttp may send a forwarded
PUT or DELETE twice: ``test_strong_forward_resend.py``), so the ids the state remembers
fill at the rate of forwarded writes, not only of the writes clients name.
"""

from __future__ import annotations

from statecast.core.strong.log import Operation
from statecast.core.strong.machine import (
    ATTEMPT,
    FORWARDED,
    REMEMBERED,
    SHORT_LIVED_REMEMBERED,
    KeyValueMachine,
    Outcome,
)
from statecast.core.strong.replica import ReplicaLog


def test_a_resent_write_answers_its_first_outcome_and_where_it_was_applied() -> None:
    machine = KeyValueMachine({"k": b"1"})
    delete = Operation("delete", "k", request="d")
    assert machine.apply(delete, (1, 5)) == Outcome("ok", None, (1, 5))
    machine.apply(Operation("put", "k", b"2"), (1, 6))  # another client's write between
    # sent again: not applied again (the later put stands), and not a 404
    assert machine.apply(delete, (2, 9)) == Outcome("ok", None, (1, 5))
    assert machine.get("k") == b"2"
    put = Operation("put", "k", b"3", request="p")
    machine.apply(put, (2, 10))
    machine.apply(Operation("put", "k", b"4"), (2, 11))
    assert machine.apply(put, (2, 12)) == Outcome("ok", None, (2, 10))
    assert machine.get("k") == b"4"


def test_snapshots_keep_where_named_writes_were_applied_and_read_older_ones() -> None:
    machine = KeyValueMachine()
    machine.apply(Operation("increment", "n", by=2, request="r"), (3, 7))
    assert KeyValueMachine.from_json(machine.to_json()) == machine
    older = {"items": {"n": {"n": 2}}, "requests": {"increment:1:n:r": ["ok", 2]}}
    restored = KeyValueMachine.from_json(older)  # a snapshot written before session 9
    assert restored.apply(Operation("increment", "n", by=2, request="r")) == Outcome("ok", 2)


def test_the_newest_ids_are_remembered_the_oldest_forgotten_alike_on_every_replica() -> None:
    machine = KeyValueMachine()
    for i in range(REMEMBERED + 1):
        machine.apply(Operation("increment", "n", by=1, request=f"f{i}"), (1, i + 1))
    assert machine.get("n") == REMEMBERED + 1
    # the second is still known (answered, not applied); the first was forgotten
    assert machine.apply(Operation("increment", "n", by=1, request="f1")).value == 2
    assert machine.get("n") == REMEMBERED + 1
    assert machine.apply(Operation("increment", "n", by=1, request="f0")).value == REMEMBERED + 2


def test_ids_made_for_one_request_are_remembered_apart_and_push_out_no_clients() -> None:
    machine = KeyValueMachine()
    machine.apply(Operation("increment", "c", by=1, request="client"), (1, 1))
    for i in range(SHORT_LIVED_REMEMBERED + 1):  # a follower's and a call's ids, one memory
        prefix = FORWARDED if i % 2 else ATTEMPT
        machine.apply(Operation("put", "k", b"1", request=f"{prefix}{i}"), (1, i + 2))
    assert machine.apply(Operation("increment", "c", by=1, request="client")).value == 1
    assert machine.apply(Operation("put", "k", b"1", request=f"{FORWARDED}1")).at == (1, 3)
    assert machine.apply(Operation("put", "k", b"1", request=f"{ATTEMPT}0")).at is None
    restored = KeyValueMachine.from_json(machine.to_json())
    assert restored == machine  # each id back in its own memory, in its order


def test_a_replica_remembers_where_it_applied_each_named_entry() -> None:
    leader = ReplicaLog("a", promised=1)
    leader.lead(1, ["a"])
    leader.mark_durable(leader.last_index)
    leader.advance_commit()
    entry, _ = leader.propose(Operation("put", "k", b"1", request="x"))
    again, _ = leader.propose(Operation("put", "k", b"1", request="x"))
    leader.mark_durable(leader.last_index)
    leader.advance_commit()
    outcomes = [outcome for _, outcome in leader.apply_committed()]
    assert outcomes[-2:] == [Outcome("ok", None, (1, entry.index))] * 2
    assert again.index == entry.index + 1
