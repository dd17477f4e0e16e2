"""The clients a chaos run drives: writers, readers and incrementers on several nodes.

Each client is a thread with its own :class:`statecast.client.Client`, its node's agent
first in its list (a pod reaches the agent on its own node; the client library fails
over to the others it learns from ``/v1/agents``). Every operation goes into the
:class:`~statecast.chaos.history.History`:

- a *writer* puts a unique value (``{"c": client, "n": seq}``) to a random key of the
  run's key space and records the version the agent acknowledged;
- a *reader* reads a random key that has been written, retrying a failed read (no agent,
  503) every 20 ms until it is served or ``read_deadline`` passes; a 404 is an answer
  and is not retried;
- an *incrementer* adds 1 to a random counter of the run;
- the *lag probe*: one client writes the time (this machine's clock) to a probe key
  every 100 ms and the readers of the other nodes note how long after the write they
  first see each value: replication lag as clients see it.

Rates are per client, paced with a token-bucket sleep, so a slow agent lowers the rate
rather than queueing requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from statecast.chaos.history import History, Operation, Outcome, outcome_of
from statecast.chaos.pipelined import PipelinedWriter, run_pipelined
from statecast.chaos.writers import StreamedHistory, WriterProcess
from statecast.client import Client, NotFoundError, RequestError

__all__ = ["Workload", "WorkloadSpec", "main"]

READ_RETRY_SECONDS = 0.02
PROBE_PERIOD = 0.1
#: How long a writer process may take to start (imports are slow on a busy machine).
PROCESS_START_SECONDS = 120.0


@dataclass(frozen=True)
class WorkloadSpec:
    """What to drive.

    Attributes:
        namespace: The resource's namespace.
        resource: The resource's name.
        run: A prefix for the run's keys (fresh keys per run).
        keys: Register keys in the key space.
        counters: Counter keys.
        write_rate: Writes per second per writer.
        read_rate: Reads per second per reader.
        increment_rate: Increments per second per incrementer.
        writers_per_node: Writer threads on each node.
        readers_per_node: Reader threads on each node.
        incrementers_per_node: Incrementer threads on each node.
        read_deadline: Seconds a logical read is retried before it counts as failed.
        timeout: Seconds per request.
        seed: Random seed (keys chosen).
        writer_processes: Run the writers in this many processes of their own
            (:mod:`statecast.chaos.writers`; 0: threads of this process). One process's
            threads share one interpreter lock and reach a few hundred writes a second.
        writer_pipeline: In writer processes, each writer offers its rate open-loop
            on one connection with up to this many PUTs in flight
            (:mod:`statecast.chaos.pipelined`); 0: the client library, one request at
            a time.
    """

    namespace: str
    resource: str
    run: str
    keys: int = 40
    counters: int = 4
    write_rate: float = 20.0
    read_rate: float = 40.0
    increment_rate: float = 10.0
    writers_per_node: int = 1
    readers_per_node: int = 1
    incrementers_per_node: int = 1
    read_deadline: float = 15.0
    timeout: float = 2.0
    seed: int = 1
    writer_processes: int = 0
    writer_pipeline: int = 0

    def key(self, index: int) -> str:
        """Register key ``index`` of the run."""
        return f"{self.run}-k{index}"

    def counter(self, index: int) -> str:
        """Counter key ``index`` of the run."""
        return f"{self.run}-c{index}"

    @property
    def probe_key(self) -> str:
        """The lag probe's key."""
        return f"{self.run}-probe"


def _code(err: Exception) -> str:
    if isinstance(err, RequestError):
        return f"{err.status} {err.code}" if err.status else err.code
    return type(err).__name__


def _outcome(err: RequestError) -> Outcome:
    """What an error says of a write (:func:`~statecast.chaos.history.outcome_of`)."""
    return outcome_of(err.status, err.code)


