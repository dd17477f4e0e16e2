"""The scale benchmark's simulated agents: a lost agent's Lease expiry."""

from __future__ import annotations

import threading
from typing import Any

from bench.scale_agents import DemandModel, FakeAgents


class SlowLeases:
    """A Lease API whose PATCH of node-2 waits until ``release`` is set."""

    def __init__(self) -> None:
        self.patching, self.release = threading.Event(), threading.Event()

    def patch_namespaced_lease(self, name: str, namespace: str, body: Any) -> None:
        if name.endswith("node-2") and not self.release.is_set():
            self.patching.set()
            assert self.release.wait(30)

    def create_namespaced_lease(self, namespace: str, body: Any) -> None:
        pass


def test_a_renewal_under_way_when_the_agent_is_lost_counts_and_none_follows() -> None:
    """The expiry was taken from the renewal before the one under way: the operator,
    which saw the later one, looked up to a round of renewals (seconds) late."""
    leases = SlowLeases()
    agents = FakeAgents(leases, "ns", DemandModel([("scale", "r")], ["node-1", "node-2"]))
    try:
        leases.release.set()
        agents.renew_all()
        before = agents.renewed["node-2"]
        leases.release.clear()
        renewing = threading.Thread(target=agents.renew_all)
        renewing.start()
        assert leases.patching.wait(30)
        lost = threading.Thread(target=lambda: expiries.append(agents.lose("node-2")))
        expiries: list[float] = []
        lost.start()
        leases.release.set()
        renewing.join(30)
        lost.join(30)
        assert expiries == [agents.renewed["node-2"] + agents.lease_s]
        assert agents.renewed["node-2"] > before
        renewals = agents.renewals
        agents.renew_all()
        assert agents.renewals == renewals + 1  # node-1 only
    finally:
        agents._server.server_close()  # never served: shutdown() would wait for it
