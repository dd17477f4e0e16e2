"""The operator builds its costly clients once ready and idle, not at their first use."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

import kopf
import pytest
from kubernetes import client

from statecast.controller import handlers
from statecast.controller.gateway import KubeGateway
from statecast.controller.kopf_pause import PEERING_LOGGER, KopfPause
from statecast.controller.services import Services
from statecast.controller.wakeups import Wakeups
from statecast.controller.warmup import WarmUp
from statecast.core.warmup import warm_up_due

WAIT = 60.0  # a bound on a thread's wait, never a measure


@pytest.mark.parametrize(
    ("idle_s", "since_start", "due"),
    [
        (None, 0.0, False),  # just started
        (None, 119.0, False),  # never ready and idle: waits ...
        (None, 120.0, True),  # ... up to the longest wait
        (0.0, 30.0, False),  # ready and idle since this look
        (1.9, 30.0, False),  # ready and idle, not long enough (the first pass may queue yet)
        (2.0, 30.0, True),
    ],
)
def test_the_warm_up_waits_for_a_quiet_ready_operator_or_the_longest_wait(
    idle_s: float | None, since_start: float, due: bool
) -> None:
    assert warm_up_due(idle_s=idle_s, since_start=since_start, quiet=2.0, longest=120.0) is due
    assert warm_up_due(idle_s=None, since_start=since_start, quiet=0.0, longest=120.0) is (
        since_start >= 120.0
    ), "never without a look at a ready and idle operator, however short the quiet"


def test_the_core_api_exists_after_the_warm_up_without_any_call_to_it() -> None:
    """A fresh interpreter: the module is not loaded by the gateway, but by the warm-up."""
    script = (
        "import sys\n"
        "from kubernetes import client\n"
        "from statecast.controller.gateway import KubeGateway\n"
        "from statecast.controller.warmup import WarmUp\n"
        "gateway = KubeGateway(client.ApiClient())\n"
        "module = 'kubernetes.client.api.core_v1_api'\n"
        "before = module in sys.modules\n"
        "warm_up = WarmUp(gateway.warm_up_steps(), quiet=0.0)\n"
        "warm_up.ready()\n"
        "warm_up.start()\n"
        "assert warm_up.done.wait(60)\n"
        "print(before, 'core' in vars(gateway), module in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_the_startup_handler_warms_the_gateway_up_once_kopf_has_listed() -> None:
    gateway = KubeGateway(client.ApiClient())
    services = Services.build(gateway)
    memo = kopf.Memo({"services": services})
    handlers._start_warm_up(services, memo)
    warm_up = memo[handlers.WARM_UP]
    assert isinstance(warm_up, WarmUp) and set(warm_up.steps) == {"core-api"}
    assert "core" not in vars(gateway)
    warm_up.ready()  # what kopf's first Node event does (handlers.node_changed)
    assert warm_up.done.wait(WAIT)
    assert "core" in vars(gateway) and "core-api" in warm_up.took


def test_no_warm_up_with_a_gateway_that_has_nothing_to_build() -> None:
    class Fake:
        pass

    services = Services.build(Fake())  # type: ignore[arg-type]
    memo = kopf.Memo({"services": services})
    handlers._start_warm_up(services, memo)
    assert handlers.WARM_UP not in memo


def test_nothing_is_built_while_the_first_pass_runs() -> None:
    built = threading.Event()
    looks = threading.Semaphore(0)
    first_pass = threading.Event()
    first_pass.set()

    def busy() -> bool:
        looks.release()
        return first_pass.is_set()

    warm_up = WarmUp({"core-api": built.set}, busy=busy, quiet=0.0, longest=1e9, poll=0.01)
    warm_up.ready()
    warm_up.start()
    try:
        for _ in range(5):  # five looks at a busy operator: nothing built
            assert looks.acquire(timeout=WAIT)
        assert not built.is_set()
        first_pass.clear()
        assert warm_up.done.wait(WAIT) and built.is_set()
    finally:
        warm_up.stop()


def test_a_standby_warms_up_and_a_failed_step_leaves_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pause = KopfPause(paused=True).install()
    built: list[str] = []

    def broken() -> None:
        raise RuntimeError("no API server")

    try:
        steps = {"broken": broken, "other": lambda: built.append("other")}
        warm_up = WarmUp(steps, ready=lambda: pause.standing_by, quiet=0.0, poll=0.01)
        warm_up.start()
        logging.getLogger(PEERING_LOGGER).info("Pausing operations in favour of [Peer(...)].")
        with caplog.at_level(logging.WARNING):
            assert warm_up.done.wait(WAIT)
        assert built == ["other"] and set(warm_up.took) == {"other"}
        assert "event=warm-up-step-failed step=broken" in caplog.text
    finally:
        pause.uninstall()


def test_a_peering_start_is_standing_by_once_kopf_says_so_or_it_stays_paused() -> None:
    now = [0.0]
    pause = KopfPause(paused=True, settle=30.0, clock=lambda: now[0]).install()
    log = logging.getLogger(PEERING_LOGGER)
    try:
        assert pause.paused and not pause.standing_by, "paused at the start: not a standby yet"
        log.info("Pausing operations in favour of [Peer(identity='b', priority=5)].")
        assert pause.standing_by
        log.info("Resuming operations after the pause. Conflicting operators with the same ...")
        assert not pause.standing_by
    finally:
        pause.uninstall()
    quiet = KopfPause(paused=True, settle=30.0, clock=lambda: now[0])
    now[0] = 29.0
    assert not quiet.standing_by
    now[0] = 30.0
    assert quiet.standing_by, "kopf says nothing when a standby starts paused and stays so"
    assert not KopfPause(paused=False, settle=30.0, clock=lambda: now[0]).standing_by


def test_the_wakeups_are_busy_until_every_resource_known_was_reconciled() -> None:
    now = [100.0]
    wakeups = Wakeups(clock=lambda: now[0])
    assert not wakeups.busy()  # nothing known
    wakeups.known(("ns", "a"))
    assert wakeups.busy(), "known, never reconciled: the first pass is not over"
    wakeups.wake([("ns", "a")])
    ref = wakeups.next(timeout=0)
    assert ref == ("ns", "a")
    assert not wakeups.busy(), "started: the first pass has reached it"
    wakeups.done(ref)
    wakeups.resync([("ns", "a")])
    assert not wakeups.busy(), "a safety resync is the steady state's work"
    now[0] += 5
    wakeups.wake([("ns", "a")])
    assert wakeups.busy(), "a woken resource due now"
