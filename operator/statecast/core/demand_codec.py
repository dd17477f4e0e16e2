"""A resource's demand history as bytes: a small JSON header and float32 arrays, gzipped.

Layout (before gzip): 4 bytes big-endian header length, the header (UTF-8 JSON:
``version``, ``interval``, ``end`` (the end of the newest interval held, seconds since
the epoch), the node names and interval count of each ring, and the few per-node values
of :class:`~statecast.core.demand_series.DemandSnapshot`), then the rings' values as
little-endian float32, ``total``, ``local``, ``writes``, ``pods``, ``coarse`` (the
total rolled up at ``coarseInterval`` seconds), each shape ``(nodes, intervals)``,
oldest interval first. :func:`encode_within` drops the oldest intervals until the blob
fits a size (a ConfigMap holds at most 1 MiB): the coarse ring's first, then the fine
ones'. Version 1 (no coarse ring) is still read: the coarse ring is then rebuilt from
the fine one when the history is restored.

Exceptions::

    ValueError
    └── HistoryFormatError   not a history blob, corrupt, or of another version
"""

from __future__ import annotations

import gzip
import json
import math
import struct
import zlib
from typing import Any

import numpy as np

from statecast.core.demand_series import Cursor, DemandSnapshot, Span, coarse_interval
from statecast.core.interval_ring import RingSnapshot

__all__ = ["VERSION", "HistoryFormatError", "decode", "encode", "encode_within"]

#: Version of the layout; a blob of another version (but 1, read too) is refused.
VERSION = 2
_READ = (1, 2)
_RINGS = ("total", "local", "writes", "pods", "coarse")
_EMPTY = RingSnapshot((), None, np.zeros((0, 0), dtype=np.float32))
#: Largest blob decompressed (a ConfigMap's 1 MiB of gzip could otherwise expand to GiBs).
MAX_DECODED_BYTES = 256 * 1024 * 1024


