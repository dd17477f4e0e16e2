"""The operator's readiness endpoint on the dev cluster: NotReady until kopf has listed its
indexes, Ready when it acts; a second operator in the same peering is Ready as a
standby, and Ready as the actor once it takes over."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from kubernetes import client

from statecast.agent.launcher import free_port
from tests.integration.conftest import wait_for


@contextmanager
def operator_with_readiness(
    kubeconfig: Path, namespace: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``statecast operator --readiness`` serving one namespace; yields it and its URL."""
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}/readyz"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "STATECAST_RESYNC_SECONDS": "1"}
    command = [sys.executable, "-m", "statecast.cli", "operator", "--namespace", namespace,
               "--readiness", url.replace("127.0.0.1", "0.0.0.0")]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def answer(url: str) -> tuple[int, str] | None:
    try:
        reply = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return reply.status_code, reply.text.strip()


def test_ready_when_indexed_a_standby_is_ready_too_and_takes_over(
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
    with operator_with_readiness(kubeconfig, namespace, tmp_path / "first.log") as (first, url1):
        wait_for(
            lambda: answer(url1) == (200, "ok: indexes populated"),
            timeout=60,
            what=f"the first operator ready ({tmp_path / 'first.log'})",
        )
        second_log = tmp_path / "second.log"
        with operator_with_readiness(kubeconfig, namespace, second_log) as (second, url2):
            wait_for(
                lambda: answer(url2) == (200, "ok: standing by (a peer of higher priority acts)"),
                timeout=60,
                what=f"the second operator ready as a standby ({second_log})",
            )
            first.terminate()
            first.wait(timeout=20)
            wait_for(
                lambda: answer(url2) == (200, "ok: indexes populated"),
                timeout=60,
                what=f"the second operator acting and ready ({second_log})",
            )
            assert second.poll() is None
