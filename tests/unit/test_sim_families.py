"""predictive's families in the order the published tables hold their runs.

Every family's runs carry labels of their own, and the published studies keep them in
:data:`~statecast.sim.sweeps.FAMILIES`' order. One table here holds that order, so a family
is checked for its place once: a new one is appended to ``PUBLISHED_ORDER`` and to
``FAMILIES`` (each family's own test file checks what its runs are, not where they sit).
"""

from __future__ import annotations

import pytest

from statecast.sim.scenarios import scenario
from statecast.sim.sweeps import (
    FAMILIES,
    PREDICTIVE,
    family_settings,
    hand_off_twins,
    variants,
)
from statecast.sim.trace import Trace

#: The published order: an earlier family never moves, a new one comes last.
PUBLISHED_ORDER = (
    "default",
    "copy-floor",
    "grace-slots",
    "from-read",
    "shaped",
    "pod-release",
    "windowed",
    "reactive-ordered",
    "windowed-rest",
    "follow-floor",
    "bytes-dear",
    "copies-at-count",
    "copies-at-window",
    "follow-floor-dear",
    "copies-in-rule-order",
    "streams-dear",
    "everywhere-held",
    "follow-observed",
    "zone-order-floor",
    "moves-in-rule-order",
    "everywhere-largest",
    "swaps-in-rule-order",
    "background-held",
)

#: A trace without pods and one with them (the pod-release twins exist only there).
TRACES = ("drift", "batch-jobs")


def test_the_families_keep_their_published_order() -> None:
    assert tuple(name for name, _ in FAMILIES) == PUBLISHED_ORDER


@pytest.mark.parametrize("row", TRACES)
def test_the_predictive_runs_are_the_families_in_order_then_the_grid(row: str) -> None:
    trace = scenario(row)
    labels = [v.label for v in variants(trace, families=["predictive"])]
    grid = (*PREDICTIVE, *hand_off_twins(trace, PREDICTIVE))
    expected = [s.label for _, settings in FAMILIES for s in settings(trace)]
    assert labels == [*expected, *(s.label for s in grid)]


@pytest.mark.parametrize("row", TRACES)
@pytest.mark.parametrize("name", PUBLISHED_ORDER)
def test_each_family_brings_labels_no_other_run_has(row: str, name: str) -> None:
    trace = scenario(row)
    own = [s.label for s in family_settings(trace, [name])]
    others = _labels_outside(trace, name)
    assert len(set(own)) == len(own)
    assert not set(own) & others


def test_only_the_trace_with_pods_has_pod_release_twins() -> None:
    assert family_settings(scenario("drift"), ["pod-release"]) == ()
    twins = family_settings(scenario("batch-jobs"), ["pod-release"])
    assert twins and all(s.pod_release for s in twins)


def test_a_family_not_in_the_table_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no predictive family"):
        family_settings(scenario("drift"), ["copies-everywhere"])


def _labels_outside(trace: Trace, name: str) -> set[str]:
    """Every label of the predictive sweep but ``name``'s family's (the grid included)."""
    rest = [other for other, _ in FAMILIES if other != name]
    return {s.label for s in (*family_settings(trace, rest), *PREDICTIVE)}
