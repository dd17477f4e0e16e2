"""A local Prometheus server for tests and the dev cluster (Debian's ``prometheus``).

:class:`LocalPrometheus` runs the ``prometheus`` binary directly (no systemd) with a
generated configuration that scrapes fixed targets, keeps its data under a directory
of its own and listens on a free loopback port. :func:`prometheus_binary` finds the
binary, installing Debian's package with ``apt-get`` when it is missing and we are
root (a fresh CI machine); otherwise it says how to install it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from statecast.devcluster.errors import DevClusterError

__all__ = ["LocalPrometheus", "ScrapeJob", "prometheus_binary"]

#: Debian's package of the Prometheus server.
PACKAGE = "prometheus"


def prometheus_binary() -> Path:
    """The ``prometheus`` binary, installed from Debian's package if missing (as root).

    Raises:
        DevClusterError: it is missing and cannot be installed here.
    """
    found = shutil.which("prometheus")
    if found:
        return Path(found)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DevClusterError(
            "the prometheus binary is missing: install it (Debian: apt-get install prometheus)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE]
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    found = shutil.which("prometheus")
    if not found:
        raise DevClusterError(f"apt-get install {PACKAGE} failed:\n{done.stderr[-2000:]}")
    return Path(found)


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: a name and the ``HOST:PORT`` targets it scrapes on ``/metrics``."""

    name: str
    targets: Sequence[str]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class LocalPrometheus:
    """A Prometheus server process scraping fixed targets.

    Args:
        root: directory for its configuration, data and log.
        jobs: what it scrapes.
        scrape_interval: seconds between two scrapes of each target.
        port: the port to listen on (127.0.0.1); 0 picks a free one.
    """

    root: Path
    jobs: Sequence[ScrapeJob]
    scrape_interval: float = 1.0
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The configuration file's content."""
        interval = f"{max(1, round(self.scrape_interval * 1000))}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": job.name,
                    "honor_labels": True,  # the series' own namespace and node labels
                    "static_configs": [{"targets": list(job.targets), "labels": dict(job.labels)}],
                }
                for job in self.jobs
            ],
        }

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it is ready.

        Raises:
            DevClusterError: it did not get ready (its log is in the message).
        """
        from statecast.agent.launcher import free_port

        binary = prometheus_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port("127.0.0.1")
        config = self.root / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()))
        log_path = self.root / "prometheus.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise DevClusterError(f"prometheus did not start:\n{log_path.read_text()[-3000:]}")

    def reload(self, jobs: Sequence[ScrapeJob]) -> None:
        """Scrape ``jobs`` from now on (the configuration is rewritten and reloaded)."""
        self.jobs = jobs
        (self.root / "prometheus.yml").write_text(yaml.safe_dump(self.config()))
        httpx.post(f"{self.url}/-/reload", timeout=10).raise_for_status()

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query now: the result's rows (``metric`` and ``value``).

        Raises:
            DevClusterError: Prometheus answered an error.
        """
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10).json()
        if body.get("status") != "success":
            raise DevClusterError(f"{promql}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def targets_up(self) -> int:
        """How many targets the last scrapes reached."""
        return sum(1 for row in self.query("up == 1"))

    def stop(self) -> None:
        """Stop the server (its data stays under ``root``)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
