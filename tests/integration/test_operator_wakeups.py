"""Woken reconciles alone drive the operator: with its safety resync a day away, it
reacts to a spec change, to its Replicas' reports and to an agent's Lease expiry.

The session's operator (resync every second) would do the same work on its timer, so
this module runs an operator of its own that outranks it in the peering: the session's
operator pauses (kopf stops its watches; its reconciles and safety resyncs follow kopf's
pause, which it logs) while this one acts, and resumes when it stops.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from statecast.devcluster.system import System
from tests.integration.conftest import TEST_OPERATOR_ENV, create_resource, status_of, wait_for
from tests.integration.test_operator import (
    AGENT_NAMESPACE,
    GROUP,
    VERSION,
    act_as_agents,
    replicas_of,
    wait_for_failover,
    wait_for_lost_copy,
    wait_for_replicas,
)

#: A day: no safety resync happens while the test runs (each resource's falls at an offset
#: of its own within the day, so about one run in a thousand could see one).
RESYNC_SECONDS = 86400


@pytest.fixture
def sole_operator(
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
    operator: Path,
) -> Iterator[Path]:
    """An operator with a day-long safety resync that outranks the session's ``operator``
    (paused meanwhile); yields its log."""
    (name,) = system.start_operators(
        1,
        kubeconfig=service_account_kubeconfig("statecast-operator"),
        env={**TEST_OPERATOR_ENV, "STATECAST_RESYNC_SECONDS": str(RESYNC_SECONDS)},
        args=["--peering-priority", "1", "--metrics-address", "off"],
        prefix=f"wakeup-operator-{os.getpid()}",
    )
    log = system.log_path(name)
    try:
        wait_for(
            lambda: "Resuming operations after the pause" in log.read_text(),
            timeout=60,
            what=f"the outranking operator to act ({log})",
        )
        wait_for(
            lambda: "Pausing operations in favour of" in operator.read_text(),
            timeout=60,
            what=f"the session's operator to pause ({operator})",
        )
        # Its reconciles stop with kopf's pause (controller/kopf_pause); one under way
        # finishes first.
        time.sleep(3)
        yield log
    finally:
        system.stop([name])


def test_an_operator_without_a_resync_reacts_to_changes_reports_and_a_lease_expiry(
    api_client: client.ApiClient, namespace: str, sole_operator: Path
) -> None:
    custom = client.CustomObjectsApi(api_client)
    coordination = client.CoordinationV1Api(api_client)
    create_resource(custom, namespace, "woken", {"replicas": {"min": 1}})
    wait_for_replicas(custom, namespace, "woken", 1)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "sharedresources", "woken", {"spec": {"replicas": {"min": 2}}}
    )
    replicas = wait_for_replicas(custom, namespace, "woken", 2)

    act_as_agents(custom, namespace, replicas)  # the agents' reports wake the resource
    wait_for(lambda: status_of(custom, namespace, "woken").get("phase") == "Ready", what="Ready")

    silent = replicas[0]["spec"]["nodeName"]
    lease = f"statecast-agent-{silent}"
    renewed = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)).isoformat()
    body = {
        "metadata": {"name": lease},
        "spec": {
            "holderIdentity": silent,
            "leaseDurationSeconds": 6,
            "renewTime": renewed.replace("+00:00", "Z"),
        },
    }
    try:
        coordination.create_namespaced_lease(AGENT_NAMESPACE, body)
    except ApiException as err:
        if err.status != 409:
            raise
        coordination.replace_namespaced_lease(lease, AGENT_NAMESPACE, body)
    try:
        replacement = wait_for_failover(custom, namespace, "woken")  # the Lease's expiry
        assert replacement["spec"]["nodeName"] != silent
        wait_for_lost_copy(custom, namespace, "woken", silent)
        act_as_agents(custom, namespace, [replacement])
        wait_for(
            lambda: (
                silent
                not in {r["spec"]["nodeName"] for r in replicas_of(custom, namespace, "woken")}
            ),
            what="removal of the silent agent's replica",
        )
    finally:
        coordination.delete_namespaced_lease(lease, AGENT_NAMESPACE)
    acted = sole_operator.read_text()
    assert f"event=replica-add resource={namespace}/woken" in acted, acted[-3000:]
    assert f"event=replica-remove resource={namespace}/woken" in acted, acted[-3000:]
