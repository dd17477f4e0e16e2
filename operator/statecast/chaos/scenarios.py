"""The faults a chaos run injects, one :class:`Scenario` each.

A scenario has a name, the capabilities it needs of the target (see
:mod:`statecast.chaos.target`), and three steps the runner calls: ``inject`` at the
fault time (it returns the nodes the fault hit, for ``lost_after_s`` and
``min_restored_s``), ``heal`` after ``--duration`` seconds, and ``finish`` once the
run has converged (to undo what healing leaves, e.g. a tmpfs). What a scenario measures
of its own goes into ``run.extra`` and from there into the report. Workload settings of
its own (the write burst) come from :meth:`Scenario.workload`.

To add one, subclass :class:`Scenario` and register it in :data:`SCENARIOS`; a scenario
that only makes sense with a check mode lists it in ``checks`` (the runner refuses other
combinations with exit 2). The scenarios of strong resources (``leader-kill``,
``follower-kill``, ``leader-partition``, ``leader-partition-lapsed``,
``operator-kill-failover``, ``agents-restart``)
run with ``--check linearizability`` (:mod:`statecast.chaos.linearizable`).
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from statecast.chaos.disk import fill_file_system, mount_tmpfs, unmount
from statecast.chaos.observer import ReplicaEvent
from statecast.chaos.target import Target, TargetError
from statecast.chaos.timeline import actions_between, churn

__all__ = ["SCENARIOS", "Run", "Scenario"]


@dataclass
class Run:
    """What a scenario may use: the target, the resource, the clock, the report's extras.

    Attributes:
        target: The cluster.
        namespace: The resource's namespace.
        resource: The resource's name.
        minimum: ``replicas.min`` of the resource.
        holders: Nodes whose Replica was Ready when the run began (sorted).
        choose: Picks one of a list, from the run's seed.
        clock: Seconds since the run began.
        mark: Records a named moment of the run (``mark("restarted")``).
        wait_for: Polls a condition until it is true or ``timeout`` passes; returns it.
        patch_resource: Merge-patches the SharedResource's spec.
        replica_nodes: The resource's Replicas now: node -> phase.
        interval: The resource's ``prediction.interval`` in seconds.
        extra: Report fields of the scenario's own.
        status: Reads the resource's status.
    """

    target: Target
    namespace: str
    resource: str
    minimum: int
    holders: list[str]
    choose: Callable[[list[str]], str]
    clock: Callable[[], float]
    mark: Callable[[str], None]
    wait_for: Callable[[Callable[[], Any], float], Any]
    patch_resource: Callable[[dict[str, Any]], None]
    replica_nodes: Callable[[], dict[str, str]]
    interval: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)
    status: Callable[[], dict[str, Any]] = dict
    """The SharedResource's status now (strong: ``leader``, ``epoch``, ``voters``)."""
    serves_locally: Callable[[str], bool] = lambda node: True
    """Whether the node's agent answers a read of the resource from its own replica now
    (what its clients see; a Replica's phase in the API lags an agent's restart)."""


class Scenario:
    """One fault: inject, heal, finish."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    checks: ClassVar[frozenset[str]] = frozenset({"eventual"})
    default_duration: ClassVar[float] = 10.0
    cuts_network: ClassVar[bool] = False
    """The nodes it hits are cut from the others while it lasts (reads may miss writes)."""

    def workload(self) -> dict[str, Any]:
        """Workload settings of this scenario (``WorkloadSpec`` fields)."""
        return {}

    def inject(self, run: Run) -> set[str]:
        """Inject the fault; return the nodes it hit."""
        raise NotImplementedError

    def heal(self, run: Run) -> None:
        """Undo the fault."""

    def finish(self, run: Run) -> None:
        """Clean up after the run has been checked."""

    def summarize(self, run: Run, events: list[ReplicaEvent], marks: dict[str, float]) -> None:
        """Add what this scenario measures to ``run.extra`` from the Replica timeline."""

    def check(self, report: dict[str, Any]) -> dict[str, bool]:
        """Checks of this scenario's own on the finished ``report`` (name -> passed)."""
        return {}

    def supported_by(self, target: Target) -> str | None:
        """Why ``target`` cannot run this scenario, or None."""
        for need in self.needs:
            options = need.split("|")
            if not any(o in target.capabilities for o in options):
                return (
                    f"scenario {self.name} needs {' or '.join(options)}, which this cluster lacks"
                )
        return None


