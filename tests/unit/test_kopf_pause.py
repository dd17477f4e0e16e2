"""The operator acts while kopf has not paused it, as kopf's peering logs it."""

from __future__ import annotations

import logging

from statecast.controller.kopf_pause import PEERING_LOGGER, KopfPause


def test_kopfs_peering_lines_pause_and_resume() -> None:
    pause = KopfPause(paused=True).install()
    log = logging.getLogger(PEERING_LOGGER)
    try:
        assert not pause.acting(), "in a peering kopf starts paused"
        log.info("Resuming operations after the pause. Conflicting operators with the same ...")
        assert pause.acting()
        log.info("Pausing operations in favour of [Peer(identity='b', priority=5)].")
        assert pause.paused
        log.info("Resuming operations after the pause. Conflicting operators with the same ...")
        log.warning("Possibly conflicting operators with the same priority: [...].")
        assert pause.acting(), "a warning alone pauses nothing"
        log.warning("Pausing all operators, including self: [...]")
        assert pause.paused
    finally:
        pause.uninstall()


def test_standalone_acts_and_other_loggers_do_not_count() -> None:
    pause = KopfPause(paused=False).install()
    try:
        logging.getLogger("kopf.objects").info("Pausing operations in favour of [...]")
        assert pause.acting()
    finally:
        pause.uninstall()


def test_the_installed_kopf_still_says_it_that_way() -> None:
    """The lines are kopf's: a kopf that words them otherwise fails here, not in a cluster."""
    import inspect

    from kopf._core.engines import peering

    source = inspect.getsource(peering)
    assert peering.__name__ == PEERING_LOGGER
    for line in ("Pausing operations in favour of", "Pausing all operators",
                 "Resuming operations after the pause"):  # fmt: skip
        assert f'"{line}' in source or f"'{line}" in source or f'f"{line}' in source, line
