"""Reading the agents' access counters from Prometheus (``--metrics-source prometheus``).

Every agent exports on ``/metrics`` the same cumulative counters it answers on
``/v1/stats``: ``statecast_agent_accesses_total{namespace, resource, node, operation,
served}`` and, per node, ``statecast_agent_start_time_seconds`` (when its counters
started: a new value means the agent restarted). A Prometheus that scrapes the agents
holds them; :class:`PrometheusReader` asks it for each agent's last scrape with three
instant queries of its HTTP API and turns the answer into the same
:class:`~statecast.core.demand.AgentSample` that ``/v1/stats`` gives: the counters as
they were at the scrape, stamped with the scrape's time. The demand the operator
derives from it is then the same, only as fresh as the last scrape (scrape the agents
at least as often as the operator samples: ``operator.sampleSeconds``).

The queries, with ``S`` the configured label selector (e.g. ``job="statecast-agent"``)::

    max by (node) (timestamp(statecast_agent_start_time_seconds{S}))   # the scrape's time
    max by (node) (statecast_agent_start_time_seconds{S})
    max by (namespace, resource, node, operation, served) (statecast_agent_accesses_total{S})

The first is asked again after the other two; a node scraped in between is left for
the next round (its counters and time would be of two scrapes). ``max by`` folds
duplicates (one agent scraped by two jobs). The ``node`` label is the agent's own:
a scrape configuration must not overwrite it (``honor_labels`` or no target label
named ``node``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from statecast.core.demand import AgentSample
from statecast.core.reconcile.views import WRITE_OPERATIONS, AgentLease

__all__ = ["PrometheusError", "PrometheusReader", "samples_from_vectors"]

log = logging.getLogger(__name__)

ACCESSES = "statecast_agent_accesses_total"
STARTED = "statecast_agent_start_time_seconds"
_ACCESS_LABELS = ("namespace", "resource", "node", "operation", "served")

#: One instant vector: the ``result`` of a Prometheus query, a list of
#: ``{"metric": {label: value}, "value": [time, "number"]}``.
Vector = Sequence[Mapping[str, Any]]


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query, or answered something else than a vector."""


def _selector(labels: str) -> str:
    labels = labels.strip().strip("{}").strip()
    return "{" + labels + "}" if labels else ""


def queries(selector: str = "") -> tuple[str, str, str]:
    """The (scrape time, start time, accesses) queries over ``selector``'s series."""
    sel = _selector(selector)
    return (
        f"max by (node) (timestamp({STARTED}{sel}))",
        f"max by (node) ({STARTED}{sel})",
        f"max by ({', '.join(_ACCESS_LABELS)}) ({ACCESSES}{sel})",
    )


def _by_node(vector: Vector) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in vector:
        node = row["metric"].get("node")
        if node:
            out[str(node)] = float(row["value"][1])
    return out


def samples_from_vectors(
    scraped: Vector, started: Vector, accesses: Vector, nodes: Sequence[str]
) -> dict[str, AgentSample | None]:
    """Each of ``nodes``' counters at its last scrape (None: Prometheus holds none).

    Args:
        scraped: the scrape time per node (the first query of :func:`queries`).
        started: when each node's counters started (the second).
        accesses: the cumulative accesses (the third).
        nodes: the agents to answer for.

    Raises:
        ValueError: a row is not shaped like a Prometheus vector's.
    """
    try:
        times, starts = _by_node(scraped), _by_node(started)
        counts: dict[str, dict[tuple[str, str, str], int]] = {}
        writes: dict[str, dict[tuple[str, str], int]] = {}
        for row in accesses:
            labels = row["metric"]
            node = str(labels.get("node", ""))
            ref = (str(labels.get("namespace", "")), str(labels.get("resource", "")))
            n = round(float(row["value"][1]))
            key = (*ref, str(labels.get("served", "")))
            per = counts.setdefault(node, {})
            per[key] = per.get(key, 0) + n
            if labels.get("operation") in WRITE_OPERATIONS:
                wrote = writes.setdefault(node, {})
                wrote[ref] = wrote.get(ref, 0) + n
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"malformed Prometheus vector: {err!r}") from err
    return {
        node: (
            AgentSample(node, starts[node], times[node], counts.get(node, {}), writes.get(node, {}))
            if node in times and node in starts
            else None
        )
        for node in nodes
    }


class PrometheusReader:
    """Reads the agents' counters from a Prometheus (a :class:`CounterReader`).

    Args:
        url: the Prometheus server, e.g. ``http://prometheus.monitoring:9090``.
        selector: label matchers that pick the agents' series, e.g.
            ``job="statecast-agent"`` (default: every series of those names).
        timeout: seconds to wait for one query.
    """

    def __init__(self, url: str, selector: str = "", timeout: float = 5.0) -> None:
        self.url, self.selector, self.timeout = url.rstrip("/"), selector, timeout

    def query(self, client: httpx.Client, promql: str, at: float) -> Vector:
        """One instant query at ``at`` (seconds since the epoch): its result vector.

        Raises:
            PrometheusError: no answer, an error, or not a vector.
        """
        try:
            reply = client.get(f"{self.url}/api/v1/query", params={"query": promql, "time": at})
            body = reply.json()
        except (httpx.HTTPError, ValueError) as err:
            raise PrometheusError(f"{promql}: {err}") from err
        data = body.get("data") if isinstance(body, dict) else None
        if body.get("status") != "success" or not isinstance(data, dict):
            raise PrometheusError(f"{promql}: {body.get('error', body)!r}")
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise PrometheusError(f"{promql}: not a vector: {data.get('resultType')!r}")
        result: Vector = data["result"]
        return result

    def read(self, agents: Sequence[AgentLease]) -> dict[str, AgentSample | None]:
        """Every agent's counters at its last scrape (None: not scraped, or no answer)."""
        nodes = [agent.node for agent in agents]
        scraped_q, started_q, accesses_q = queries(self.selector)
        at = time.time()
        try:
            with httpx.Client(timeout=self.timeout) as client:
                scraped = self.query(client, scraped_q, at)
                started = self.query(client, started_q, at)
                accesses = self.query(client, accesses_q, at)
                again = _by_node(self.query(client, scraped_q, at))
            samples = samples_from_vectors(scraped, started, accesses, nodes)
        except (PrometheusError, ValueError) as err:
            log.warning("event=prometheus-read-failed url=%s error=%s", self.url, err)
            return dict.fromkeys(nodes)
        for node, sample in samples.items():
            if sample is not None and again.get(node) != sample.time:
                samples[node] = None  # scraped between the queries: next round
            elif sample is None:
                log.info("event=agent-sample-failed node=%s source=prometheus", node)
        return samples