class AgentKill(Scenario):
    """SIGKILL the agent of a node holding a replica; start it again at heal."""

    name = "agent-kill"
    description = "SIGKILL one agent holding a replica (on a cluster: delete its pod)"
    needs = frozenset({"agent-process|agent-pod"})

    def inject(self, run: Run) -> set[str]:
        """Kill the victim's agent."""
        self.victim = run.choose(run.holders)
        run.extra["victim"] = self.victim
        run.target.kill_agent(self.victim)
        return {self.victim}

    def heal(self, run: Run) -> None:
        """Start the agent again (what its DaemonSet would do)."""
        run.target.start_agent(self.victim)


class NodeLoss(AgentKill):
    """The node's heartbeat stops and its agent dies."""

    name = "node-loss"
    description = "a node holding a replica stops its heartbeat and its agent dies"
    needs = frozenset({"agent-process", "heartbeat"})

    def inject(self, run: Run) -> set[str]:
        """Stop the heartbeat, kill the agent."""
        nodes = super().inject(run)
        run.target.set_heartbeat(self.victim, running=False)
        return nodes

    def heal(self, run: Run) -> None:
        """Heartbeat and agent back."""
        run.target.set_heartbeat(self.victim, running=True)
        super().heal(run)


class OperatorRestart(Scenario):
    """The acting operator killed during a reconcile, then during a failover."""

    name = "operator-restart"
    description = (
        "kill the acting operator right after a spec change (during its reconcile), start "
        "it again; then kill an agent, and the operator again 2 s later (the failover "
        "falls to the restarted operator)"
    )
    needs = frozenset({"operator-process|operator-pod", "agent-process|agent-pod"})
    default_duration = 20.0
    restart_after = 1.0
    failover_pending = 2.0
    #: Seconds the victim's return (its Lease renewed) is looked for after its start.
    return_within = 60.0
    #: Seconds between two looks at its Lease.
    return_poll = 0.2
    _returning: threading.Thread | None = None

    def _restart_acting(self, run: Run, label: str) -> None:
        acting = run.target.acting_operator() or next(iter(run.target.operators()), None)
        if acting is None:
            raise TargetError("no operator runs")
        run.target.kill_operator(acting)
        run.mark(f"operator-killed-{label}")
        time.sleep(self.restart_after)
        run.target.start_operator(acting)
        run.mark(f"operator-restarted-{label}")
        run.extra.setdefault("operators_killed", []).append(acting)

    def _input(self, run: Run, what: str) -> None:
        """Note that the run is about to change what the operator must do.

        Noted before the change is made: the operator's answer is then always seen after
        it, so an action that answers the change is never taken for one undone without
        a cause (:func:`~statecast.chaos.timeline.churn`).
        """
        run.extra.setdefault("inputs", {})[what] = run.clock()

    def inject(self, run: Run) -> set[str]:
        """Kill in a reconcile (min + 1), then in a failover."""
        self._input(run, "min-raised")
        run.patch_resource({"replicas": {"min": run.minimum + 1}})
        self._restart_acting(run, "reconcile")
        run.wait_for(lambda: len(run.replica_nodes()) >= run.minimum + 1, 60.0)
        self.victim = run.choose(run.holders)
        run.extra["victim"] = self.victim
        self._input(run, "agent-killed")
        run.target.kill_agent(self.victim)
        run.mark("agent-killed")
        # while the dead agent's Lease runs out: the failover falls to the restarted one
        time.sleep(self.failover_pending)
        self._restart_acting(run, "failover")
        return {self.victim}

    def heal(self, run: Run) -> None:
        """The agent back; min as it was."""
        before = run.target.agent_renewed(self.victim)
        self._input(run, "agent-started")
        run.target.start_agent(self.victim)
        self._returning = threading.Thread(
            target=self._note_return, args=(run, before), name="agent-return", daemon=True
        )
        self._returning.start()
        self._input(run, "min-restored")
        run.patch_resource({"replicas": {"min": run.minimum}})

    def _note_return(self, run: Run, before: dt.datetime | None) -> None:
        """Note the victim's return: its Lease renewed after its start (input ``agent-returned``).

        What the operator sees of the agent coming back is its Lease, renewed seconds
        after the process started (later at load); it then drops the copy that stood in
        for it. A failover copy added while the Lease had lapsed and removed once it is
        renewed answers two changes. Noted when the harness sees the renewal (every
        :attr:`return_poll` s), so an operator's answer that comes before the note still
        counts against it, never the other way round.
        """
        deadline = time.monotonic() + self.return_within
        while time.monotonic() < deadline:
            try:
                renewed = run.target.agent_renewed(self.victim)
            except Exception:  # noqa: BLE001 - an API hiccup: look again
                renewed = None
            if renewed is not None and renewed != before:
                self._input(run, "agent-returned")
                return
            time.sleep(self.return_poll)

    def summarize(self, run: Run, events: list[ReplicaEvent], marks: dict[str, float]) -> None:
        """Actions in the first three intervals after each restart, and the churn.

        An action counts as extra when another in the window undid it with no input of
        the run in between (``inputs``: min raised, agent killed, agent started, min
        restored, agent returned - its Lease renewed): the removal of the copy added for
        the raised ``min`` once ``min`` is restored answers the run, not the restart.
        """
        window = 3 * run.interval
        if self._returning is not None:  # seen by now, or not within the run
            self._returning.join(timeout=0.0)
        inputs = list(run.extra.get("inputs", {}).values())
        after = {}
        for label in ("reconcile", "failover"):
            start = marks.get(f"operator-restarted-{label}")
            if start is None:
                continue
            actions = actions_between(events, start, start + window)
            after[label] = {
                "actions": actions,
                "extra_actions": churn(events, start, start + window, inputs),
            }
        run.extra["after_restart"] = after
        run.extra["after_restart_window_s"] = window


