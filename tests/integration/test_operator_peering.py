"""Two operator processes in one kopf peering, as the chart's two pods run: the first
started acts, the second stands by (so it neither reconciles, samples nor saves the
demand history), and takes over when the first stops."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client

from tests.integration.conftest import wait_for


@contextmanager
def operator_process(
    kubeconfig: Path, namespace: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``statecast operator`` serving one namespace (its peering: a KopfPeering there)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "STATECAST_RESYNC_SECONDS": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "statecast.cli", "operator", "--namespace", namespace],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_first_operator_acts_and_the_second_stands_by_until_it_stops(
    api_client: client.ApiClient,
    namespace: str,
    service_account_kubeconfig: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "kopf.dev", "v1", namespace, "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "statecast"}},
    )  # fmt: skip
    kubeconfig = service_account_kubeconfig("statecast-operator")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with operator_process(kubeconfig, namespace, first_log) as first:
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
        with operator_process(kubeconfig, namespace, second_log):
            wait_for(lambda: len(peers()) == 2, timeout=30, what="both operators in the peering")
            time.sleep(3)  # a few peering rounds: the second sees the first (it starts paused)
            assert len({p["priority"] for p in peers().values()}) == 2, "priorities tie"
            for log in (first_log, second_log):
                assert "Possibly conflicting" not in log.read_text(), log.read_text()[-3000:]
            assert "Resuming" not in second_log.read_text(), "the second acts beside the first"
            assert "Pausing" not in first_log.read_text(), "the first stopped acting"
            first.terminate()
            first.wait(timeout=20)
            wait_for(
                lambda: "Resuming operations after the pause" in second_log.read_text(),
                timeout=30,
                what=f"the second operator to take over ({second_log})",
            )
