"""A chaos run checked for linearizability: ``statecast chaos --check linearizability``.

Clients on every node (through the client library, which learns the leader) put unique
values, read and increment a few keys of a strong resource, and record each operation
as a call/return interval (:class:`~statecast.core.strong.linearizability.HistoryOp`):

- an answer: the interval and what came back;
- a refusal that says nothing was applied (``503`` ``not_leader``, ``no_leader``,
  ``epoch_opening``, ``no_quorum``, ``not_applied``; ``no_agent``): left out, it did not
  happen; a read that failed in any way is left out too (it changed nothing);
- no answer, a broken connection, or ``503 outcome_unknown``: the write is sent again
  with the same request id (``Statecast-Request-Id``: applied at most once) until it is
  answered; one that never is within ``resend_for`` seconds is sent again after the heal
  until it is (its outcome was remembered, or it takes effect then, inside its interval:
  few operations are left with unknown outcomes, which are what makes a check give up);
  one still unanswered is kept with no return time (Porcupine's convention for an
  operation that timed out: it may take effect at any time after its call, or never).

After the fault is healed and the resource has a leader again, every key is read once
more (linearizably), so a lost acknowledged write shows up in the check. The report
adds ``linearizable`` (true, false, unknown), ``failover_s`` (from the fault - the
scenario's first mark, the moment of the kill or the cut - to the first write
acknowledged under a newer epoch) and ``lost_writes`` (acknowledged
increments missing from the final counters, acknowledged puts of which no later trace
remains).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kubernetes import client

from statecast.api.types import GROUP, VERSION
from statecast.chaos.observer import ReplicaObserver
from statecast.chaos.porcupine import Verdict, check, history_json
from statecast.chaos.scenarios import Run, Scenario
from statecast.chaos.target import Target, TargetError
from statecast.client import Client, NotFoundError, RequestError
from statecast.client.core import REQUEST_ID, Call, Response
from statecast.client.endpoints import key_path
from statecast.core.strong.linearizability import HistoryOp

__all__ = ["LinearizableRun", "run_linearizable"]

#: 503 codes that say a write was not applied.
REFUSED = frozenset(
    {"not_leader", "no_leader", "epoch_opening", "no_quorum", "not_applied", "no_agent",
     "replica_syncing", "no_replica", "not_ready", "storage_unavailable"}
)  # fmt: skip
"""The client says ``no_agent`` only when no agent can have received the write; one that
may have reached an agent that did not answer is ``outcome_unknown``."""


def _answer(response: Response) -> Response:
    return response


@dataclass
class _Pending:
    """A named write not answered yet: the call to resend, and its operation so far."""

    call: Call[Response]
    op: HistoryOp
    unknown: bool = False


@dataclass
class LinearizableWorkload:
    """Clients on every node writing, reading and incrementing a few keys."""

    namespace: str
    resource: str
    run_id: str
    nodes: dict[str, str]
    clock: Callable[[], float]
    keys: int = 6
    counters: int = 3
    clients_per_node: int = 2
    rate: float = 10.0
    timeout: float = 3.0
    resend_for: float = 10.0
    seed: int = 1
    history: list[HistoryOp] = field(default_factory=list)
    acked_at: list[tuple[float, int]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    unresolved: list[_Pending] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def key(self, index: int) -> str:
        """Register key ``index``."""
        return f"{self.run_id}-k{index}"

    def counter(self, index: int) -> str:
        """Counter key ``index`` (several: the search grows with each key's pending writes)."""
        return f"{self.run_id}-n{index}"

    def start(self) -> None:
        """Start every client thread."""
        for node in sorted(self.nodes):
            for number in range(self.clients_per_node):
                name = f"{node}/{number}"
                rng = random.Random(f"{self.seed}-{name}")
                thread = threading.Thread(target=self._client, args=(node, name, rng), daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self) -> None:
        """Stop the clients and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _record(self, op: HistoryOp, epoch: int | None = None) -> None:
        with self._lock:
            self.history.append(op)
            if epoch is not None and op.ret is not None:
                self.acked_at.append((op.ret, epoch))

    def acked_after(self, moment: float) -> bool:
        """True once a write was acknowledged after ``moment``."""
        with self._lock:
            return any(at > moment for at, _ in self.acked_at)

    def _error(self, code: str) -> None:
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1

    def _client(self, node: str, name: str, rng: random.Random) -> None:
        others = [u for n, u in sorted(self.nodes.items()) if n != node]
        with Client([self.nodes[node], *others], timeout=self.timeout) as api:
            seq = 0
            while not self._stop.is_set():
                seq += 1
                roll = rng.random()
                if roll < 0.4:
                    self._put(api, name, self.key(rng.randrange(self.keys)), seq)
                elif roll < 0.8:
                    keys = self.keys + self.counters
                    which = rng.randrange(keys)
                    key = self.key(which) if which < self.keys else self.counter(which - self.keys)
                    self._get(api, name, key)
                else:
                    self._increment(api, name, self.counter(rng.randrange(self.counters)))
                self._stop.wait(rng.expovariate(self.rate))

    def _send(self, api: Client, call: Call[Response]) -> Response | str:
        """One send: the answer, ``"unknown"`` or ``"refused"``; other errors raise."""
        try:
            return api.call(call)
        except RequestError as err:
            self._error(f"{err.status} {err.code}" if err.status else err.code)
            if err.code in REFUSED:
                return "refused"
            if err.status in (0, 503) or err.status >= 500:
                return "unknown"
            raise
        except OSError as err:
            self._error(type(err).__name__)
            return "unknown"

    def _write(
        self, api: Client, name: str, kind: str, key: str, path: str, body: bytes, value: Any
    ) -> None:
        """Send a named write until it is answered (or ``resend_for`` passes).

        It carries a request id, so resending it after an unknown outcome applies it at
        most once; a refusal after an unknown outcome does not end it (the first send may
        still commit). One operation in the history, from the first send to the answer;
        one still unanswered after ``resend_for`` waits for :meth:`resolve`.
        """
        headers = ((REQUEST_ID, uuid.uuid4().hex),)
        call = Call("PUT" if kind == "put" else "POST", path, body, False, _answer, headers)
        pending = _Pending(call, HistoryOp(kind, key, self.clock(), None, value, client=name))  # type: ignore[arg-type]
        self._resend(api, pending, time.monotonic() + self.resend_for, self._stop)

    def _resend(
        self, api: Client, pending: _Pending, deadline: float, stop: threading.Event
    ) -> bool:
        """Send ``pending`` until it is answered, refused outright, or ``deadline``; done?"""
        while True:
            try:
                reply = self._send(api, pending.call)
            except RequestError:
                return True  # a 4xx: the write is wrong, not the system
            if isinstance(reply, Response):
                answer = json.loads(reply.body)
                op = pending.op
                output = answer.get("value") if op.kind == "increment" else None
                self._record(
                    replace(op, ret=self.clock(), output=output), int(answer.get("epoch", 0))
                )
                return True
            pending.unknown = pending.unknown or reply == "unknown"
            if not pending.unknown:
                return True  # refused, and no earlier send may have arrived: it never happened
            if time.monotonic() > deadline or stop.is_set():
                with self._lock:
                    self.unresolved.append(pending)
                return False
            time.sleep(0.2)

    def resolve(self, deadline: float) -> tuple[int, int]:
        """Resend every write whose outcome is still unknown until it is answered.

        Run after the heal: a named write is applied at most once and its outcome is
        remembered, so the answer is the first send's outcome (or, if no send had
        arrived, this one's, inside the same interval). The history then holds few
        operations that never returned; those left (no answer by ``deadline``) are
        recorded with no return time. Returns how many were pending, how many are left.
        """
        with self._lock:
            pending, self.unresolved = self.unresolved, []
        with Client(list(self.nodes.values()), timeout=self.timeout) as api:
            for write in pending:
                self._resend(api, write, deadline, threading.Event())
        with self._lock:
            left, self.unresolved = self.unresolved, []
            self.history.extend(write.op for write in left)
        return len(pending), len(left)

    def _put(self, api: Client, name: str, key: str, seq: int) -> None:
        text = json.dumps({"c": name, "n": seq}, separators=(",", ":"))
        path = key_path(self.namespace, self.resource, key)
        self._write(api, name, "put", key, path, text.encode(), text)

    def _increment(self, api: Client, name: str, counter: str) -> None:
        path = key_path(self.namespace, self.resource, counter, "/increment")
        self._write(api, name, "increment", counter, path, b'{"by":1}', 1)

    def _get(self, api: Client, name: str, key: str) -> None:
        start = self.clock()
        try:
            reply = api.request("GET", key_path(self.namespace, self.resource, key))
        except NotFoundError as err:
            if err.code == "key_not_found":  # not "unknown_resource" from an agent starting
                self._record(HistoryOp("get", key, start, self.clock(), None, None, name))
            else:
                self._error(f"404 {err.code}")
            return
        except (RequestError, OSError) as err:
            self._error(getattr(err, "code", type(err).__name__))
            return
        text = json.dumps(json.loads(reply.body), separators=(",", ":"))
        self._record(HistoryOp("get", key, start, self.clock(), None, text, name))

    def final_reads(self, deadline: float) -> int:
        """Read every key once more, linearizably (retrying until ``deadline``); misses."""
        missing = 0
        with Client(list(self.nodes.values()), timeout=self.timeout) as api:
            counters = [self.counter(i) for i in range(self.counters)]
            for key in [*(self.key(i) for i in range(self.keys)), *counters]:
                while True:
                    before = len(self.history)
                    self._get(api, "final", key)
                    if len(self.history) > before:
                        break
                    if time.monotonic() > deadline:
                        missing += 1
                        break
                    time.sleep(0.2)
        return missing


def _status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    try:
        found: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "sharedresources", name
        )
    except client.ApiException as err:
        if err.status == 404:
            raise TargetError(f"no SharedResource {namespace}/{name}") from err
        raise
    return dict(found)


def lost_writes(history: list[HistoryOp], counters: list[str]) -> tuple[int, list[str]]:
    """Acknowledged writes the final reads show lost (see the module docstring)."""
    finals = {op.key: op for op in history if op.client == "final" and op.ret is not None}
    lost, examples = 0, []
    for counter in counters:
        done = sum(
            1
            for op in history
            if op.kind == "increment" and op.ret is not None and op.key == counter
        )
        final_counter = finals.get(counter)
        total = int(final_counter.output or 0) if final_counter is not None else done
        if total < done:
            lost += done - total
            examples.append(f"{counter}: {total} < {done} acknowledged increments")
    for key, final in finals.items():
        if key in counters:
            continue
        puts = [op for op in history if op.kind == "put" and op.key == key]
        acked = [op for op in puts if op.ret is not None]
        latest = [a for a in acked if not any(b.call > (a.ret or 0) for b in acked)]
        possible = {op.value for op in latest} | {op.value for op in puts if op.ret is None}
        if acked and final.output not in possible:
            lost += 1
            examples.append(f"{key}: final {final.output}, last acknowledged {latest[0].value}")
    return lost, examples


@dataclass(frozen=True)
class LinearizableSettings:
    """How long each part of a run lasts (see :class:`statecast.chaos.runner.RunSettings`)."""

    duration: float
    seed: int = 1
    warmup: float = 4.0
    settle: float = 60.0
    tail: float = 3.0
    rate: float = 10.0
    html_dir: Path | None = None


class LinearizableRun:
    """One run of a scenario against a strong resource (see :func:`run_linearizable`)."""

    def __init__(
        self, scenario: Scenario, target: Target, namespace: str, name: str,
        settings: LinearizableSettings, log: Callable[[str], None],
    ) -> None:  # fmt: skip
        why = scenario.supported_by(target)
        if why:
            raise TargetError(why)
        body = _status(target.api, namespace, name)
        if (body.get("spec") or {}).get("consistency") != "strong":
            raise TargetError("--check linearizability needs a resource with consistency strong")
        self.scenario, self.target, self.settings, self.log = scenario, target, settings, log
        self.namespace, self.name = namespace, name
        self.began = time.monotonic()
        self.rng = random.Random(settings.seed)
        self.marks: dict[str, float] = {}
        self.observer = ReplicaObserver(target.api, namespace, name, self.clock)
        self.observer.start()
        self.holders = sorted(self.observer.ready_nodes() or ())
        agents = target.agents()
        if not self.holders or (body.get("status") or {}).get("leader") is None:
            self.observer.stop()
            raise TargetError(f"{namespace}/{name} has no Ready replica or no leader yet")
        self.run_id = f"lin-{uuid.uuid4().hex[:6]}"  # fresh keys: nothing from earlier runs
        self.workload = LinearizableWorkload(
            namespace, name, self.run_id, dict(agents), self.clock,
            rate=settings.rate, seed=settings.seed,
        )  # fmt: skip
        self.context = Run(
            target=target, namespace=namespace, resource=name,
            minimum=int(((body.get("spec") or {}).get("replicas") or {}).get("min", 2)),
            holders=self.holders, choose=lambda options: self.rng.choice(sorted(options)),
            clock=self.clock, mark=lambda label: self.marks.__setitem__(label, self.clock()),
            wait_for=self.wait_for, patch_resource=lambda _: None,
            replica_nodes=self._replica_nodes,
            status=lambda: dict(_status(target.api, namespace, name).get("status") or {}),
        )  # fmt: skip

    def clock(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self.began

    def _replica_nodes(self) -> dict[str, str]:
        return {i["node"]: i["phase"] for i in self.observer.replicas().values()}

    def wait_for(self, check_: Callable[[], Any], timeout: float) -> Any:
        """Poll ``check_`` until it is truthy or ``timeout`` passes; return its last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := check_():
                return value
            time.sleep(0.2)
        return None

    def _serving_since(self, moment: float) -> bool:
        """True once a write was acknowledged after ``moment`` (the leader serves again).

        Not the status: a dead leader's Replica may still say Ready until the operator
        marks it, and the operator may be the process the fault killed.
        """
        return self.workload.acked_after(moment)

    def drive(self) -> tuple[float, float, int, set[str]]:
        """Workload, fault, heal, settle; when the fault came and healed, the epoch before."""
        name, settings = self.scenario.name, self.settings
        epoch = int(self.context.status().get("epoch") or 0)
        self.log(f"chaos {name}: {self.namespace}/{self.name} (epoch {epoch}) on {self.holders}")
        self.workload.start()
        try:
            time.sleep(settings.warmup)
            fault_at = self.clock()
            try:
                faulted = self.scenario.inject(self.context)
                time.sleep(max(0.0, settings.duration - (self.clock() - fault_at)))
            finally:
                heal_at = self.clock()
                self.scenario.heal(self.context)
            time.sleep(1.0)
            self.wait_for(lambda: self._serving_since(heal_at + 1.0), settings.settle)
            time.sleep(settings.tail)
        finally:
            self.workload.stop()
        return fault_at, heal_at, epoch, faulted

    def report(
        self, fault_at: float, heal_at: float, epoch: int, faulted: set[str]
    ) -> dict[str, Any]:
        """Final reads, the checks, the report."""
        workload = self.workload
        resolved_at = self.clock()
        resolved, _ = workload.resolve(time.monotonic() + self.settings.settle)
        resolve_s = round(self.clock() - resolved_at, 3)
        unread = workload.final_reads(time.monotonic() + self.settings.settle)
        self.observer.stop()
        self.scenario.finish(self.context)
        events = self.observer.snapshot()
        self.scenario.summarize(self.context, events, self.marks)
        html_dir = self.settings.html_dir or Path(".")
        html = html_dir / f"linearizability-{self.scenario.name}-{self.settings.seed}.html"
        verdict: Verdict = check(workload.history, html)
        if verdict.linearizable is not True:  # keep the history beside the visualisation
            html.with_suffix(".json").write_text(json.dumps(history_json(workload.history)))
        counters = [workload.counter(i) for i in range(workload.counters)]
        lost, examples = lost_writes(workload.history, counters)
        status = self.context.status()
        # from the fault itself (the scenario's first mark: the kill, the cut), not from
        # the start of inject(): finding the leader and cutting paths take seconds on a
        # loaded machine, and they are the harness's time, not the system's
        struck = min((t for t in self.marks.values() if t >= fault_at), default=fault_at)
        newer = [t for t, e in workload.acked_at if e > epoch and t >= struck]
        failover = round(min(newer) - struck, 3) if newer else None
        writes = [op for op in workload.history if op.kind != "get" and op.client != "final"]
        ok = verdict.linearizable is True and lost == 0 and unread == 0
        return {
            "scenario": self.scenario.name, "resource": f"{self.namespace}/{self.name}",
            "seed": self.settings.seed, "check": "linearizability",
            "fault_at_s": round(fault_at, 3), "struck_at_s": round(struck, 3),
            "healed_at_s": round(heal_at, 3),
            "faulted_nodes": sorted(faulted), "epoch_before": epoch,
            "epoch_after": status.get("epoch"), "leader_after": status.get("leader"),
            "linearizable": verdict.linearizable, "porcupine": verdict.porcupine,
            "search": verdict.search, "violation_html": verdict.html,
            "violation_key": verdict.bad_key, "failover_s": failover,
            "operations": len(workload.history),
            "acked_writes": sum(1 for op in writes if op.ret is not None),
            "indeterminate_writes": sum(1 for op in writes if op.ret is None),
            "resolved_after_heal": resolved, "resolve_s": resolve_s,
            "lost_writes": lost, "lost_examples": examples[:10], "final_reads_missing": unread,
            "client_errors": dict(sorted(workload.errors.items())),
            "marks": self.marks, **self.context.extra,
            "replica_events": [e.__dict__ for e in events],
            "checks": {"linearizability": ok}, "ok": ok,
        }  # fmt: skip


def run_linearizable(
    scenario: Scenario, target: Target, namespace: str, name: str,
    settings: LinearizableSettings, log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Run ``scenario`` against the strong resource ``namespace/name``, checked linearizable.

    Raises:
        TargetError: The resource or the cluster cannot run it (bad input).
    """
    run = LinearizableRun(scenario, target, namespace, name, settings, log)
    return run.report(*run.drive())