class Drain(Scenario):
    """Cordon a node holding a replica; evict its agent once the copies moved off."""

    name = "drain"
    description = "cordon a node holding replicas, then stop its agent once they moved off"
    needs = frozenset({"cordon", "agent-process|agent-pod"})
    default_duration = 20.0

    def inject(self, run: Run) -> set[str]:
        """Cordon; wait for the hand-off; stop the agent gracefully."""
        self.victim = run.choose(run.holders)
        run.extra["victim"] = self.victim
        run.target.cordon(self.victim, on=True)
        moved = run.wait_for(lambda: self.victim not in run.replica_nodes(), 60.0)
        run.mark("handed-off")
        run.extra["handed_off"] = bool(moved)
        run.target.stop_agent(self.victim)
        run.mark("agent-evicted")
        return {self.victim}

    def heal(self, run: Run) -> None:
        """Uncordon, start the agent."""
        run.target.cordon(self.victim, on=False)
        run.target.start_agent(self.victim)


class DiskFull(Scenario):
    """An agent's data directory on a small tmpfs that fills up.

    When the agent's data directory is a file system of its own (``make e2e-faults``
    gives each agent a tmpfs), it is filled where it is, while the agent runs: the fault
    is the full disk and nothing else. Otherwise the agent moves with its files: they
    are copied onto a tmpfs while it is stopped, and back when it returns to its own
    directory - a restart that costs the agent its Lease when it takes longer than one
    (4.6-15 s on the loaded machine against the benchmark's 6 s Leases). Starting it on
    an empty directory would be a lost disk, not a full one: increments it had
    acknowledged but not pushed yet stayed behind, and its counter slot, rebuilt from its
    peers under the same replica id, shadowed them for good (the join takes each slot's
    maximum) - the counters one or two short that this scenario reported under load.

    The disk stays full until the operator has replaced the victim's copy
    (``replicas.min`` Ready off the victim) or :attr:`replace_within` seconds passed,
    and the run checks (``min_restored``) that it did: a copy whose files cannot be
    written is replaced like a lost one (:mod:`statecast.core.storage`).
    """

    name = "disk-full"
    description = (
        "an agent's data directory fills up (in place on its own tmpfs, else moved onto"
        " one); full until replicas.min are Ready elsewhere"
    )
    needs = frozenset({"tmpfs"})
    free = 16 << 20
    #: Seconds the agent has on the tmpfs before it fills (it syncs with its peers).
    before_filling = 2.0
    #: Seconds the disk stays full at most, waiting for the copy to be replaced.
    replace_within = 60.0

    def mount(self, path: Path, size: int) -> None:
        """Mount a tmpfs of ``size`` bytes on ``path``."""
        mount_tmpfs(path, size)

    def unmount(self, path: Path) -> None:
        """Unmount ``path`` (lazily: nothing may hold it by then, but never hang)."""
        unmount(path)

    def inject(self, run: Run) -> set[str]:
        """Fill the agent's own file system, or move the agent onto a tmpfs and fill that."""
        self.victim = run.choose(run.holders)
        run.extra["victim"] = self.victim
        home = run.target.agent_data_dir(self.victim)
        if home is None:
            raise TargetError("disk-full needs the agent's data directory on this machine")
        run.extra["disk_full_in_place"] = home.is_mount()
        if home.is_mount():  # its own file system: full while the agent runs, no restart
            self.fill(run, home / "filler")
            return {self.victim}
        self.home, self.mount_point = home, home.with_name(home.name + "-tmpfs")
        self.mount_point.mkdir(parents=True, exist_ok=True)
        run.target.kill_agent(self.victim)
        self.mount(self.mount_point, _bytes_under(home) + self.free)
        self.mounted = True
        if home.is_dir():
            shutil.copytree(home, self.mount_point, symlinks=True, dirs_exist_ok=True)
        run.target.start_agent(self.victim, data_dir=self.mount_point)
        time.sleep(self.before_filling)
        self.fill(run, self.mount_point / "filler")
        return {self.victim}

    def fill(self, run: Run, filler: Path) -> None:
        """Write ``filler`` until its file system is full."""
        self.filler = filler
        fill_file_system(filler)
        run.mark("disk-full")

    def heal(self, run: Run) -> None:
        """Room again, once ``replicas.min`` copies are Ready off the victim (or too late)."""
        if (filler := getattr(self, "filler", None)) is None:
            return
        try:
            restored = run.wait_for(lambda: self._ready_elsewhere(run) >= run.minimum,
                                    self.replace_within)  # fmt: skip
            run.extra["min_ready_elsewhere_before_heal"] = bool(restored)
            run.mark("min-ready-elsewhere" if restored else "not-replaced")
        finally:
            filler.unlink(missing_ok=True)

    def _ready_elsewhere(self, run: Run) -> int:
        return sum(
            1 for node, phase in run.replica_nodes().items()
            if phase == "Ready" and node != self.victim
        )  # fmt: skip

    def check(self, report: dict[str, Any]) -> dict[str, bool]:
        """``replicas.min`` Ready again off the full disk (its copy replaced)."""
        return {"min_restored": report.get("min_restored_s") is not None}

    def finish(self, run: Run) -> None:
        """Back on its own data directory with the files it has now; unmount.

        Also after a run that failed half-way: nothing is done unless the tmpfs was
        mounted (then the agent is moved back, and the tmpfs never outlives the run).
        """
        if not getattr(self, "mounted", False):
            return
        self.mounted = False
        run.target.kill_agent(self.victim)
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.copytree(self.mount_point, self.home, symlinks=True)
        run.target.start_agent(self.victim)
        self.unmount(self.mount_point)
        shutil.rmtree(self.mount_point, ignore_errors=True)


