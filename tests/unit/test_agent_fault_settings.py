"""The agent's settings for the fault-injection harness: peer routes and the test-only
clock skew."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from statecast.agent.directory import PeerDirectory

SKEWED = """
import time
from statecast.agent import clock_skew
from statecast.core.clock import HybridClock
real = time.clock_gettime(time.CLOCK_REALTIME)
assert clock_skew.apply_from_environment() == {skew}
print(time.time() - real, HybridClock("a").tick().wall / 1000 - real)
"""


def test_a_routed_peer_is_reached_at_its_route_not_at_the_url_it_advertises() -> None:
    directory = PeerDirectory("a", routes={"b": "http://127.0.2.1:9000/"})
    directory.set("b", "http://127.0.1.2:7420")
    directory.set("c", "http://127.0.1.3:7420")
    assert directory.url("b") == "http://127.0.2.1:9000"
    assert directory.url("c") == "http://127.0.1.3:7420"


@pytest.mark.parametrize("skew", [5.0, -5.0])
def test_the_clock_skew_moves_every_wall_clock_reading_of_the_agent(skew: float) -> None:
    env = {**os.environ, "STATECAST_TEST_CLOCK_SKEW_SECONDS": str(skew)}
    out = subprocess.run(
        [sys.executable, "-c", SKEWED.format(skew=skew)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    by_time, by_hlc = (float(x) for x in out)
    assert by_time == pytest.approx(skew, abs=0.5)
    assert by_hlc == pytest.approx(skew, abs=0.5)


def test_a_clock_skew_beyond_an_hour_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from statecast.agent import clock_skew

    monkeypatch.setenv(clock_skew.ENVIRONMENT, "7200")
    with pytest.raises(ValueError, match="within"):
        clock_skew.apply_from_environment()
    monkeypatch.delenv(clock_skew.ENVIRONMENT)
    assert clock_skew.apply_from_environment() == 0.0
