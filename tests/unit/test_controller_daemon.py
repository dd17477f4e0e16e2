"""The operator's background threads: a watch loop starts over after an end or a failure."""

from __future__ import annotations

import logging
import threading

import pytest

from statecast.controller.daemon import WatchLoop


class _Scripted(WatchLoop):
    """Each watch_once takes the next step: "end" returns, "fail" raises; then it stops."""

    def __init__(self, steps: list[str]) -> None:
        super().__init__("scripted-watch", retry=0.01)
        self.steps = steps
        self.calls: list[str] = []
        self.restarts = 0
        self.finished = threading.Event()

    def watch_once(self) -> None:
        if not self.steps:
            self.stop()
            self.finished.set()
            return
        step = self.steps.pop(0)
        self.calls.append(step)
        if step == "fail":
            raise ConnectionError("dropped")

    def restarted(self) -> None:
        self.restarts += 1


def test_a_watch_loop_starts_over_after_each_end_and_each_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = _Scripted(["end", "fail", "end", "fail", "fail", "end"])
    with caplog.at_level(logging.INFO):
        loop.start()
        assert loop.finished.wait(10.0)
    assert loop.calls == ["end", "fail", "end", "fail", "fail", "end"]
    assert loop.restarts == 3  # only the failures are restarts
    restarts = [r.getMessage() for r in caplog.records if "scripted-watch-restart" in r.message]
    assert restarts == ["event=scripted-watch-restart error=dropped"] * 3


def test_a_daemon_starts_once_and_a_stopped_loop_does_not_watch() -> None:
    loop = _Scripted(["end"] * 1000)
    loop.stop()
    loop.start()
    loop.start()  # a second start does nothing
    assert loop._thread is not None
    loop._thread.join(5.0)
    assert not loop._thread.is_alive()
    assert loop.calls == []
    assert loop.stopping
    assert loop.wait_stopping(0.0)