def _bytes_under(directory: Path) -> int:
    """Bytes of the files under ``directory`` (rounded up to 4 KiB blocks)."""
    files = (p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in files)


class ClockSkew(Scenario):
    """Two agents restarted with their clocks 5 s ahead and 5 s behind."""

    name = "clock-skew"
    description = (
        "restart a holder's agent with its clock 5 s ahead, then another's 5 s behind, one "
        "at a time (the test-only STATECAST_TEST_CLOCK_SKEW_SECONDS), then back"
    )
    needs = frozenset({"clock"})
    skew = 5.0

    #: Seconds a restarted agent is given to serve its replica again.
    restart_timeout = 60.0

    def _restart(self, run: Run, node: str, env: dict[str, str] | None, label: str) -> None:
        """Restart ``node``'s agent; return once it serves the resource from its replica.

        Only then is the next agent restarted: the skewed clocks are the fault, not two
        holders down at once. (Waiting for the Replica's phase was no wait at all: the
        status still said Ready from before the restart, so the second holder went down
        a third of a second after the first and no replica served for seconds.)
        """
        run.target.kill_agent(node)
        killed = run.clock()
        run.target.start_agent(node, env=env)
        served = run.wait_for(lambda: self._back(run, node), self.restart_timeout)
        back = run.extra.setdefault("serving_again_after_s", {})
        back[f"{label}-{node}"] = round(run.clock() - killed, 2) if served else None

    def _back(self, run: Run, node: str) -> bool:
        """The node serves the resource from its replica again, or holds none any more.

        A restart slower than the Lease has the copy marked Lost, failed over and
        removed: the copies that replaced it serve, and the node never will.
        """
        return node not in run.replica_nodes() or run.serves_locally(node)

    def inject(self, run: Run) -> set[str]:
        """Restart a holder 5 s ahead, then another agent 5 s behind, one at a time."""
        ahead = run.choose(run.holders)
        others = sorted(n for n in run.target.agents() if n != ahead)
        behind = run.choose([n for n in others if n in run.holders] or others)
        self.skewed = {ahead: self.skew, behind: -self.skew}
        run.extra["skewed"] = self.skewed
        for node, seconds in self.skewed.items():
            env = {"STATECAST_TEST_CLOCK_SKEW_SECONDS": f"{seconds:g}"}
            self._restart(run, node, env, "skewed")
            run.mark(f"skewed-{node}")
        return set()

    def heal(self, run: Run) -> None:
        """Clocks right again, one agent at a time."""
        for node in getattr(self, "skewed", {}):
            self._restart(run, node, None, "healed")


