"""Two operator processes in one kopf peering, as the chart's two pods run: the first
started acts, the second stands by (so it neither reconciles, samples nor saves the
demand history), and takes over when the first stops."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from statecast.devcluster.system import System
from tests.integration.conftest import wait_for


def test_the_first_operator_acts_and_the_second_stands_by_until_it_stops(
    api_client: client.ApiClient,
    namespace: str,
    system: System,
    service_account_kubeconfig: Callable[[str], Path],
) -> None:
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "kopf.dev", "v1", namespace, "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "statecast"}},
    )  # fmt: skip
    kubeconfig = service_account_kubeconfig("statecast-operator")
    run = uuid.uuid4().hex[:6]

    def start(which: str) -> str:
        """``statecast operator`` serving one namespace (its peering: a KopfPeering there)."""
        (name,) = system.start_operators(
            1,
            kubeconfig=kubeconfig,
            env={"STATECAST_RESYNC_SECONDS": "1"},
            args=["--namespace", namespace],
            prefix=f"peering-{which}-{run}",
        )
        return name

    first = start("first")
    first_log = system.log_path(first)
    second = ""
    try:
        peers = lambda: (  # noqa: E731
            client.CustomObjectsApi(api_client)
            .get_namespaced_custom_object("kopf.dev", "v1", namespace, "kopfpeerings", "statecast")
            .get("status")
            or {}
        )
        wait_for(
            lambda: "Resuming operations after the pause" in first_log.read_text(),
            timeout=30,
            what=f"the first operator to act ({first_log})",
        )
        second = start("second")
        second_log = system.log_path(second)
        wait_for(lambda: len(peers()) == 2, timeout=30, what="both operators in the peering")
        time.sleep(3)  # a few peering rounds: the second sees the first (it starts paused)
        assert len({p["priority"] for p in peers().values()}) == 2, "priorities tie"
        assert set(peers()) == {first, second}, "each operator's peering id is its name"
        for log in (first_log, second_log):
            assert "Possibly conflicting" not in log.read_text(), log.read_text()[-3000:]
        assert "Resuming" not in second_log.read_text(), "the second acts beside the first"
        assert "Pausing" not in first_log.read_text(), "the first stopped acting"
        system.stop([first])
        wait_for(
            lambda: "Resuming operations after the pause" in second_log.read_text(),
            timeout=30,
            what=f"the second operator to take over ({second_log})",
        )
    finally:
        system.stop([first, *([second] if second else [])])
