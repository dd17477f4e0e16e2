"""The agents' Lease watch on a real API server: renewals seen as they are made, a
deleted Lease gone, the watch started over when the server ends it, and a lapse
confirmed by a list."""

from __future__ import annotations

import datetime as dt
import time

from kubernetes import client

from statecast.controller.gateway import KubeGateway
from statecast.controller.lease_watch import LeaseWatch
from statecast.controller.services import AgentLiveness
from tests.integration.conftest import wait_for


def micro_time(at: dt.datetime) -> str:
    """``at`` as a Lease's renewTime (the server wants the microseconds)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(node: str, renewed: dt.datetime, seconds: int) -> dict[str, object]:
    return {
        "metadata": {"name": f"statecast-agent-{node}"},
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": seconds,
            "renewTime": micro_time(renewed),
        },
    }


def test_the_lease_watch_feeds_renewals_deletions_and_restarts(
    api_client: client.ApiClient, namespace: str
) -> None:
    coordination = client.CoordinationV1Api(api_client)
    gateway = KubeGateway(api_client, agent_namespace=namespace)
    liveness = AgentLiveness(gateway)
    watch = LeaseWatch(gateway, liveness, timeout=3)  # the server ends it every 3 s
    watch.start()
    try:
        coordination.create_namespaced_lease(
            namespace, lease_body("n1", dt.datetime.now(dt.UTC), 4)
        )
        wait_for(lambda: [lease.node for lease in liveness.current()] == ["n1"], what="n1 seen")
        seen = liveness.current()[0].renew_time
        assert seen is not None
        for i in range(1, 6):  # renewed every second for 5 s, across watch restarts
            time.sleep(1.0)
            sent = dt.datetime.now(dt.UTC)  # taken as renewed when written (our clock)
            coordination.patch_namespaced_lease(
                "statecast-agent-n1", namespace, {"spec": {"renewTime": micro_time(sent)}}
            )

            def seen_since(sent: dt.datetime = sent) -> bool:
                when = liveness.current()[0].renew_time
                return when is not None and when >= sent

            wait_for(seen_since, timeout=10, what=f"renewal {i} seen")
            assert liveness.down(dt.datetime.now(dt.UTC)) == frozenset()
        # it stops renewing: down 4 s after the last renewal, by a list, and then by the
        # watch's view (a lapse counts there once a list confirmed it)
        wait_for(lambda: liveness.down_confirmed(dt.datetime.now(dt.UTC)) == {"n1"}, timeout=15)
        assert liveness.down(dt.datetime.now(dt.UTC)) == {"n1"}  # the watch's view, confirmed
        coordination.delete_namespaced_lease("statecast-agent-n1", namespace)
        wait_for(lambda: liveness.current() == [], what="the deleted Lease gone")
    finally:
        watch.stop()