class ZonePartition(Scenario):
    """The agents of one zone cut from the others' (through the network proxy), healed."""

    name = "zone-partition"
    description = (
        "cut every path between the agents of one zone and the others (Toxiproxy in front "
        "of each agent's port), then heal"
    )
    needs = frozenset({"proxy"})
    default_duration = 15.0
    cuts_network = True

    def inject(self, run: Run) -> set[str]:
        """Cut the zone of a replica holder from the rest."""
        zones = run.target.zones()
        self.side = {zones[run.choose(run.holders)]}
        run.extra["partitioned_zones"] = sorted(self.side)
        run.extra["paths_cut"] = run.target.partition(self.side, cut=True)
        return {n for n, z in zones.items() if z in self.side}

    def heal(self, run: Run) -> None:
        """Every path open again."""
        run.target.partition(self.side, cut=False)


class WriteBurst(Scenario):
    """10,000 writes a second for the duration; no other fault."""

    name = "write-burst"
    description = "10,000 writes/s on one resource for --duration seconds (default 10)"
    needs = frozenset()
    rate = 10_000.0
    writers_per_node = 2
    #: Writer processes (:mod:`statecast.chaos.writers`): one process's client threads
    #: share one interpreter lock and reached ~700 writes/s here.
    writer_processes = 4
    #: PUTs in flight per writer (:mod:`statecast.chaos.pipelined`): the rate is offered
    #: open-loop, not one round trip at a time (8 threads a node through the client
    #: library offered 593-738 writes/s in all).
    writer_pipeline = 64

    def workload(self) -> dict[str, Any]:
        """Pipelined writers in processes of their own, the rate shared among them."""
        return {
            "writers_per_node": self.writers_per_node,
            "total_write_rate": self.rate,
            "keys": 2000,
            "writer_processes": self.writer_processes,
            "writer_pipeline": self.writer_pipeline,
        }

    def inject(self, run: Run) -> set[str]:
        """The burst is the workload itself."""
        return set()


