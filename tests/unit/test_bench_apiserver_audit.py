"""The scale benchmark's times from the API server's audit log."""

from __future__ import annotations

import json
from pathlib import Path

from bench.apiserver_audit import copies_at, first_after, pass_done, read_writes


def entry(verb: str, resource: str, name: str, at: str, code: int = 201, sub: str = "") -> str:
    ref = {"resource": resource, "namespace": "scale", "name": name, "apiGroup": "statecast.io"}
    if sub:
        ref["subresource"] = sub
    return json.dumps({
        "kind": "Event", "level": "Metadata", "stage": "ResponseComplete", "verb": verb,
        "user": {"username": "system:serviceaccount:statecast-system:statecast-operator"},
        "objectRef": ref, "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": at, "stageTimestamp": at,
    })  # fmt: skip


def test_the_pass_ends_when_every_resource_has_its_status_and_two_copies(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [
        entry("create", "replicas", "res-0000-node-1", "2026-12-05T00:00:01.250000Z"),
        entry("create", "replicas", "res-0000-node-2", "2026-12-05T00:00:01.500000Z"),
        entry("patch", "sharedresources", "res-0000", "2026-12-05T00:00:01.750000Z", 200, "status"),
        entry("create", "replicas", "res-0001-node-3", "2026-12-05T00:00:02.000000Z"),
        entry("create", "replicas", "res-0001-node-4", "2026-12-05T00:00:02.000000Z", code=409),
        entry("patch", "sharedresources", "res-0001", "2026-12-05T00:00:02.500000Z", 200, "status"),
        '{"cut off',
    ]
    log.write_text("\n".join(lines) + "\n")
    writes = read_writes(log)
    assert len(writes) == 6
    t0 = writes[0].at - 1.25
    assert pass_done(writes, ["res-0000"], t0, copies=2) == writes[2].at
    assert pass_done(writes, ["res-0000", "res-0001"], t0, copies=2) is None  # a 409 made none
    lines.append(entry("create", "replicas", "res-0001-node-5", "2026-12-05T00:00:03.000000Z"))
    log.write_text("\n".join(lines) + "\n")
    writes = read_writes(log)
    assert pass_done(writes, ["res-0000", "res-0001"], t0, copies=2) == t0 + 3.0
    assert first_after(writes, t0, "patch", "sharedresources/status", name="res-0001") == t0 + 2.5
    assert first_after(writes, t0 + 2.1, "create", "replicas", prefix="res-0001-") == t0 + 3.0
    assert first_after(writes, t0, "create", "replicas", prefix="res-0002-") is None
    assert read_writes(tmp_path / "none.log") == []


def test_the_copies_at_a_time_are_those_created_and_not_deleted_before_it(tmp_path: Path) -> None:
    """A node loss's short resources are judged at the Lease's expiry: judged 30 s
    earlier, copies the demand added meanwhile were missed."""
    log = tmp_path / "audit.log"
    log.write_text(
        "\n".join([
            entry("create", "replicas", "res-0000-node-1", "2026-12-05T00:00:01Z"),
            entry("create", "replicas", "res-0000-node-2", "2026-12-05T00:00:02Z"),
            entry("create", "replicas", "res-0000-node-3", "2026-12-05T00:00:03Z", code=409),
            entry("delete", "replicas", "res-0000-node-1", "2026-12-05T00:00:04Z", code=200),
            entry("create", "replicas", "res-0001-node-11", "2026-12-05T00:00:05Z"),
            entry("create", "replicas", "res-0001-node-12", "2026-12-05T00:00:09Z"),
        ]) + "\n"
    )  # fmt: skip
    writes = read_writes(log)
    at = writes[0].at - 1.0 + 8.0  # 00:00:08
    assert copies_at(writes, at) == {
        "res-0000": {"res-0000-node-2"},
        "res-0001": {"res-0001-node-11"},
    }
