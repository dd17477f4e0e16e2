"""What the scale benchmark's API traffic is made of, from the API server's audit log.

``apiserver_request_total`` says how many requests of each verb and resource the API
server answered, not whose they were: the operator's, the simulated agents' Lease
renewals, KWOK's node heartbeats, the benchmark's own watches, the cluster's
controllers. The audit log (:mod:`bench.apiserver_audit`, every request since session 9)
names the user and the client of each: :func:`breakdown` splits a window by client,
verb and resource; :func:`series` gives the operator's requests over time (when the
first placements settle); :func:`churn` how long the Replicas lived;
:func:`status_patches` and :func:`events` what the operator's status PATCHes and Events
carried (a PATCH that sets what the previous one set, an Event that repeats one).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from bench.apiserver_audit import Request

__all__ = [
    "AGENTS_AGENT",
    "BENCH_AGENT",
    "breakdown",
    "churn",
    "client_of",
    "events",
    "series",
    "status_patches",
]

#: The User-Agent of the simulated agents' client (:mod:`bench.scale_agents`).
AGENTS_AGENT = "statecast-scale-agents"
#: The User-Agent of the benchmark's own client (its watches, spec changes).
BENCH_AGENT = "statecast-scale-bench"


def client_of(request: Request, operator_user: str) -> str:
    """Whose request: ``operator``, ``agents`` (the simulated agents), ``bench``,
    ``kwok`` (the nodes' heartbeats), ``cluster`` (the control plane's own components),
    or ``other``."""
    user, agent = request.write.user, request.agent
    if user == operator_user:
        return "operator"
    if agent.startswith(AGENTS_AGENT):
        return "agents"
    if agent.startswith(BENCH_AGENT):
        return "bench"
    if "kwok" in agent.lower() or "kwok" in user.lower():
        return "kwok"
    if user.startswith("system:"):
        return "cluster"
    return "other"


def _key(request: Request) -> str:
    """``verb resource`` (the resource with its subresource; a path's requests as ``-``)."""
    return f"{request.write.verb} {request.write.resource or '-'}"


def breakdown(
    requests: Iterable[Request], start: float, end: float, operator_user: str
) -> dict[str, Any]:
    """Requests per second answered in ``[start, end)``, by client, verb and resource."""
    seconds = max(end - start, 1e-9)
    by: dict[str, Counter[str]] = {}
    for r in requests:
        if start <= r.write.at < end:
            by.setdefault(client_of(r, operator_user), Counter())[_key(r)] += 1
    clients = {
        client: {
            "per_s": round(sum(counts.values()) / seconds, 2),
            "by_verb_resource": {
                k: round(n / seconds, 2) for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
            },
        }
        for client, counts in sorted(by.items())
    }
    return {
        "seconds": round(end - start, 1),
        "per_s": round(sum(sum(c.values()) for c in by.values()) / seconds, 2),
        "by_client": clients,
    }


def series(
    requests: Iterable[Request], start: float, end: float, bin_s: float, operator_user: str
) -> dict[str, Any]:
    """The operator's requests per second in bins of ``bin_s`` from ``start``: all, the
    Replicas created and deleted, status PATCHes and Events."""
    bins = max(1, int((end - start) // bin_s))
    kinds = {
        "create replicas": "replicas_created",
        "delete replicas": "replicas_deleted",
        "patch sharedresources/status": "status_patches",
        "create events": "events",
    }
    out: dict[str, list[float]] = {"all": [0.0] * bins, **{k: [0.0] * bins for k in kinds.values()}}
    for r in requests:
        i = int((r.write.at - start) // bin_s)
        if 0 <= i < bins and r.write.user == operator_user:
            out["all"][i] += 1
            kind = kinds.get(_key(r))
            if kind is not None and 200 <= r.write.code < 300:
                out[kind][i] += 1
    return {
        "bin_s": bin_s,
        "from_s": [round(i * bin_s) for i in range(bins)],
        **{k: [round(v / bin_s, 2) for v in values] for k, values in out.items()},
    }


def churn(requests: Iterable[Request], within_s: float, lost: str = "") -> dict[str, Any]:
    """How long the Replicas deleted in the log had lived, and the copies that came back.

    A copy deleted within ``within_s`` of its creation (the planner's cooldown), or
    created again on the same node within ``within_s`` of its deletion, is churn: a
    placement that changed its mind. The copies on the ``lost`` node (``<resource>-<node>``)
    are left out: they are removed once replaced, whatever their age.
    """
    created: dict[str, float] = {}
    deleted: dict[str, float] = {}
    lived: list[float] = []
    back: list[float] = []
    writes = sorted((r.write for r in requests), key=lambda w: w.at)
    for w in writes:
        if w.resource != "replicas" or not 200 <= w.code < 300:
            continue
        if lost and w.name.endswith(f"-{lost}"):
            continue
        if w.verb == "create":
            if w.name in deleted:
                back.append(w.at - deleted.pop(w.name))
            created[w.name] = w.at
        elif w.verb == "delete" and w.name in created:
            lived.append(w.at - created.pop(w.name))
            deleted[w.name] = w.at
    lived.sort()
    return {
        "deleted": len(lived),
        "lived_min_s": round(lived[0], 1) if lived else None,
        "lived_p50_s": round(lived[len(lived) // 2], 1) if lived else None,
        "deleted_within": sum(1 for s in lived if s < within_s),
        "created_again_within": sum(1 for s in back if s < within_s),
        "within_s": within_s,
    }


def status_patches(
    requests: Sequence[Request], start: float, end: float, operator_user: str
) -> dict[str, Any]:
    """The operator's SharedResource status PATCHes in ``[start, end)``: how many set
    each top-level field, and how many set exactly what that resource's previous PATCH
    (of the whole log) had set (a write that changed nothing, unless another writer
    changed the status in between)."""
    previous: dict[str, str] = {}
    fields: Counter[str] = Counter()
    count = repeated = 0
    for r in sorted(requests, key=lambda r: r.write.at):
        w = r.write
        if w.user != operator_user or w.resource != "sharedresources/status" or w.verb != "patch":
            continue
        status = (r.body or {}).get("status") or {}
        text = json.dumps(status, sort_keys=True)
        if start <= w.at < end:
            count += 1
            repeated += previous.get(w.name) == text
            fields.update(status.keys())
        previous[w.name] = text
    return {"patches": count, "same_as_previous": repeated, "fields": dict(fields.most_common())}


def events(
    requests: Sequence[Request], start: float, end: float, operator_user: str
) -> dict[str, Any]:
    """The operator's Events created in ``[start, end)``: by reason, and how many repeat
    the previous Event of the same object and reason (the same message)."""
    previous: dict[tuple[str, str], str] = {}
    reasons: Counter[str] = Counter()
    count = repeated = 0
    for r in sorted(requests, key=lambda r: r.write.at):
        w = r.write
        if w.user != operator_user or w.resource != "events" or w.verb != "create":
            continue
        body = r.body or {}
        key = ((body.get("involvedObject") or {}).get("name", ""), body.get("reason", ""))
        message = str(body.get("message", ""))
        if start <= w.at < end:
            count += 1
            reasons[key[1]] += 1
            repeated += previous.get(key) == message
        previous[key] = message
    return {"events": count, "repeated": repeated, "reasons": dict(reasons.most_common())}
