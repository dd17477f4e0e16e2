"""Where a spec change's time goes, from the audit log and the operator's log.

For each resource whose ``replicas.min`` the scale benchmark raised, the phases from
the PATCH's answer to the new Replica's creation, each from its own clock's record
(one machine, one clock):

- ``seen``: the PATCH answered (audit) -> kopf handed the event to the operator
  (``event=spec-seen`` in the operator's log): the watch and kopf's event loop;
- ``queued``: -> its reconcile started (``event=spec-reconcile``'s time less its
  ``lock_s``, ``plan_s`` and ``finish_s``; in the spec-change lane less its batch's
  ``run_s``): waiting for a worker, behind other reconciles, or for the lane;
- ``plan``: the reconcile's observe and decide (``plan_s``: the forecast, the planner;
  not logged apart in the lane);
- ``sent``: -> the API server received the Replica's creation (audit), less ``plan``:
  the client's request going out (a connection, the process's share of the CPU);
- ``answered``: -> the API server answered it (audit): its own queueing and work.

Usable on its own on a run's ``--logs`` directory::

    python -m bench.change_anatomy /tmp/run-logs/scale-bench-1000 --json out.json

(the changes are then the SharedResource PATCHes the audit log shows from a user
other than the operator).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.apiserver_audit import Write, copies_at, first_write_after, read_writes
from statecast.devcluster.system import OPERATOR_ACCOUNT

PHASES = ("seen", "queued", "plan", "sent", "answered", "total")
_LINE = re.compile(r"^time=(\S+ \S+) .*?event=(spec-seen|spec-reconcile) resource=\S+?/(\S+) (.*)$")


def log_times(lines: Iterable[str]) -> dict[str, dict[str, float]]:
    """Resource -> ``seen`` (first spec-seen), ``started`` and ``plan_s`` (first reconcile).

    Times are seconds since the epoch; the log's local time is this machine's.
    """
    found: dict[str, dict[str, float]] = {}
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        stamp, kind, name, rest = match.groups()
        at = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        fields = dict(part.split("=", 1) for part in rest.split() if "=" in part)
        entry = found.setdefault(name, {})
        if kind == "spec-seen":
            entry.setdefault("seen", at)
        elif "started" not in entry and "run_s" in fields:  # the spec-change lane's batch
            entry["started"] = at - float(fields["run_s"])
        elif "started" not in entry:
            spent = [float(fields.get(k, 0.0)) for k in ("lock_s", "plan_s", "finish_s")]
            entry["started"] = at - sum(spent) + spent[0]
            entry["plan_s"] = spent[1]
    return found


def anatomy(
    writes: list[Write], logged: Mapping[str, Mapping[str, float]], patched: Mapping[str, float]
) -> dict[str, Any]:
    """Per phase (see the module doc): p50, p99, max over the changes; each change's row.

    ``patched``: resource -> when the benchmark's PATCH returned (the audit's answer
    just before is taken). A phase a change lacks a record for is left out for it.
    """
    rows: dict[str, dict[str, float]] = {}
    for name, sent in patched.items():
        patch = first_write_after(writes, sent - 5.0, "patch", "sharedresources", name=name)
        at = patch.at if patch is not None else sent
        made = first_write_after(writes, at, "create", "replicas", prefix=f"{name}-")
        log = logged.get(name, {})
        row: dict[str, float] = {}
        if "seen" in log:
            row["seen"] = log["seen"] - at
        if "seen" in log and "started" in log:
            row["queued"] = log["started"] - log["seen"]
        if "plan_s" in log:
            row["plan"] = log["plan_s"]
        if made is not None and "started" in log:
            row["sent"] = made.received - log["started"] - log.get("plan_s", 0.0)
        if made is not None:
            row["answered"] = made.at - made.received
            row["total"] = made.at - at
        rows[name] = {k: round(v, 3) for k, v in row.items()}
    summary: dict[str, Any] = {}
    for phase in PHASES:
        values = sorted(r[phase] for r in rows.values() if phase in r)
        if values:
            summary[phase] = {
                "p50": values[len(values) // 2],
                "p99": values[min(len(values) - 1, round(0.99 * (len(values) - 1)))],
                "max": values[-1],
                "n": len(values),
            }
    return {"phases": summary, "changes": rows}


def needing_a_copy(
    writes: list[Write], patched: Mapping[str, float], wanted: Mapping[str, int]
) -> tuple[dict[str, float], list[str]]:
    """The changes that needed a new Replica, and those that did not.

    The benchmark raises ``replicas.min`` to one above the copies its watch shows; a copy
    the operator created just before the PATCH (the demand's moves) may not have
    reached that watch yet, and then the raised minimum was met already: no Replica
    was due, and the change's time would be the next, unrelated, creation's (107 s in
    one run). Judged by the audit log at the PATCH's answer.

    Returns:
        (resource -> when its PATCH returned, for those below their new minimum then;
        the resources that were not).
    """
    needed: dict[str, float] = {}
    met: list[str] = []
    for name, sent in patched.items():
        patch = first_write_after(writes, sent - 5.0, "patch", "sharedresources", name=name)
        alive = copies_at(writes, patch.at if patch is not None else sent).get(name, set())
        if len(alive) >= wanted.get(name, len(alive) + 1):
            met.append(name)
        else:
            needed[name] = sent
    return needed, met


def operator_log(logs: Path) -> list[str]:
    """The operator's log lines in a cluster's logs directory (every operator-*.log)."""
    return [line for path in sorted(logs.glob("operator*.log")) for line in path.open()]


def main(argv: list[str] | None = None) -> int:
    """Print (and write) the anatomy of a run's spec changes from its copied logs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("logs", type=Path, help="a run's logs (audit.log, operator-*.log)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    writes = read_writes(args.logs / "audit.log")
    patched = {
        w.name: w.at
        for w in writes
        if w.verb == "patch" and w.resource == "sharedresources" and 200 <= w.code < 300
        and not w.user.endswith(f":{OPERATOR_ACCOUNT}")
    }  # fmt: skip
    report = anatomy(writes, log_times(operator_log(args.logs)), patched)
    print(json.dumps(report["phases"], indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