class HistoryFormatError(ValueError):
    """The bytes are not a demand history this version reads."""


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def encode(snapshot: DemandSnapshot) -> bytes:
    """The snapshot as bytes (see the module docstring for the layout)."""
    rings: dict[str, RingSnapshot] = {name: getattr(snapshot, name) for name in _RINGS}
    total = snapshot.total
    header: dict[str, Any] = {
        "version": VERSION,
        "interval": snapshot.interval,
        "coarseInterval": coarse_interval(snapshot.interval),
        "end": None if total.last is None else (total.last + 1) * snapshot.interval,
        "rings": {
            name: {"nodes": list(r.nodes), "last": r.last, "steps": int(r.values.shape[1])}
            for name, r in rings.items()
        },
        "since": dict(snapshot.since),
        "covered": dict(snapshot.covered),
        "cursors": {
            node: [c.started_at, c.time, c.local, c.remote, c.writes]
            for node, c in snapshot.cursors.items()
        },
        "raw": {
            node: [[s.start, s.end, s.local, s.remote, s.writes] for s in spans]
            for node, spans in snapshot.raw.items()
        },
        "folded": _number(snapshot.folded),
        "podChanges": [[t, dict(c)] for t, c in snapshot.pod_changes],
        "podsFolded": snapshot.pods_folded,
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    arrays = b"".join(np.ascontiguousarray(r.values, dtype="<f4").tobytes() for r in rings.values())
    return gzip.compress(struct.pack(">I", len(text)) + text + arrays, mtime=0)


def decode(blob: bytes, max_bytes: int = MAX_DECODED_BYTES) -> DemandSnapshot:
    """The snapshot a blob of :func:`encode` holds.

    Args:
        blob: the bytes.
        max_bytes: refuse a blob that decompresses to more than this.

    Raises:
        HistoryFormatError: not gzip, truncated, too large, malformed, or another version.
    """
    try:
        inflater = zlib.decompressobj(wbits=31)  # gzip
        raw = inflater.decompress(blob, max_bytes)
        if inflater.unconsumed_tail:
            raise ValueError(f"it expands beyond {max_bytes} bytes")
        if not inflater.eof:
            raise EOFError("the gzip stream is truncated")
        (length,) = struct.unpack(">I", raw[:4])
        header = json.loads(raw[4 : 4 + length])
    except (OSError, EOFError, zlib.error, struct.error, ValueError) as err:
        raise HistoryFormatError(f"not a demand history: {err}") from None
    if not isinstance(header, dict) or header.get("version") not in _READ:
        version = header.get("version") if isinstance(header, dict) else None
        raise HistoryFormatError(f"demand history version {version!r}, this reads {VERSION}")
    try:
        return _snapshot(header, raw[4 + length :])
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise HistoryFormatError(f"malformed demand history: {err!r}") from None


def _snapshot(header: dict[str, Any], data: bytes) -> DemandSnapshot:
    rings: dict[str, RingSnapshot] = {}
    offset = 0
    for name in _RINGS:
        if name == "coarse" and header["version"] == 1:
            rings[name] = _EMPTY
            continue
        ring = header["rings"][name]
        nodes = tuple(str(n) for n in ring["nodes"])
        steps = int(ring["steps"])
        size = len(nodes) * steps * 4
        if offset + size > len(data):
            raise ValueError(f"ring {name} is truncated")
        values = np.frombuffer(data, dtype="<f4", count=len(nodes) * steps, offset=offset)
        offset += size
        if not np.isfinite(values).all():
            raise ValueError(f"ring {name} holds a value that is not finite")
        last = ring["last"]
        rings[name] = RingSnapshot(
            nodes,
            None if last is None else int(last),
            values.reshape(len(nodes), steps).astype(np.float32),
        )
    if offset != len(data):
        raise ValueError("trailing bytes after the rings")
    folded = header["folded"]
    pods_folded = header["podsFolded"]
    interval = float(header["interval"])
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(f"interval {interval} is not a positive number of seconds")
    if header.get("coarseInterval", coarse_interval(interval)) != coarse_interval(interval):
        rings["coarse"] = _EMPTY  # rolled up differently: rebuilt from the fine ring
    return DemandSnapshot(
        interval=interval,
        total=rings["total"],
        local=rings["local"],
        writes=rings["writes"],
        pods=rings["pods"],
        coarse=rings["coarse"],
        since={str(k): float(v) for k, v in header["since"].items()},
        covered={str(k): float(v) for k, v in header["covered"].items()},
        cursors={
            str(k): Cursor(float(v[0]), float(v[1]), int(v[2]), int(v[3]), int(v[4]))
            for k, v in header["cursors"].items()
        },
        raw={
            str(k): tuple(Span(*(float(x) for x in s[:5])) for s in spans)
            for k, spans in header["raw"].items()
        },
        folded=-math.inf if folded is None else float(folded),
        pod_changes=tuple(
            (float(t), {str(n): int(c) for n, c in counts.items()})
            for t, counts in header["podChanges"]
        ),
        pods_folded=None if pods_folded is None else float(pods_folded),
    )


def _newest(ring: RingSnapshot, keep: int) -> RingSnapshot:
    return RingSnapshot(
        ring.nodes, ring.last, ring.values[:, max(0, ring.values.shape[1] - keep) :]
    )


def _cut(snapshot: DemandSnapshot, keep: int, keep_coarse: int) -> DemandSnapshot:
    """The snapshot cut to its newest intervals: ``keep`` fine, ``keep_coarse`` coarse.

    ``keep`` applies to the fine demand and pod rings. Each node's ``since`` moves up to
    the first interval kept (of either ring), so the dropped ones read as unknown rather
    than idle.
    """
    since = dict(snapshot.since)
    firsts = [
        (ring.last - k + 1) * seconds
        for ring, k, seconds in (
            (snapshot.total, keep, snapshot.interval),
            (snapshot.coarse, keep_coarse, coarse_interval(snapshot.interval)),
        )
        if ring.last is not None and k > 0
    ]
    if snapshot.total.last is not None:
        first_kept = min(firsts, default=(snapshot.total.last + 1) * snapshot.interval)
        since = {node: max(t, first_kept) for node, t in since.items()}
    return DemandSnapshot(
        interval=snapshot.interval,
        total=_newest(snapshot.total, keep),
        local=snapshot.local,
        writes=snapshot.writes,
        pods=_newest(snapshot.pods, keep),
        coarse=_newest(snapshot.coarse, keep_coarse),
        since=since,
        covered=snapshot.covered,
        cursors=snapshot.cursors,
        raw=snapshot.raw,
        folded=snapshot.folded,
        pod_changes=snapshot.pod_changes,
        pods_folded=snapshot.pods_folded,
    )


def encode_within(snapshot: DemandSnapshot, max_bytes: int) -> tuple[bytes, int]:
    """The snapshot as at most ``max_bytes`` bytes, and how many of its intervals were dropped.

    The oldest intervals of the coarse ring go first, then those of the fine demand and
    pod rings; when even none fits, the blob holds no interval at all (still a valid
    history: the recent split, the cursors). The count returned is of fine intervals.
    """
    steps = snapshot.total.values.shape[1]
    keep_coarse = snapshot.coarse.values.shape[1]
    blob = encode(snapshot)
    while len(blob) > max_bytes and keep_coarse > 0:
        keep_coarse = max(0, min(keep_coarse - 1, int(keep_coarse * max_bytes / len(blob) * 0.9)))
        blob = encode(_cut(snapshot, steps, keep_coarse))
    keep = steps
    while len(blob) > max_bytes and keep > 0:
        keep = max(0, min(keep - 1, int(keep * max_bytes / len(blob) * 0.95)))
        blob = encode(_cut(snapshot, keep, 0))
    return blob, steps - keep