# --- strong resources (checked with --check linearizability) -----------------------------
def _leader(run: Run) -> str:
    """The leader now (waiting up to 30 s while an election is under way)."""
    leader = run.wait_for(lambda: run.status().get("leader"), 30.0)
    if not leader:
        raise TargetError(f"{run.namespace}/{run.resource} has no leader")
    return str(leader)


class LeaderKill(AgentKill):
    """SIGKILL the leader's agent; the operator fences a majority and promotes another."""

    name = "leader-kill"
    description = "SIGKILL the agent of a strong resource's leader; start it again at heal"
    checks = frozenset({"linearizability"})
    default_duration = 15.0

    def inject(self, run: Run) -> set[str]:
        """Kill the leader's agent."""
        self.victim = _leader(run)
        run.extra["victim"] = self.victim
        run.target.kill_agent(self.victim)
        run.mark("leader-killed")
        return {self.victim}


class FollowerKill(AgentKill):
    """SIGKILL the agent of a voter that does not lead: writes go on with the majority."""

    name = "follower-kill"
    description = "SIGKILL the agent of a strong resource's follower; start it again at heal"
    checks = frozenset({"linearizability"})

    def inject(self, run: Run) -> set[str]:
        """Kill a follower's agent."""
        status = run.status()
        followers = [v for v in status.get("voters") or () if v != status.get("leader")]
        if not followers:
            raise TargetError("the resource has no follower")
        self.victim = run.choose(followers)
        run.extra["victim"] = self.victim
        run.target.kill_agent(self.victim)
        run.mark("follower-killed")
        return {self.victim}


class LeaderPartition(Scenario):
    """The leader's agent cut from every other agent (its Lease still renewed)."""

    name = "leader-partition"
    description = (
        "cut every path between the leader's agent and the other agents (Toxiproxy); its "
        "Lease stays fresh, so the operator replaces it because it reaches no majority"
    )
    needs = frozenset({"proxy"})
    checks = frozenset({"linearizability"})
    default_duration = 15.0

    def inject(self, run: Run) -> set[str]:
        """Isolate the leader."""
        self.victim = _leader(run)
        run.extra["victim"] = self.victim
        run.extra["paths_cut"] = run.target.isolate({self.victim}, cut=True)
        run.mark("leader-cut")
        return {self.victim}

    def heal(self, run: Run) -> None:
        """Every path open again."""
        if hasattr(self, "victim"):
            run.target.isolate({self.victim}, cut=False)


