"""The Replicas, watched outside kopf: :class:`ReplicaStore` is what a reconcile reads of them.

Until session 16 the Replicas were a kopf index with a kopf event handler. kopf runs its
whole per-object machinery for each event of an indexed or handled kind (its memory of
the object, a task and a queue per object, loggers, throttling, the index's and the
handler's causes, a patch to apply): a first pass over a thousand new resources brings
some four thousand Replica events (each creation, each agent's first report), and
kopf's processing of them was the largest block of the operator's own CPU in the pass
(docs/scale.md). :class:`ReplicaWatch` lists the Replicas once, then follows a plain
watch in a daemon thread, keeps each one's :class:`ReplicaView` in a
:class:`ReplicaStore` (keyed by (namespace, resource) as the index was) and tells the
:class:`~statecast.controller.wakeups.Wakeups` what the event handler told it:
:func:`wakes` decides which events wake the Replica's resource.

The thread lists, watches from the list's version, watches again from the last version
seen when the server ends a watch, and lists again when one fails; a list after the
first compares with what was kept, and wakes the resources whose Replicas it finds
changed or gone (events the gap hid). The woken
reconciles wait for the first list (:meth:`ReplicaStore.wait_listed`): kopf held its
handlers back until its indexes were populated, for the same reason - a reconcile that
saw none of a resource's Replicas would place them again.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping
from typing import Any, Protocol

from statecast.api.types import Ref
from statecast.controller.daemon import WatchLoop
from statecast.core.reconcile.views import ReplicaView, replica_view

__all__ = ["ReplicaFeed", "ReplicaSource", "ReplicaStore", "ReplicaWatch", "served", "wakes"]


def wakes(kind: str | None, body: Mapping[str, Any]) -> bool:
    """Whether a Replica's event wakes its resource: its agent reported, or it went.

    A Replica listed (``kind`` None: its resource is reconciled when listed anyway) or
    just created without a status (the reconcile that created it counted it already)
    wakes nothing.
    """
    return kind in ("MODIFIED", "DELETED") or (kind == "ADDED" and bool(body.get("status")))


def served(namespaces: Iterable[str]) -> Callable[[str], bool]:
    """Whether a namespace is one the operator serves, as kopf reads its ``namespaces``.

    Empty: the whole cluster. Otherwise names or globs (``ns-*``), and ``!glob`` for
    those left out.
    """
    wanted = [p for p in namespaces if not p.startswith("!")]
    left_out = [p[1:] for p in namespaces if p.startswith("!")]
    if not wanted and not left_out:
        return lambda _: True
    return lambda ns: (
        (not wanted or any(fnmatch.fnmatchcase(ns, p) for p in wanted))
        and not any(fnmatch.fnmatchcase(ns, p) for p in left_out)
    )


class ReplicaSource(Protocol):
    """Where the Replicas are listed and watched (the operator's ``KubeGateway``)."""

    def replicas_at(self, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Every Replica's body (of ``namespace``; None: all) and the list's resource version."""

    def watch_replicas(
        self, resource_version: str, timeout: int = 300, namespace: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The Replica events after ``resource_version``: (type, body), bookmarks included."""


class ReplicaFeed(Protocol):
    """What the watch tells (:class:`~statecast.controller.wakeups.Wakeups`)."""

    def replica(self, ref: Ref, node: str, *, present: bool) -> None:
        """A copy of ``ref`` on ``node`` is there (or went)."""

    def wake(self, refs: Iterable[Ref], *, first: bool = False) -> None:
        """Queue ``refs``' reconciles."""


class ReplicaStore(Mapping[Ref, tuple[ReplicaView, ...]]):
    """The Replicas' views by (namespace, resource), as the watch last saw them.

    Read from the reconciles' threads while the watch's thread writes: every read is a
    copy taken under the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ref: dict[Ref, dict[str, ReplicaView]] = {}
        self._ref_of: dict[tuple[str, str], Ref] = {}  # (namespace, name) -> resource
        self._listed = threading.Event()

    def listed(self, views: Iterable[ReplicaView]) -> tuple[set[Ref], set[tuple[Ref, str]]]:
        """Replace everything with a list's ``views``.

        Returns:
            The resources whose Replicas changed, and the (resource, node) copies gone,
            since what was kept; the first list changes nothing (nothing to compare with).
        """
        fresh: dict[Ref, dict[str, ReplicaView]] = {}
        for view in views:
            fresh.setdefault((view.namespace, view.resource), {})[view.name] = view
        with self._lock:
            first = not self._listed.is_set()
            before, self._by_ref = self._by_ref, fresh
            self._ref_of = {(ref[0], name): ref for ref, named in fresh.items() for name in named}
            self._listed.set()
        if first:
            return set(), set()
        changed = {ref for ref in before.keys() | fresh.keys() if before.get(ref) != fresh.get(ref)}
        kept = {(ref, v.node) for ref, named in fresh.items() for v in named.values()}
        gone = {(ref, v.node) for ref in changed for v in before.get(ref, {}).values()} - kept
        return changed, gone

    def seen(self, kind: str, view: ReplicaView) -> None:
        """One watch event's Replica: kept (ADDED, MODIFIED) or dropped (DELETED)."""
        ref, key = (view.namespace, view.resource), (view.namespace, view.name)
        with self._lock:
            earlier = self._ref_of.pop(key, None)
            if earlier is not None:  # its resource's name is in its spec: never moves
                self._drop(earlier, view.name)
            if kind != "DELETED":
                self._by_ref.setdefault(ref, {})[view.name] = view
                self._ref_of[key] = ref

    def _drop(self, ref: Ref, name: str) -> None:
        named = self._by_ref.get(ref)
        if named is not None:
            named.pop(name, None)
            if not named:
                del self._by_ref[ref]

    def wait_listed(self, timeout: float | None = None) -> bool:
        """Wait for the first list; whether it came."""
        return self._listed.wait(timeout)

    def __getitem__(self, ref: Ref) -> tuple[ReplicaView, ...]:
        with self._lock:
            return tuple(self._by_ref[ref].values())

    def items(self) -> ItemsView[Ref, tuple[ReplicaView, ...]]:
        """A snapshot of every resource's Replicas (never changes while iterated)."""
        with self._lock:
            return {ref: tuple(named.values()) for ref, named in self._by_ref.items()}.items()

    def __iter__(self) -> Iterator[Ref]:
        with self._lock:
            return iter(list(self._by_ref))

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_ref)


class ReplicaWatch(WatchLoop):
    """Keeps ``store`` current and ``feed`` told from a list and watch of the Replicas.

    Args:
        source: where the Replicas are listed and watched.
        store: what is kept.
        feed: who is told of each Replica's arrival and departure, and woken.
        namespaces: the namespaces the operator serves (kopf's: names, globs; empty: all).
            One name is listed and watched alone; otherwise the whole cluster's
            Replicas are, and those of other namespaces left out.
        timeout: seconds a watch lasts before it is started over.
        retry: seconds before a failed list or watch is tried again.
    """

    def __init__(
        self,
        source: ReplicaSource,
        store: ReplicaStore,
        feed: ReplicaFeed,
        namespaces: Iterable[str] = (),
        timeout: int = 300,
        retry: float = 1.0,
    ) -> None:
        self.source, self.store, self.feed = source, store, feed
        names = list(namespaces)
        alone = len(names) == 1 and not any(c in names[0] for c in "*?[!")
        self.namespace, self.served = (names[0] if alone else None), served(names)
        self.timeout = timeout
        self._version = ""  # the newest seen ("": list before watching)
        super().__init__("replica-watch", retry)

    def watch_once(self) -> None:
        """List if need be, then watch from the newest version seen until the watch ends."""
        self._version = self._version or self.list_once()
        events = self.source.watch_replicas(self._version, self.timeout, self.namespace)
        for kind, body in events:
            if self.stopping:
                return
            self._version = (body.get("metadata") or {}).get("resourceVersion") or self._version
            if kind != "BOOKMARK":
                self.event(kind, body)

    def restarted(self) -> None:
        """A list or watch failed: list again (a 410 says the version is too old)."""
        self._version = ""

    def list_once(self) -> str:
        """List every Replica into the store; wake the resources a gap changed.

        Returns:
            The list's resource version (to watch from).
        """
        bodies, version = self.source.replicas_at(self.namespace)
        views = [v for v in map(replica_view, bodies) if self.served(v.namespace)]
        changed, gone = self.store.listed(views)
        for ref, node in gone:
            self.feed.replica(ref, node, present=False)
        for view in views:
            self.feed.replica((view.namespace, view.resource), view.node, present=True)
        if changed:
            self.feed.wake(sorted(changed))
        return version

    def event(self, kind: str, body: Mapping[str, Any]) -> None:
        """One watch event: keep the Replica, tell the feed, wake its resource if due."""
        view = replica_view(body)
        if not self.served(view.namespace):
            return
        ref = (view.namespace, view.resource)
        self.store.seen(kind, view)
        self.feed.replica(ref, view.node, present=kind != "DELETED")
        if wakes(kind, body):
            self.feed.wake([ref])
