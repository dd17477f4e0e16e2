"""The API server's own view of the scale benchmark: its audit log.

The benchmark used to time the operator by when its own process saw watch events: a
process that also plays fifty agents and decodes every event lagged at a thousand
resources (it timed at 19 s spec changes the operator made within 1 s). The audit log
is the API server's record of each request, with its own timestamps (microseconds):
when a write was answered. :data:`POLICY` selects what the benchmark times - the
SharedResources' spec and status writes, the Replicas' creations and status writes in
its namespace - and nothing else (no heartbeat, no read).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "POLICY",
    "Write",
    "copies_at",
    "first_after",
    "first_write_after",
    "pass_done",
    "read_writes",
]

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    namespaces: ["{namespace}"]
    verbs: ["create", "patch", "update", "delete"]
    resources:
      - group: statecast.io
        resources: ["replicas", "replicas/status", "sharedresources", "sharedresources/status"]
  - level: None
"""


@dataclass(frozen=True)
class Write:
    """One write the API server answered.

    Attributes:
        verb: create, patch, update or delete.
        resource: ``replicas``, ``sharedresources``, with ``/status`` for the subresource.
        name: the object's name.
        user: who wrote it.
        code: the HTTP status of the answer.
        at: when the answer was complete (seconds since the epoch).
        received: when the request came in (``at`` when the log does not say).
    """

    verb: str
    resource: str
    name: str
    user: str
    code: int
    at: float
    received: float = 0.0


def read_writes(path: Path) -> list[Write]:
    """Every write in the audit log at ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    return list(_parse(path.read_text().splitlines()))


def _parse(lines: Iterable[str]) -> Iterator[Write]:
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a rotation or a stop
        ref = entry.get("objectRef") or {}
        resource = ref.get("resource", "")
        if ref.get("subresource"):
            resource = f"{resource}/{ref['subresource']}"
        stamp = entry.get("stageTimestamp") or entry.get("requestReceivedTimestamp")
        if not stamp:
            continue
        at = _seconds(stamp)
        came = entry.get("requestReceivedTimestamp")
        yield Write(
            entry.get("verb", ""),
            resource,
            ref.get("name", ""),
            (entry.get("user") or {}).get("username", ""),
            int((entry.get("responseStatus") or {}).get("code", 0)),
            at,
            _seconds(came) if came else at,
        )


def _seconds(stamp: str) -> float:
    """An audit timestamp (RFC 3339, microseconds) as seconds since the epoch."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def first_write_after(
    writes: Iterable[Write],
    since: float,
    verb: str,
    resource: str,
    *,
    name: str | None = None,
    prefix: str | None = None,
) -> Write | None:
    """The first successful ``verb`` of a ``resource`` (named ``name``, or ``prefix...``)
    answered at or after ``since`` (None: none)."""
    found = [
        w
        for w in writes
        if w.at >= since
        and w.verb == verb
        and w.resource == resource
        and (name is None or w.name == name)
        and (prefix is None or w.name.startswith(prefix))
        and 200 <= w.code < 300
    ]
    return min(found, key=lambda w: w.at) if found else None


def first_after(
    writes: Iterable[Write],
    since: float,
    verb: str,
    resource: str,
    *,
    name: str | None = None,
    prefix: str | None = None,
) -> float | None:
    """When the first successful ``verb`` of a ``resource`` (named ``name``, or
    ``prefix...``) at or after ``since`` was answered (None: none)."""
    first = first_write_after(writes, since, verb, resource, name=name, prefix=prefix)
    return first.at if first is not None else None


def pass_done(
    writes: Iterable[Write], names: Iterable[str], since: float, copies: int
) -> float | None:
    """When every resource of ``names`` had, since ``since``, a status written and
    ``copies`` Replicas created (None: one had not by the end of the log)."""
    status: dict[str, float] = {}
    created: dict[str, list[float]] = {}
    for w in writes:
        if w.at < since or not 200 <= w.code < 300:
            continue
        if w.verb == "patch" and w.resource == "sharedresources/status":
            status[w.name] = min(w.at, status.get(w.name, w.at))
        elif w.verb == "create" and w.resource == "replicas":
            created.setdefault(w.name.rsplit("-", 2)[0], []).append(w.at)
    done = 0.0
    for name in names:
        made = sorted(created.get(name, []))
        if name not in status or len(made) < copies:
            return None
        done = max(done, status[name], made[copies - 1])
    return done


def copies_at(writes: Iterable[Write], at: float) -> dict[str, set[str]]:
    """Resource -> the names of its Replicas that existed at ``at``, by the audit log.

    Created (answered 2xx) before ``at`` and not deleted before it. Replica names are
    ``<resource>-<node>``, nodes ``node-<n>``.
    """
    live: set[str] = set()
    for w in sorted(writes, key=lambda w: w.at):
        if w.at >= at:
            break
        if w.resource != "replicas" or not 200 <= w.code < 300:
            continue
        if w.verb == "create":
            live.add(w.name)
        elif w.verb == "delete":
            live.discard(w.name)
    per: dict[str, set[str]] = {}
    for name in live:
        per.setdefault(name.rsplit("-", 2)[0], set()).add(name)
    return per
