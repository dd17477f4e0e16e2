"""Strong resources on the whole system (agents on every node through Toxiproxy, the
operator): short variants of ``statecast chaos --check linearizability`` for every
strong fault. Each run's history is checked with Porcupine and with our own search;
nothing acknowledged may be lost. Failover times are reported by the runs (``make
e2e-linearizability`` keeps them), never asserted here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from statecast.chaos.linearizable import LinearizableSettings, run_linearizable
from statecast.chaos.scenarios import SCENARIOS
from statecast.chaos.target import DevTarget
from statecast.client import Client, UnavailableError
from tests.integration.conftest import create_resource, status_of, wait_for
from tests.integration.test_chaos import whole_system

__all__ = ["whole_system"]  # the fixture, shared with the eventual scenarios' module


#: The resource's source: the first leader opens its log with it.
SEED = {"plan": {"tier": "gold"}, "limit": 10}


def seed_reads(target: DevTarget, namespace: str, name: str) -> dict[str, Any]:
    """The seeded keys, read linearizably (at the leader of the newest epoch).

    A read may meet a leader change (membership steps after the heal): tried again.
    """
    answers: dict[str, Any] = {}

    def read() -> bool:
        with Client(list(target.agents().values()), timeout=10.0) as api:
            for key in SEED:
                try:
                    answers[key] = api.get(namespace, name, key)
                except UnavailableError:
                    return False
        return True

    wait_for(read, timeout=90, what="the seeded keys read")
    return answers


def strong_resource(api: client.ApiClient, namespace: str) -> str:
    """A strong resource with three voters, once it has a leader and every copy is Ready."""
    custom = client.CustomObjectsApi(api)
    spec = {
        "consistency": "strong",
        "replicas": {"min": 3},
        "prediction": {"interval": "5s", "horizon": "15s"},
        "replication": {"policy": "static"},
        "source": {"inline": SEED},
    }
    create_resource(custom, namespace, "ledger", spec)
    wait_for(
        lambda: (
            (s := status_of(custom, namespace, "ledger")).get("leader")
            and s.get("phase") == "Ready"
        ),
        timeout=90,
        what="ledger led and Ready",
    )
    return "ledger"


def linearizable(
    target: DevTarget, api: client.ApiClient, namespace: str, scenario: str, tmp_path: Path
) -> dict[str, Any]:
    name = strong_resource(api, namespace)
    # An operator restarted during a failover judges a Lease it has not seen before as
    # renewed when it first sees it (liveness on its own clock, like the node controller):
    # it fails the leader over one Lease after it starts, so the dead agent comes back later.
    duration = 15.0 if scenario == "operator-kill-failover" else 6.0
    settings = LinearizableSettings(
        duration=duration, seed=7, warmup=3.0, settle=45.0, tail=2.0, rate=8.0,
        html_dir=tmp_path,
    )  # fmt: skip
    report = run_linearizable(type(SCENARIOS[scenario])(), target, namespace, name, settings)
    (tmp_path / f"{scenario}.json").write_text(json.dumps(report, indent=2, default=str))
    summary = {k: report[k] for k in ("linearizable", "porcupine", "search", "violation_html",
                                       "acked_writes", "indeterminate_writes", "lost_writes",
                                       "lost_examples", "final_reads_missing", "client_errors",
                                       "epoch_before", "epoch_after")}  # fmt: skip
    assert report["acked_writes"] > 0, summary
    assert report["lost_writes"] == 0, summary
    assert report["final_reads_missing"] == 0, summary
    assert report["linearizable"] is True, summary
    assert seed_reads(target, namespace, name) == SEED  # the leader after the fault has it
    return report


@pytest.mark.parametrize(
    "scenario",
    ["leader-kill", "leader-partition", "leader-partition-lapsed", "operator-kill-failover"],
)
def test_a_lost_or_cut_off_leader_is_replaced_and_the_history_stays_linearizable(
    whole_system: DevTarget,
    api_client: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    scenario: str,
) -> None:
    report = linearizable(whole_system, api_client, namespace, scenario, tmp_path)
    assert report["epoch_after"] > report["epoch_before"], "no new epoch after the fault"
    if scenario != "operator-kill-failover":  # there the old leader may be back first
        assert report["failover_s"] is not None, "no write was acknowledged under a newer epoch"
    if scenario == "leader-partition-lapsed":  # the lapsed voter's path was taken
        assert report["lapse"]["lost"] and report["lapse"]["out_of_voters"], report["lapse"]
        # the writes its agent took once it ran again were answered, not 503 for ever
        assert report["indeterminate_writes"] == 0, report["client_errors"]


@pytest.mark.parametrize("scenario", ["follower-kill", "agents-restart"])
def test_a_lost_follower_or_every_agent_restarted_from_disk_stays_linearizable(
    whole_system: DevTarget,
    api_client: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    scenario: str,
) -> None:
    linearizable(whole_system, api_client, namespace, scenario, tmp_path)