@dataclass
class Workload:
    """Client threads against the agents of ``nodes`` (node -> URL of its agent).

    Args:
        spec: What to drive.
        nodes: Node -> its agent's URL; one set of clients per node.
        history: Where operations go.
        clock: Seconds since the run began.
    """

    spec: WorkloadSpec
    nodes: dict[str, str]
    history: History
    clock: Callable[[], float]
    lag_samples: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _written: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _processes: list[WriterProcess] = field(default_factory=list)

    def _client(self, node: str) -> Client:
        others = [u for n, u in sorted(self.nodes.items()) if n != node]
        return Client([self.nodes[node], *others], timeout=self.spec.timeout)

    def start(self, *, probe_node: str | None = None) -> None:
        """Start every client thread."""
        spec = self.spec
        index = 0
        outside: list[tuple[str, str, float, int]] = []
        for node in sorted(self.nodes):
            roles = (
                [("writer", self._writer, spec.write_rate)] * spec.writers_per_node
                + [("reader", self._reader, spec.read_rate)] * spec.readers_per_node
                + [("incrementer", self._incrementer, spec.increment_rate)]
                * spec.incrementers_per_node
            )
            for number, (role, body, rate) in enumerate(roles):
                index += 1
                name = f"{node}/{role}-{number}"
                seed = spec.seed * 1000 + index
                if role == "writer" and spec.writer_processes > 0:
                    outside.append((node, name, rate, seed))
                    continue
                self._spawn(body, node, name, rate, random.Random(seed))
        self._start_processes(outside)
        if probe_node is not None:
            self._spawn(self._probe_writer, probe_node, f"{probe_node}/probe", 0.0, None)
            for node in sorted(self.nodes):
                if node != probe_node:
                    self._spawn(self._probe_reader, node, f"{node}/probe-reader", 0.0, None)

    def _start_processes(self, writers: list[tuple[str, str, float, int]]) -> None:
        count = min(self.spec.writer_processes, len(writers))
        zero = time.monotonic() - self.clock()
        for number in range(count):
            config = {
                "spec": dataclasses.asdict(self.spec),
                "nodes": self.nodes,
                "zero": zero,
                "writers": writers[number::count],
            }
            self._processes.append(WriterProcess(config, self.history, self._mark_written))
        for process in self._processes:  # the run's clock must not start before they write
            if not process.ready.wait(PROCESS_START_SECONDS):
                raise RuntimeError(f"a writer process did not start in {PROCESS_START_SECONDS} s")

    def _mark_written(self, key: str) -> None:
        with self._lock:
            self._written.add(key)

    def run_writers(
        self, writers: Sequence[tuple[str, str, float, int]], until: Callable[[], object]
    ) -> None:
        """Run ``writers`` (node, client name, rate, seed) here until ``until`` returns."""
        for node, name, rate, seed in writers:
            self._spawn(self._writer, node, name, rate, random.Random(seed))
        if isinstance(self.history, StreamedHistory):
            self.history.ready()
        until()
        self.stop()

    def _spawn(self, body: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=body, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop every client and wait for them."""
        self._stop.set()
        for process in self._processes:
            process.stop(timeout=self.spec.timeout + 10)
        for thread in self._threads:
            thread.join(timeout=self.spec.read_deadline + 5)

    def _pace(self, rate: float, started: float, count: int) -> None:
        due = started + count / rate
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _writer(self, node: str, name: str, rate: float, rng: random.Random) -> None:
        spec = self.spec
        with self._client(node) as client:
            began, seq = time.monotonic(), 0
            while not self._stop.is_set():
                seq += 1
                key = spec.key(rng.randrange(spec.keys))
                value = {"c": name, "n": seq}
                start = self.clock()
                outcome: Outcome = "ok"
                version = error = None
                try:
                    version = str(client.put(spec.namespace, spec.resource, key, value)["version"])
                    with self._lock:
                        self._written.add(key)
                except RequestError as err:
                    error = _code(err)
                    outcome = _outcome(err)
                    self.history.error(self.clock(), name, error)
                except OSError as err:
                    error, outcome = _code(err), "info"
                    self.history.error(self.clock(), name, error)
                self.history.add(
                    Operation("write", name, node, key, start, self.clock(), outcome, value,
                              version=version, error=error)
                )  # fmt: skip
                self._pace(rate, began, seq)

    def _incrementer(self, node: str, name: str, rate: float, rng: random.Random) -> None:
        spec = self.spec
        with self._client(node) as client:
            began, count = time.monotonic(), 0
            while not self._stop.is_set():
                count += 1
                key = spec.counter(rng.randrange(spec.counters))
                start = self.clock()
                outcome: Outcome = "ok"
                error = None
                try:
                    client.increment(spec.namespace, spec.resource, key, 1)
                except RequestError as err:
                    error = _code(err)
                    outcome = _outcome(err)
                    self.history.error(self.clock(), name, error)
                except OSError as err:
                    error, outcome = _code(err), "info"
                    self.history.error(self.clock(), name, error)
                self.history.add(
                    Operation("increment", name, node, key, start, self.clock(), outcome, 1,
                              error=error)
                )  # fmt: skip
                self._pace(rate, began, count)

    def _reader(self, node: str, name: str, rate: float, rng: random.Random) -> None:
        with self._client(node) as client:
            began, count = time.monotonic(), 0
            while not self._stop.is_set():
                count += 1
                with self._lock:
                    written = sorted(self._written)
                if written:
                    self._read_once(client, node, name, rng.choice(written))
                self._pace(rate, began, count)

    def _read_once(self, client: Client, node: str, name: str, key: str) -> None:
        spec = self.spec
        start = self.clock()
        deadline = time.monotonic() + spec.read_deadline
        attempts = 0
        while True:
            attempts += 1
            try:
                value = client.get(spec.namespace, spec.resource, key)
            except NotFoundError as err:
                self.history.error(self.clock(), name, _code(err))
                self.history.add(
                    Operation("read", name, node, key, start, self.clock(), "fail",
                              error=_code(err), attempts=attempts)
                )  # fmt: skip
                return
            except (RequestError, OSError) as err:
                self.history.error(self.clock(), name, _code(err))
                if time.monotonic() >= deadline or self._stop.is_set():
                    self.history.add(
                        Operation("read", name, node, key, start, self.clock(), "info",
                                  error=_code(err), attempts=attempts)
                    )  # fmt: skip
                    return
                time.sleep(READ_RETRY_SECONDS)
                continue
            self.history.add(
                Operation("read", name, node, key, start, self.clock(), "ok", value,
                          attempts=attempts, served=client.last_served)
            )  # fmt: skip
            return

    def _probe_writer(self, node: str, name: str, _rate: float, _rng: object) -> None:
        spec = self.spec
        with self._client(node) as client:
            while not self._stop.is_set():
                # the probe only measures lag; its errors are not the workload's
                with contextlib.suppress(RequestError, OSError):
                    client.put(spec.namespace, spec.resource, spec.probe_key, {"t": time.time()})
                self._stop.wait(PROBE_PERIOD)

    def _probe_reader(self, node: str, name: str, _rate: float, _rng: object) -> None:
        spec = self.spec
        seen: float | None = None
        with self._client(node) as client:
            while not self._stop.is_set():
                try:
                    value = client.get(spec.namespace, spec.resource, spec.probe_key)
                    written = float(value["t"])
                    if written != seen:
                        if seen is not None:
                            with self._lock:
                                self.lag_samples.append(max(0.0, time.time() - written))
                        seen = written
                except (RequestError, OSError, TypeError, KeyError, ValueError):
                    pass
                self._stop.wait(PROBE_PERIOD / 4)


def main(argv: Sequence[str] | None = None) -> int:
    """Run writer threads until stdin closes (a writer process, see :mod:`.writers`).

    ``CONFIG`` (JSON): ``spec`` (the :class:`WorkloadSpec` fields), ``nodes`` (node ->
    agent URL), ``zero`` (the run's start on ``time.monotonic()``), ``writers``
    (``[node, client name, rate, seed]`` each).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    config = json.loads(args[0])
    spec = WorkloadSpec(**{**config["spec"], "writer_processes": 0})
    zero = float(config["zero"])
    history = StreamedHistory(sys.stdout)
    workload = Workload(spec, dict(config["nodes"]), history, lambda: time.monotonic() - zero)
    writers = [(str(n), str(c), float(r), int(s)) for n, c, r, s in config["writers"]]
    if spec.writer_pipeline > 0:
        keys = [spec.key(i) for i in range(spec.keys)]
        pipelined = [
            PipelinedWriter(workload.nodes[node], spec.namespace, spec.resource, keys, node,
                            name, rate, spec.writer_pipeline, random.Random(seed), history,
                            workload.clock, timeout=spec.timeout)
            for node, name, rate, seed in writers
        ]  # fmt: skip
        history.ready()
        asyncio.run(run_pipelined(pipelined, sys.stdin.read))  # until stdin closes
        return 0
    workload.run_writers(writers, sys.stdin.read)  # until the run closes our stdin
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
