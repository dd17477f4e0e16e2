"""The demand history across operator restarts: one ConfigMap per SharedResource.

:class:`HistoryKeeper` loads a resource's saved history
(:mod:`statecast.core.demand_codec`) into the sampler the first time the operator
reconciles it, and saves every resource's history every ``period`` seconds
(``STATECAST_HISTORY_SAVE_SECONDS``, default 300) and when the operator stops. A
period's saves are spread over :data:`SAVE_ROUNDS` rounds, each resource in its own
(:func:`save_round`): saved all at once, a thousand resources made a burst of a
thousand ConfigMap writes every five minutes (docs/scale-history.md, session 10). The first
round waits for the operator's first pass to be over (``settled``), at most a period:
30 s after the start it fell in the tail of a first pass over 1,000 new resources
(a hundred ConfigMap writes of ~3 intervals of history each, and the core API client's
import, half a second of CPU; docs/scale-history.md, session 15). The
ConfigMap (:func:`history_configmap`) is named ``statecast-history-<resource>``, lives in
the resource's namespace, carries the label ``statecast.io/history`` and an owner
reference to the resource (the garbage collector deletes it with the resource), and
holds the blob under ``binaryData.demand``, at most :data:`MAX_BYTES` (the oldest
intervals are dropped to fit, and a log line says how many).

Only the acting operator samples and saves. kopf's peering pauses a standby, and with
it the reconciles and their safety resyncs: :class:`Activity` counts the operator as
acting while its reconciles (a safety resync of each resource every minute) keep
coming. A pod that acts again after a pause drops what it held and loads every
resource again, since the other pod may have saved newer history meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from statecast.api.types import GROUP, VERSION, Ref
from statecast.controller.periodic import Periodic
from statecast.controller.sampling import DemandSampler
from statecast.core.demand_codec import HistoryFormatError, decode, encode_within

__all__ = [
    "BLOB_KEY",
    "HISTORY_LABEL",
    "MAX_BYTES",
    "SAVE_ROUNDS",
    "SAVE_SECONDS",
    "Activity",
    "HistoryKeeper",
    "HistoryStore",
    "Owner",
    "history_configmap",
    "history_name",
    "save_round",
]

log = logging.getLogger(__name__)

SAVE_SECONDS = float(os.environ.get("STATECAST_HISTORY_SAVE_SECONDS", "300"))
#: Rounds a period's saves are spread over (a round every ``period / SAVE_ROUNDS`` s).
SAVE_ROUNDS = 10
#: Largest blob saved: under a ConfigMap's 1 MiB with room for its metadata.
MAX_BYTES = 900 * 1024
HISTORY_LABEL = f"{GROUP}/history"
BLOB_KEY = "demand"
_PREFIX = "statecast-history-"


def save_round(ref: Ref, rounds: int) -> int:
    """The round (of ``rounds``) a resource's history is saved in.

    The same in every period and every process: a CRC of its namespace and name, not
    Python's salted hash.
    """
    return zlib.crc32(f"{ref[0]}/{ref[1]}".encode()) % max(1, rounds)


@dataclass(frozen=True)
class Owner:
    """The SharedResource a history belongs to.

    ``reconciled``: an operator has reconciled it before (it has a status). Only such a
    resource can have a saved history - every reconcile writes a status, and only a
    reconciled resource's history is saved - so one never reconciled is not read (a
    first pass over a thousand new resources read a thousand ConfigMaps that did not
    exist, one request each).
    """

    namespace: str
    name: str
    uid: str
    reconciled: bool = True


class HistoryStore(Protocol):
    """Where histories are kept (the gateway)."""

    def read_history(self, namespace: str, name: str, uid: str) -> bytes | None:
        """The blob saved for resource ``name`` whose uid is ``uid``; None when there is none."""

    def write_history(self, body: dict[str, Any]) -> None:
        """Create or replace a history ConfigMap (:func:`history_configmap`)."""


def history_name(resource: str) -> str:
    """The ConfigMap name of a resource's history (hashed when the name is too long)."""
    name = _PREFIX + resource
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(resource.encode()).hexdigest()[:10]
    return f"{name[: 253 - 11]}-{digest}"


