"""The agent's startup objects are out of the garbage collector's sight: a full
collection walked the ~47,000 objects its imports made and held the event loop
20-34 ms, over the 20 ms pause target (``agent.memory.freeze_startup_objects``)."""

from __future__ import annotations

import gc
import sys

from statecast.agent import main
from statecast.agent.looplag import SWITCH_INTERVAL, shorten_switch_interval
from statecast.agent.memory import freeze_startup_objects


def test_objects_alive_at_startup_are_not_walked_by_later_collections() -> None:
    alive = [[i] for i in range(1000)]
    try:
        assert freeze_startup_objects() >= len(alive)
        walked = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in walked for o in alive)
        later = [[0]]
        assert id(later[0]) in {id(o) for o in gc.get_objects()}  # new ones still are
    finally:
        gc.unfreeze()


def test_the_agent_freezes_them_before_it_serves() -> None:
    source = main.run_agent.__code__.co_names
    assert "freeze_startup_objects" in source


def test_the_agent_gives_threads_the_interpreter_lock_for_1_ms_at_a_time() -> None:
    # a thread busy in Python made the loop wait up to 5 ms at each of its system calls
    before = shorten_switch_interval()
    try:
        assert sys.getswitchinterval() == SWITCH_INTERVAL == 0.001
    finally:
        sys.setswitchinterval(before)
    assert "shorten_switch_interval" in main.run_agent.__code__.co_names
