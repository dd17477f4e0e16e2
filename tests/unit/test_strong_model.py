"""A model of the strong protocol under message loss, reordering, duplication and crashes.

Replicas are :class:`statecast.core.strong.replica.ReplicaLog` (the code the agents
run); the network is a bag of messages that may be dropped, duplicated and delivered
in any order; replicas crash and restart from what they made durable (the records);
an operator opens epochs with :func:`statecast.core.strong.election.choose_leader`
after fencing whichever replicas it reaches, and may stop half-way. Clients write and
increment at whoever leads, and read linearizably at the leader (a heartbeat round
confirmed by a majority after the read began). Every history is checked with
:func:`statecast.core.strong.linearizability.check_history`, and after every step no
committed entry may differ between replicas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecast.core.strong.election import Election, choose_leader
from statecast.core.strong.linearizability import HistoryOp, check_history
from statecast.core.strong.log import LogEntry, LogPosition, Operation
from statecast.core.strong.machine import KeyValueMachine
from statecast.core.strong.messages import (
    Append,
    AppendReply,
    AppendRequest,
    InstallSnapshot,
    Promise,
    Record,
    Snapshot,
    Truncate,
)
from statecast.core.strong.replica import NotLeaderError, ReplicaLog, majority

NODES = ("a", "b", "c")


@dataclass
class Disk:
    """What a replica made durable."""

    promised: int = 0
    snapshot: Snapshot | None = None
    entries: list[LogEntry] = field(default_factory=list)

    def write(self, records: list[Record]) -> None:
        for record in records:
            if isinstance(record, Promise):
                self.promised = record.epoch
            elif isinstance(record, Truncate):
                self.entries = [e for e in self.entries if e.index < record.index]
            elif isinstance(record, Append):
                self.entries.extend(record.entries)
            elif isinstance(record, InstallSnapshot):
                self.snapshot = record.snapshot
                self.entries = [e for e in self.entries if e.index > record.snapshot.position.index]

    def recover(self, node: str) -> ReplicaLog:
        return ReplicaLog(node, self.promised, self.snapshot, list(self.entries))


@dataclass
class Pending:
    op: HistoryOp
    epoch: int
    index: int = 0
    read_index: int = 0
    acks: set[str] = field(default_factory=set)


class Model:
    def __init__(self) -> None:
        self.disks = {n: Disk() for n in NODES}
        self.replicas = {n: ReplicaLog(n) for n in NODES}
        self.up = set(NODES)
        self.network: list[tuple[str, str, object, float]] = []
        self.time = 0.0
        self.epoch = 0
        self.voters = NODES
        self.history: list[HistoryOp] = []
        self.pending: dict[str, list[Pending]] = {n: [] for n in NODES}
        self.committed: dict[int, LogEntry] = {}
        self.values = 0

    def tick(self) -> float:
        self.time += 1.0
        return self.time

    # --- the operator -------------------------------------------------------------
    def elect(self, reachable: list[str], finish: bool) -> None:
        self.epoch += 1  # reserved first, even if the operator stops half-way
        election = Election(self.epoch, self.voters, self.voters, "failover")
        positions: dict[str, LogPosition] = {}
        for node in reachable:
            if node not in self.up:
                continue
            replica = self.replicas[node]
            promised, records = replica.fence(self.epoch)
            self.disks[node].write(records)
            if promised:
                self._drop_pending(node)
                positions[node] = replica.position
        if not finish:
            return
        choice = choose_leader(election, positions, self.up)
        if choice.leader is None:
            return
        replica = self.replicas[choice.leader]
        if replica.promised != self.epoch:
            return
        self.disks[choice.leader].write(replica.lead(self.epoch, self.voters))
        replica.mark_durable(replica.last_index)

    # --- clients ------------------------------------------------------------------
    def write(self, node: str, kind: str, key: str) -> None:
        replica = self.replicas[node]
        if node not in self.up or replica.leader is None:
            return
        now = self.tick()
        if kind == "put":
            self.values += 1
            text = json.dumps(f"v{self.values}")
            operation = Operation("put", key, text.encode())
            op = HistoryOp("put", key, now, None, text, client=node)
        elif kind == "delete":
            operation = Operation("delete", key)
            op = HistoryOp("delete", key, now, None, client=node)
        else:
            operation = Operation("increment", key, by=1)
            op = HistoryOp("increment", key, now, None, 1, client=node)
        try:
            entry, records = replica.propose(operation)
        except NotLeaderError:
            return  # refused before anything was appended: not in the history
        self.disks[node].write(records)
        replica.mark_durable(entry.index)
        self.pending[node].append(Pending(op, entry.epoch, index=entry.index))
        self.history.append(op)

    def read(self, node: str, key: str) -> None:
        replica = self.replicas[node]
        if node not in self.up or not replica.active or replica.leader is None:
            return
        op = HistoryOp("get", key, self.tick(), None, client=node)
        pending = Pending(op, replica.leader.epoch, read_index=replica.commit, acks={node})
        self.pending[node].append(pending)
        self.history.append(op)

    # --- the network --------------------------------------------------------------
    def send(self, node: str, peer: str) -> None:
        replica = self.replicas[node]
        if node not in self.up or peer == node:
            return
        request = replica.request_for(peer)
        if request is not None:
            self.network.append((node, peer, request, self.tick()))

    def deliver(self, position: int, keep: bool) -> None:
        if not self.network:
            return
        sender, target, message, sent = self.network[position % len(self.network)]
        if not keep:
            self.network.remove((sender, target, message, sent))
        if target not in self.up:
            return
        replica = self.replicas[target]
        if isinstance(message, AppendRequest):
            reply, records = replica.accept(message)
            self.disks[target].write(records)
            if replica.leader is None:
                self._drop_pending(target)
            self.network.append((target, sender, reply, sent))
            self._apply(target)
        else:
            assert isinstance(message, AppendReply)
            self.disks[target].write(replica.on_reply(sender, message))
            if replica.leader is None:
                self._drop_pending(target)
                return
            if message.ok and message.epoch == replica.leader.epoch:
                for pending in self.pending[target]:
                    if pending.op.kind == "get" and sent >= pending.op.call:
                        pending.acks.add(sender)
            replica.advance_commit()
            self._apply(target)

    def _apply(self, node: str) -> None:
        replica = self.replicas[node]
        outcomes = {}
        for entry, outcome in replica.apply_committed():
            seen = self.committed.setdefault(entry.index, entry)
            assert seen == entry, f"{node} applied {entry}, committed was {seen}"
            outcomes[entry.index] = outcome
        if replica.leader is None:
            return
        still = []
        for pending in self.pending[node]:
            if pending.op.kind != "get" and pending.index in outcomes:
                self._returned(pending, outcomes[pending.index])
            elif (
                pending.op.kind == "get"
                and len(pending.acks & set(self.voters)) >= majority(len(self.voters))
                and replica.applied >= pending.read_index
            ):
                value = replica.machine.get(pending.op.key)
                output = value.decode() if isinstance(value, bytes) else value
                output = str(output) if isinstance(output, int) else output
                self._finish(pending.op, output)
            else:
                still.append(pending)
        self.pending[node] = still

    def _returned(self, pending: Pending, outcome: object) -> None:
        op = pending.op
        if op.kind == "put":
            self._finish(op, None)
        elif op.kind == "delete":
            self._finish(op, "not_found" if outcome.status == "not_found" else "ok")  # type: ignore[attr-defined]
        elif outcome.status == "conflict":  # type: ignore[attr-defined]
            self._finish(op, "conflict")
        else:
            self._finish(op, outcome.value)  # type: ignore[attr-defined]

    def _finish(self, op: HistoryOp, output: object) -> None:
        done = HistoryOp(op.kind, op.key, op.call, self.tick(), op.value, output, op.client)
        self.history[self.history.index(op)] = done

    def _drop_pending(self, node: str) -> None:
        self.pending[node] = []  # outcome unknown: they never return

    # --- faults -------------------------------------------------------------------
    def crash(self, node: str) -> None:
        self.up.discard(node)
        self._drop_pending(node)

    def restart(self, node: str) -> None:
        if node in self.up:
            return
        self.replicas[node] = self.disks[node].recover(node)
        self.up.add(node)

    def compact(self, node: str) -> None:
        if node in self.up:
            record = self.replicas[node].compact()
            if record is not None:
                self.disks[node].write([record])

    def check_committed(self) -> None:
        for node, replica in self.replicas.items():
            for index in range(replica.base.index + 1, replica.commit + 1):
                entry = replica.entries[index - replica.base.index - 1]
                if index in self.committed:
                    assert self.committed[index] == entry, (node, index)


actions = st.one_of(
    st.tuples(st.just("elect"), st.lists(st.sampled_from(NODES), unique=True), st.booleans()),
    st.tuples(st.just("write"), st.sampled_from(NODES), st.sampled_from(("put", "delete", "inc"))),
    st.tuples(st.just("read"), st.sampled_from(NODES), st.sampled_from(("k", "c"))),
    st.tuples(st.just("send"), st.sampled_from(NODES), st.sampled_from(NODES)),
    st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("crash"), st.sampled_from(NODES), st.booleans()),
    st.tuples(st.just("compact"), st.sampled_from(NODES), st.just(0)),
)


def _run(model: Model, step: tuple[object, ...]) -> None:
    kind = step[0]
    if kind == "elect":
        model.elect(list(step[1]), bool(step[2]))  # type: ignore[call-overload]
    elif kind == "write":
        write_kind = str(step[2])
        model.write(str(step[1]), write_kind, "c" if write_kind == "inc" else "k")
    elif kind == "read":
        model.read(str(step[1]), str(step[2]))
    elif kind == "send":
        model.send(str(step[1]), str(step[2]))
    elif kind == "deliver":
        model.deliver(int(step[1]), bool(step[2]))  # type: ignore[call-overload]
    elif kind == "crash":
        (model.crash if step[2] else model.restart)(str(step[1]))
    else:
        model.compact(str(step[1]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(actions, min_size=20, max_size=250))
def test_histories_under_loss_reordering_and_crashes_are_linearizable(steps: list[object]) -> None:
    model = Model()
    model.elect(list(NODES), True)
    for step in steps:
        _run(model, step)  # type: ignore[arg-type]
        model.check_committed()
    # Let the system settle: restart everyone, elect, deliver everything.
    for node in NODES:
        model.restart(node)
    model.elect(list(NODES), True)
    for _ in range(40):
        for node in NODES:
            for peer in NODES:
                model.send(node, peer)
        while model.network:
            model.deliver(0, False)
    verdict = check_history(model.history)
    assert verdict.ok is True, (verdict, model.history)


def test_a_fenced_leader_cannot_commit() -> None:
    model = Model()
    model.elect(list(NODES), True)
    old = next(n for n in NODES if model.replicas[n].leader is not None)
    for peer in NODES:
        model.send(old, peer)
    while model.network:
        model.deliver(0, False)
    assert model.replicas[old].active
    model.write(old, "put", "k")
    model.elect([n for n in NODES if n != old], False)  # the others promise a new epoch
    for peer in NODES:
        model.send(old, peer)
    while model.network:
        model.deliver(0, False)
    assert model.replicas[old].leader is None  # told of the newer epoch, it stepped down
    assert model.history[-1].ret is None  # and never acknowledged the write


def test_a_committed_write_survives_the_leader_and_a_follower_losing_their_memory() -> None:
    model = Model()
    model.elect(list(NODES), True)
    leader = next(n for n in NODES if model.replicas[n].leader is not None)
    for peer in NODES:
        model.send(leader, peer)
    while model.network:
        model.deliver(0, False)
    model.write(leader, "put", "k")
    for _ in range(2):
        for peer in NODES:
            model.send(leader, peer)
        while model.network:
            model.deliver(0, False)
    written = model.history[-1]
    assert written.ret is not None
    for node in NODES:
        model.crash(node)
        model.restart(node)
    model.elect(list(NODES), True)
    new = next(n for n in NODES if model.replicas[n].leader is not None)
    for _ in range(3):
        for peer in NODES:
            model.send(new, peer)
        while model.network:
            model.deliver(0, False)
    assert model.replicas[new].machine.get("k") == written.value.encode()
    assert isinstance(KeyValueMachine(), KeyValueMachine)