def history_configmap(owner: Owner, blob: bytes) -> dict[str, Any]:
    """The ConfigMap holding ``blob`` for ``owner``, owned by it."""
    import base64

    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": history_name(owner.name),
            "namespace": owner.namespace,
            "labels": {
                HISTORY_LABEL: "demand",
                f"{GROUP}/resource": owner.name[:63].rstrip("-."),
                "app.kubernetes.io/managed-by": "statecast",
            },
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "SharedResource",
                    "name": owner.name,
                    "uid": owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "binaryData": {BLOB_KEY: base64.b64encode(blob).decode()},
    }


class Activity:
    """Whether this operator acts: a reconcile within the last ``window`` seconds.

    Args:
        window: seconds after the last reconcile that still count as acting.
        clock: monotonic seconds (a test seam).
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._last = float("-inf")
        self._lock = threading.Lock()

    def mark(self) -> bool:
        """Note a reconcile; True when it starts a period of acting (first, or after a pause)."""
        now = self.clock()
        with self._lock:
            started = now - self._last > self.window
            self._last = now
        return started

    def active(self) -> bool:
        """Whether the last reconcile was recent enough."""
        with self._lock:
            return self.clock() - self._last <= self.window


class HistoryKeeper:
    """Loads and saves the sampler's history through a :class:`HistoryStore`.

    Args:
        sampler: the demand history's owner.
        store: where histories are kept (the operator's gateway).
        activity: when this operator acts.
        period: seconds between saves.
        max_bytes: largest blob saved.
        load_threads: read saved histories in this many background threads (0: in the
            reconcile that first sees a resource). A first pass over a thousand
            resources waited on a thousand ConfigMap reads, one in every reconcile; in
            the background, the reconcile goes on (its forecast waits for the
            operator's own readings anyway) and the history joins when it is read.
        settled: whether the operator's first pass is over (:meth:`Wakeups.busy
            <statecast.controller.wakeups.Wakeups.busy>` no longer); no round saves
            before, or before a ``period`` has passed since the keeper was made.
        clock: monotonic seconds (a test seam).
    """

    def __init__(
        self,
        sampler: DemandSampler,
        store: HistoryStore,
        activity: Activity,
        period: float = SAVE_SECONDS,
        max_bytes: int = MAX_BYTES,
        load_threads: int = 0,
        settled: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sampler, self.store, self.activity = sampler, store, activity
        self._settled, self.clock = settled, clock
        self._made, self._saving = clock(), False
        self.period, self.max_bytes = period, max_bytes
        self._round = 0  # the next round of saves (of SAVE_ROUNDS a period)
        self._owners: dict[Ref, Owner] = {}
        self._loading: set[Ref] = set()
        self._epoch = 0  # counts the times this operator started acting again
        self._lock = threading.Lock()
        self._loader = (
            ThreadPoolExecutor(load_threads, thread_name_prefix="history-load")
            if load_threads > 0
            else None
        )
        self._loop = Periodic(
            "history-keeper",
            period / SAVE_ROUNDS,
            self._save_while_acting,
            failed_event="history-save-failed",
            wait_first=True,
        )

    def observe(self, owner: Owner, interval: float) -> None:
        """A reconcile of ``owner``: load its history the first time, keep its interval.

        A failed read is retried on the next reconcile (nothing of it is saved until it
        is read); a blob that cannot be decoded is ignored with a warning, and the
        history starts again.
        """
        if self.activity.mark():
            with self._lock:
                self._owners.clear()
                self._loading.clear()
                self._epoch += 1
            self.sampler.reset()
        ref = (owner.namespace, owner.name)
        with self._lock:
            known, loading, epoch = self._owners.get(ref), ref in self._loading, self._epoch
            if (known is None or known.uid != owner.uid) and not loading and self._loader:
                self._loading.add(ref)
                self._loader.submit(self._load_owner, owner, epoch)
                loading = True
        fresh = not loading and (known is None or known.uid != owner.uid)
        if fresh and not self._load_owner(owner, epoch):
            return
        self.sampler.set_interval(ref, interval)

    def _load_owner(self, owner: Owner, epoch: int) -> bool:
        """Load ``owner``'s history and keep it as loaded (unless acting started again).

        Returns:
            Whether it was read (False: try again at the next reconcile).
        """
        ref = (owner.namespace, owner.name)
        loaded = self._load(owner)
        with self._lock:
            self._loading.discard(ref)
            if loaded and epoch == self._epoch:
                self._owners[ref] = owner
        return loaded

    def _load(self, owner: Owner) -> bool:
        if not owner.reconciled:
            return True  # nothing can have been saved for it
        try:
            blob = self.store.read_history(owner.namespace, owner.name, owner.uid)
        except Exception as err:  # noqa: BLE001 - any API failure: try again next time
            log.warning(
                "event=history-load-failed resource=%s/%s error=%s",
                owner.namespace, owner.name, err,
            )  # fmt: skip
            return False
        if blob is None:
            return True
        try:
            snapshot = decode(blob)
        except HistoryFormatError as err:
            log.warning(
                "event=history-ignored resource=%s/%s reason=%s",
                owner.namespace, owner.name, err,
            )  # fmt: skip
            return True
        self.sampler.restore((owner.namespace, owner.name), snapshot)
        log.info(
            "event=history-loaded resource=%s/%s interval=%s intervals=%d nodes=%d",
            owner.namespace, owner.name, snapshot.interval,
            snapshot.total.values.shape[1], len(snapshot.total.nodes),
        )  # fmt: skip
        return True

    def forget(self, ref: Ref) -> None:
        """A deleted resource: save it no more (its ConfigMap goes with it)."""
        with self._lock:
            self._owners.pop(ref, None)

    def save(self, round_: int | None = None) -> int:
        """Save every loaded resource's history now; return how many were written.

        ``round_``: only the resources of that round of :data:`SAVE_ROUNDS`
        (:func:`save_round`; None: all).
        """
        with self._lock:
            owners = [
                o
                for ref, o in self._owners.items()
                if round_ is None or save_round(ref, SAVE_ROUNDS) == round_
            ]
        written = 0
        for owner in owners:
            snapshot = self.sampler.snapshot((owner.namespace, owner.name))
            if snapshot is None:
                continue
            blob, dropped = encode_within(snapshot, self.max_bytes)
            if dropped:
                log.warning(
                    "event=history-trimmed resource=%s/%s dropped_intervals=%d bytes=%d",
                    owner.namespace, owner.name, dropped, len(blob),
                )  # fmt: skip
            try:
                self.store.write_history(history_configmap(owner, blob))
            except Exception as err:  # noqa: BLE001 - keep saving the others
                log.warning(
                    "event=history-save-failed resource=%s/%s error=%s",
                    owner.namespace, owner.name, err,
                )  # fmt: skip
                continue
            written += 1
        return written

    # --- background thread ----------------------------------------------------------
    def start(self) -> None:
        """Save every ``period`` seconds, while acting, in a daemon thread until :meth:`stop`."""
        self._loop.start()

    def stop(self) -> None:
        """Stop the thread and, while acting, save once more."""
        self._loop.stop()
        if self._loader is not None:
            self._loader.shutdown(wait=True, cancel_futures=True)
        if self.activity.active():
            self.save()

    def saving(self) -> bool:
        """Whether rounds save: once the first pass was over, or a period after the start."""
        if not self._saving:
            self._saving = self._settled() or self.clock() - self._made >= self.period
        return self._saving

    def _save_while_acting(self) -> None:
        if not self.saving():
            return  # the first pass comes first; the round is not skipped, only later
        round_, self._round = self._round, (self._round + 1) % SAVE_ROUNDS
        if self.activity.active():
            self.save(round_)
