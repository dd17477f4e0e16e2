"""The operator's heap on glibc: fewer arenas, freed memory handed back."""

from __future__ import annotations

import platform

import pytest

from statecast.controller import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_on_glibc_the_arena_cap_and_the_trim_reach_malloc() -> None:
    assert heap.limit_arenas(16)  # glibc's own default on 2 cores: 8 per core
    garbage = [bytearray(500_000) for _ in range(100)]  # freed again at once
    del garbage
    assert isinstance(heap.trim(), bool)


def test_the_trimmer_starts_and_stops() -> None:
    trimmer = heap.HeapTrimmer(period=0.01)
    trimmer.start()
    trimmer.stop()
