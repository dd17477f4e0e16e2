"""The chart deployed on kind: operator pods Ready (one acting, one standing by), an agent
Ready on every node, a sample resource placed across zones, a consumer pod reading through
its node's agent from a copy made for it, and ``kubectl statecast`` on the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Kubectl
from tests.integration.conftest import kubectl_binary, wait_for

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "statecast-system"

CONSUMER = """
apiVersion: v1
kind: Pod
metadata:
  name: storefront
  labels: {{app: storefront}}
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: {image}
    imagePullPolicy: IfNotPresent
    command: [python, -c]
    args:
    - |
      import time
      from statecast.client import Client, NotFoundError
      with Client() as state:  # the agent on this pod's node, from HOST_IP
          for _ in range(120):
              try:
                  value = state.get("{namespace}", "feature-flags", "checkout-v2")
              except NotFoundError:
                  time.sleep(1)
                  continue
              if state.last_served == "local":
                  break
              time.sleep(1)
          print(f"checkout-v2={{value}} served={{state.last_served}}")
    env:
    - name: HOST_IP
      valueFrom: {{fieldRef: {{fieldPath: status.hostIP}}}}
"""


def test_the_operator_pods_are_ready_one_acting_one_standing_by(kubectl: Kubectl) -> None:
    kubectl("-n", SYSTEM, "rollout", "status", "deployment/statecast-operator", "--timeout=180s")
    pods = json.loads(
        kubectl(
            "-n",
            SYSTEM,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=statecast-operator",
            "-o",
            "json",
        ).stdout
    )["items"]
    assert len(pods) == 2
    for pod in pods:
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", pod["metadata"]["name"]
    pdb = json.loads(kubectl("-n", SYSTEM, "get", "pdb", "statecast-operator", "-o", "json").stdout)
    assert pdb["status"]["disruptionsAllowed"] == 1


def test_an_agent_is_ready_on_every_node(kubectl: Kubectl) -> None:
    kubectl("-n", SYSTEM, "rollout", "status", "daemonset/statecast-agent", "--timeout=180s")
    ds = json.loads(kubectl("-n", SYSTEM, "get", "ds", "statecast-agent", "-o", "json").stdout)
    status = ds["status"]
    assert status["numberReady"] == status["desiredNumberScheduled"] >= 6


def test_a_sample_is_placed_across_zones_and_a_consumer_reads_locally(
    kubectl: Kubectl, namespace: str, image: str, e2e_kubeconfig: Path
) -> None:
    kubectl("-n", namespace, "apply", "-f", str(ROOT / "manifests/samples/feature-flags.yaml"))

    def status() -> dict[str, object]:
        out = kubectl("-n", namespace, "get", "sr", "feature-flags", "-o", "json").stdout
        found: dict[str, object] = json.loads(out).get("status") or {}
        return found

    ready = wait_for(
        lambda: (s := status()).get("phase") == "Ready" and s,
        timeout=180,
        what="feature-flags Ready",
    )
    zones = {r["zone"] for r in ready["replicas"]}
    assert len(zones) >= 2

    kubectl(
        "-n", namespace, "apply", "-f", "-", input=CONSUMER.format(image=image, namespace=namespace)
    )
    wait_for(
        lambda: (
            kubectl(
                "-n", namespace, "get", "pod", "storefront", "-o", "jsonpath={.status.phase}"
            ).stdout
            == "Succeeded"
        ),
        timeout=240,
        interval=2,
        what="the storefront pod to finish reading",
    )
    log = kubectl("-n", namespace, "logs", "storefront").stdout
    assert "checkout-v2=True served=local" in log

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    shown = subprocess.run(
        [
            kubectl_binary(),
            "statecast",
            "--kubeconfig",
            str(e2e_kubeconfig),
            "-n",
            namespace,
            "status",
            "feature-flags",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "consumer" in shown.stdout