class LeaderPartitionLapsed(LeaderPartition):
    """A cut-off leader whose Lease lapses too: frozen until its Replica is Lost.

    The leader's agent is cut from the other agents and stopped (SIGSTOP), as a node cut
    from the API server as well (or a paused VM) would be: its Lease lapses, the operator
    elects among the live voters, marks its Replica ``Lost`` and takes it out of the
    voters (the majority is counted over the voters left). Then it runs again, still
    cut, for :attr:`resumed_cut` seconds - a leader that slept through its own
    replacement, with writes in flight - and the cut heals.
    """

    name = "leader-partition-lapsed"
    description = (
        "cut every path between the leader's agent and the others and stop it (SIGSTOP) "
        "until its Lease lapsed and its Replica is Lost and out of the voters; it runs "
        "again still cut for a few seconds, then the cut heals"
    )
    needs = frozenset({"proxy", "agent-process"})
    #: Seconds the agent runs again, still cut, before the heal.
    resumed_cut = 3.0
    #: Seconds to wait for each step of the lapse (Lost, out of the voters).
    lapse_within = 60.0

    def inject(self, run: Run) -> set[str]:
        """Isolate and freeze the leader until it is Lost and no voter; resume it, cut."""
        hit = super().inject(run)
        run.target.pause_agent(self.victim, paused=True)
        self.paused = True
        run.mark("leader-paused")
        try:
            self._lapse(run)
        finally:
            run.target.pause_agent(self.victim, paused=False)
            self.paused = False
            run.mark("leader-resumed")
        time.sleep(self.resumed_cut)
        return hit

    def _lapse(self, run: Run) -> None:
        """Wait for the Lost mark and the voters without the victim; record both."""
        victim = self.victim
        # (Lost, or already removed: the observer's events say which, see summarize)
        lost = run.wait_for(
            lambda: run.replica_nodes().get(victim, "Lost") == "Lost", self.lapse_within
        )
        if lost:
            run.mark("victim-lost")
        voters = run.wait_for(
            lambda: (v := run.status().get("voters")) and victim not in v and v, self.lapse_within
        )
        if voters:
            run.mark("victim-out-of-voters")
        status = run.status()
        run.extra["lapse"] = {
            "lost": bool(lost),
            "out_of_voters": bool(voters),
            "voters": status.get("voters"),
            "epoch": status.get("epoch"),
            "leader": status.get("leader"),
        }

    def summarize(self, run: Run, events: list[ReplicaEvent], marks: dict[str, float]) -> None:
        """Whether the victim's Replica was seen Lost (the lapse noticed), and when."""
        seen = [e.at for e in events if e.node == self.victim and e.phase == "Lost"]
        run.extra["victim_lost_seen_s"] = round(min(seen), 3) if seen else None

    def heal(self, run: Run) -> None:
        """Resume the agent if a failure left it stopped; every path open again."""
        if getattr(self, "paused", False):
            run.target.pause_agent(self.victim, paused=False)
        super().heal(run)


class OperatorKillInFailover(LeaderKill):
    """The leader's agent killed, then the acting operator while it replaces the leader."""

    name = "operator-kill-failover"
    description = (
        "SIGKILL the leader's agent, then the acting operator at a random moment around "
        "the Lease's expiry (mid-election or near it); the other operator, or this one "
        "restarted, finishes or redoes the election"
    )
    needs = frozenset({"agent-process|agent-pod", "operator-process|operator-pod"})

    def inject(self, run: Run) -> set[str]:
        """Kill the leader's agent, then the operator."""
        hit = super().inject(run)
        time.sleep(2.0 + 2.0 * float(run.choose([str(i / 10) for i in range(11)])))
        acting = run.target.acting_operator() or next(iter(run.target.operators()), None)
        if acting is None:
            raise TargetError("no operator runs")
        status = run.status()
        run.extra["status_at_operator_kill"] = {k: status.get(k) for k in ("epoch", "leader")}
        run.target.kill_operator(acting)
        run.mark("operator-killed")
        time.sleep(1.0)
        run.target.start_operator(acting)
        run.extra["operator_killed"] = acting
        return hit


class AgentsRestart(Scenario):
    """Every agent holding a replica SIGKILLed at once, then started from its disk."""

    name = "agents-restart"
    description = "SIGKILL every agent holding a replica at once; start them again from disk"
    needs = frozenset({"agent-process|agent-pod"})
    checks = frozenset({"linearizability"})
    default_duration = 4.0

    def inject(self, run: Run) -> set[str]:
        """Kill them all."""
        self.victims = sorted(run.replica_nodes())
        for node in self.victims:
            run.target.kill_agent(node)
        run.mark("agents-killed")
        run.extra["victims"] = self.victims
        return set(self.victims)

    def heal(self, run: Run) -> None:
        """Start them all again."""
        for node in self.victims:
            run.target.start_agent(node)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        AgentKill(),
        NodeLoss(),
        OperatorRestart(),
        Drain(),
        DiskFull(),
        ClockSkew(),
        ZonePartition(),
        WriteBurst(),
        LeaderKill(),
        FollowerKill(),
        LeaderPartition(),
        LeaderPartitionLapsed(),
        OperatorKillInFailover(),
        AgentsRestart(),
    )
}
"""Every scenario by name. Scenarios keep per-run state: use ``type(s)()`` for a fresh one."""
