"""The API server's own view of the scale benchmark: its audit log.

The benchmark used to time the operator by when its own process saw watch events: a
process that also plays fifty agents and decodes every event lagged at a thousand
resources (it timed at 19 s spec changes the operator made within 1 s). The audit log
is the API server's record of each request, with its own timestamps (microseconds):
when a write was answered. :data:`POLICY` logs every request (since session 9: the
steady traffic is split by client from it, :mod:`bench.api_traffic`), with the request's
body for the writes whose content is looked at (the SharedResources' status PATCHes and
the Events in the benchmark's namespace). :func:`read_writes` keeps what the benchmark
times: the SharedResources' spec and status writes, the Replicas' creations, deletions
and status writes; :func:`read_requests` keeps everything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "POLICY",
    "Request",
    "Write",
    "copies_at",
    "first_after",
    "first_write_after",
    "pass_done",
    "read_requests",
    "read_writes",
    "timed",
]

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Request
    namespaces: ["{namespace}"]
    verbs: ["create", "patch", "update"]
    resources:
      - group: statecast.io
        resources: ["sharedresources/status"]
      - group: ""
        resources: ["events"]
  - level: Metadata
"""

#: The writes the benchmark times (:func:`read_writes`).
TIMED = {"replicas", "replicas/status", "sharedresources", "sharedresources/status"}
WRITES = {"create", "patch", "update", "delete"}


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


@dataclass(frozen=True)
class Request:
    """One request the API server answered, as its audit log has it.

    Attributes:
        write: the request's fields as a :class:`Write` (``verb`` is the audit's:
            get, list, watch, create, update, patch, delete...).
        namespace: the object's namespace ('' for cluster objects).
        group: the object's API group ('' for the core group).
        agent: the client's User-Agent.
        body: the request's body, for the requests :data:`POLICY` logs at level Request.
    """

    write: Write
    namespace: str = ""
    group: str = ""
    agent: str = ""
    body: dict[str, Any] | None = None


def read_writes(path: Path) -> list[Write]:
    """Every write the benchmark times in the audit log at ``path`` (none if it does not
    exist): the statecast.io writes of :data:`TIMED`."""
    return timed(read_requests(path))


def timed(requests: Iterable[Request]) -> list[Write]:
    """The writes of ``requests`` the benchmark times: the statecast.io writes of
    :data:`TIMED`."""
    return [
        r.write
        for r in requests
        if r.group == "statecast.io" and r.write.verb in WRITES and r.write.resource in TIMED
    ]


def read_requests(path: Path) -> list[Request]:
    """Every request in the audit log at ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    with path.open() as lines:
        return list(_parse(lines))


def _parse(lines: Iterable[str]) -> Iterator[Request]:
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
        write = Write(
            entry.get("verb", ""),
            resource,
            ref.get("name", ""),
            (entry.get("user") or {}).get("username", ""),
            int((entry.get("responseStatus") or {}).get("code", 0)),
            at,
            _seconds(came) if came else at,
        )
        body = entry.get("requestObject")
        yield Request(
            write,
            ref.get("namespace", ""),
            ref.get("apiGroup", ""),
            entry.get("userAgent", ""),
            body if isinstance(body, dict) else None,
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
