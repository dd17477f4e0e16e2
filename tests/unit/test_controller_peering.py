"""The operator's kopf peering priority: the pod started first acts."""

from __future__ import annotations

from statecast.controller.main import peering_priority


def test_an_operator_started_earlier_outranks_one_started_later() -> None:
    assert peering_priority(1_800_000_000.0) > peering_priority(1_800_000_000.5)


def test_two_operators_started_a_millisecond_apart_do_not_tie() -> None:
    assert peering_priority(1_800_000_000.000) != peering_priority(1_800_000_000.001)
