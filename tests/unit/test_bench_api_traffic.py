"""The scale benchmark's API traffic split by client, from the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import api_traffic
from bench.apiserver_audit import read_requests, read_writes

OPERATOR = "system:serviceaccount:statecast-system:statecast-operator"


def entry(
    verb: str,
    resource: str,
    name: str,
    second: float,
    *,
    user: str = OPERATOR,
    agent: str = "kopf/1",
    group: str = "statecast.io",
    code: int = 201,
    body: dict[str, Any] | None = None,
) -> str:
    resource, _, sub = resource.partition("/")
    ref = {"resource": resource, "namespace": "scale", "name": name, "apiGroup": group}
    if sub:
        ref["subresource"] = sub
    at = f"2026-12-05T00:{int(second) // 60:02d}:{second % 60:09.6f}Z"
    line: dict[str, Any] = {
        "kind": "Event", "level": "Metadata", "stage": "ResponseComplete", "verb": verb,
        "user": {"username": user}, "userAgent": agent, "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": at, "stageTimestamp": at,
    }  # fmt: skip
    if body is not None:
        line["requestObject"] = body
    return json.dumps(line)


def write_log(tmp_path: Path, lines: list[str]) -> Path:
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def test_a_window_is_split_by_client_verb_and_resource(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        [
            entry("create", "replicas", "res-0000-node-1", 1.0),
            entry("create", "replicas", "res-0000-node-2", 2.0),
            entry("patch", "sharedresources/status", "res-0000", 3.0, code=200),
            entry("create", "events", "res-0000.1", 3.5, group=""),
            entry("patch", "leases", "statecast-agent-node-1", 4.0, group="coordination.k8s.io",
                  user="kubernetes-admin", agent=api_traffic.AGENTS_AGENT + "/1", code=200),
            entry("watch", "replicas", "", 5.0, user="kubernetes-admin",
                  agent=api_traffic.BENCH_AGENT, code=200),
            entry("update", "leases", "node-1", 6.0, group="coordination.k8s.io",
                  user="kwok-admin", agent="kwok/v0.6", code=200),
            entry("get", "configmaps", "x", 7.0, group="", user="system:kube-scheduler", code=200),
            entry("get", "replicas", "res-0000-node-1", 9.0, code=200),
            entry("list", "replicas", "", 11.0),  # after the window
        ],
    )  # fmt: skip
    requests = read_requests(log)
    t0 = requests[0].write.at - 1.0
    split = api_traffic.breakdown(requests, t0, t0 + 10.0, OPERATOR)
    assert split["per_s"] == 0.9
    assert set(split["by_client"]) == {"operator", "agents", "bench", "kwok", "cluster"}
    operator = split["by_client"]["operator"]
    assert operator["per_s"] == 0.5
    assert operator["by_verb_resource"] == {
        "create replicas": 0.2,
        "patch sharedresources/status": 0.1,
        "create events": 0.1,
        "get replicas": 0.1,
    }
    assert split["by_client"]["agents"]["by_verb_resource"] == {"patch leases": 0.1}
    # the timed writes stay what they were: the statecast.io writes only
    assert [w.resource for w in read_writes(log)] == [
        "replicas",
        "replicas",
        "sharedresources/status",
    ]


def test_the_series_counts_the_operators_requests_per_bin(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        [
            entry("create", "replicas", "a-node-1", 1.0),
            entry("create", "replicas", "a-node-2", 2.0, code=409),  # counted, made nothing
            entry("delete", "replicas", "a-node-1", 12.0, code=200),
            entry("patch", "leases", "l", 13.0, user="kubernetes-admin"),
        ],
    )
    requests = read_requests(log)
    t0 = requests[0].write.at - 1.0
    series = api_traffic.series(requests, t0, t0 + 20.0, 10.0, OPERATOR)
    assert series["from_s"] == [0, 10]
    assert series["all"] == [0.2, 0.1]
    assert series["replicas_created"] == [0.1, 0.0]
    assert series["replicas_deleted"] == [0.0, 0.1]


def test_churn_is_a_copy_deleted_soon_after_its_creation_or_made_again(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        [
            entry("create", "replicas", "a-node-1", 0.0),
            entry("create", "replicas", "b-node-1", 0.0),
            entry("delete", "replicas", "a-node-1", 100.0, code=200),
            entry("create", "replicas", "a-node-1", 160.0),
            entry("delete", "replicas", "b-node-1", 900.0, code=200),
            entry("create", "replicas", "c-node-9", 0.0),
            entry("delete", "replicas", "c-node-9", 30.0, code=200),  # the lost node's
        ],
    )
    churn = api_traffic.churn(read_requests(log), within_s=600.0, lost="node-9")
    assert churn["deleted"] == 2
    assert churn["lived_min_s"] == 100.0
    assert churn["deleted_within"] == 1
    assert churn["created_again_within"] == 1


def test_a_status_patch_that_sets_what_the_previous_one_set_is_counted(tmp_path: Path) -> None:
    def patch(name: str, second: float, status: dict[str, Any]) -> str:
        return entry(
            "patch", "sharedresources/status", name, second, code=200, body={"status": status}
        )

    log = write_log(
        tmp_path,
        [
            patch("a", 0.0, {"replicas": 2}),
            patch("a", 5.0, {"replicas": 2}),  # the same again
            patch("b", 6.0, {"replicas": 2}),  # another resource's first
            patch("a", 7.0, {"replicas": 3, "phase": "Ready"}),
        ],
    )
    requests = read_requests(log)
    t0 = requests[0].write.at
    seen = api_traffic.status_patches(requests, t0 + 1.0, t0 + 10.0, OPERATOR)
    assert seen == {"patches": 3, "same_as_previous": 1, "fields": {"replicas": 3, "phase": 1}}


def test_an_event_that_repeats_the_objects_last_one_is_counted(tmp_path: Path) -> None:
    def event(second: float, name: str, reason: str, message: str) -> str:
        body = {"involvedObject": {"name": name}, "reason": reason, "message": message}
        return entry("create", "events", f"{name}.x", second, group="", body=body)

    log = write_log(
        tmp_path,
        [
            event(0.0, "a", "ReplicaAdded", "add replica on node-1"),
            event(1.0, "a", "ReplicaAdded", "add replica on node-1"),
            event(2.0, "a", "ReplicaAdded", "add replica on node-2"),
            event(3.0, "b", "ReplicaAdded", "add replica on node-1"),
        ],
    )
    requests = read_requests(log)
    t0 = requests[0].write.at
    seen = api_traffic.events(requests, t0, t0 + 10.0, OPERATOR)
    assert seen == {"events": 4, "repeated": 1, "reasons": {"ReplicaAdded": 4}}
