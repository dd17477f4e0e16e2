"""docs/tuning.md cannot drift from the code (session 26).

Every YAML block of the guide is a whole ``SharedResource`` manifest that the models take,
that maps through the operator's own ``placement_spec`` / ``placement_costs`` /
``placement_latency``, and that sets nothing the operator ignores
(:func:`~statecast.core.reconcile.ignored.ignored_settings`); a block naming a simulator run
(``# simulator run: LABEL``) is that run's spec (:func:`statecast.sim.expressible.expression`)
and maps to its planner spec and prices. The guide's knob table names every field of
``spec.replication.planner`` and no other; ``holdPerReplica``'s stated meaning holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic.alias_generators import to_camel

from statecast.api.shared_resource import PlannerKnobs, SharedResource, SharedResourceSpec
from statecast.api.units import parse_quantity
from statecast.core.placement import StateProfile
from statecast.core.placement.costs import holding_cost
from statecast.core.reconcile.ignored import ignored_settings
from statecast.core.reconcile.predictive import (
    placement_costs,
    placement_latency,
    placement_spec,
)
from statecast.sim.config import SimConfig
from statecast.sim.expressible import MEAN_SIZE, expression, setting_of

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "tuning.md"
TEXT = GUIDE.read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.DOTALL)
RUN = re.compile(r"^# simulator run: (.+)$", flags=re.MULTILINE)


def test_the_guide_has_its_worked_examples() -> None:
    assert len(BLOCKS) >= 4
    assert len(RUN.findall(TEXT)) >= 4


def _tuned_off(replication: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in replication.items() if k not in ("policy", "tuning")}


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_each_example_is_a_spec_the_operator_runs(block: str) -> None:
    manifest = yaml.safe_load(block)
    assert manifest["apiVersion"] == "statecast.io/v1alpha1"
    assert manifest["kind"] == SharedResource.kind
    resource = SharedResource.model_validate(manifest)
    spec = resource.spec
    assert spec.replication.policy == "predictive"
    assert ignored_settings(spec) == ()
    placement_spec(spec)
    placement_costs(spec, None, parse_quantity(MEAN_SIZE))
    placement_latency(spec, SimConfig().latency)
    found = RUN.search(block)
    if found is None:
        return
    written = expression(setting_of(found.group(1)))
    assert written.missing == ()
    replication = manifest["spec"]["replication"]
    assert _tuned_off(replication) == _tuned_off(dict(written.spec["replication"]))
    assert replication.get("tuning") == {"enabled": False}  # as every published run
    # the run's replicas are its trace's, per resource: the example's bounds stand in
    run = SharedResourceSpec.model_validate(
        {"replication": written.spec["replication"], "replicas": manifest["spec"]["replicas"]}
    )
    assert placement_spec(spec) == placement_spec(run)
    size = parse_quantity(MEAN_SIZE)
    assert placement_costs(spec, 1.0, size) == placement_costs(run, 1.0, size)


def test_the_knob_table_names_every_planner_knob() -> None:
    table = TEXT.split("## Every knob", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`planner\.(\w+)`", table))
    fields = {to_camel(name) for name in PlannerKnobs.model_fields}
    assert fields - named == set(), (
        "a new spec.replication.planner knob: add its row to docs/tuning.md's 'Every knob'"
        " table (default, API range, tier use/expert/study, the evidence for it)"
    )
    assert named - fields == set()


def test_the_guide_names_only_knobs_that_exist() -> None:
    fields = {to_camel(name) for name in PlannerKnobs.model_fields}
    assert set(re.findall(r"`planner\.(\w+)`", TEXT)) <= fields


def _stored(replication: dict[str, Any], size: int) -> float:
    """The price of holding one replica of ``size`` bytes for an hour, its state alone."""
    spec = SharedResourceSpec.model_validate({"replication": replication})
    return holding_cost(StateProfile(size, 0.0), placement_costs(spec, None, size), 1.0, 1.0)


MIB = 2**20


@pytest.mark.parametrize("size", [MIB, 64 * MIB, 512 * MIB])
def test_hold_per_replica_prices_every_replica_hour_alike(size: int) -> None:
    """A replica of any size is held at the price of one of ``holdPerReplica`` bytes."""
    per_replica = {"planner": {"holdPerReplica": "64Mi"}}
    assert _stored(per_replica, size) == pytest.approx(_stored({}, 64 * MIB), rel=1e-12)


def test_hold_per_replica_at_a_resources_own_size_is_the_default() -> None:
    size = 48 * MIB
    assert _stored({"planner": {"holdPerReplica": str(size)}}, size) == _stored({}, size)


def test_before_a_size_report_holding_the_state_is_free_either_way() -> None:
    assert _stored({"planner": {"holdPerReplica": "64Mi"}}, 0) == 0.0 == _stored({}, 0)
