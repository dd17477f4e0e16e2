"""The operator's peering lifetime: how long a standby waits for a dead operator."""

from __future__ import annotations

import kopf

from statecast.cli import build_parser
from statecast.controller import handlers


def test_the_peering_lifetime_is_short_by_default_and_configurable() -> None:
    settings = kopf.OperatorSettings()
    handlers.configure(settings=settings, memo=kopf.Memo())
    assert settings.peering.lifetime == 10  # kopf's own default is 60
    handlers.configure(settings=settings, memo=kopf.Memo({handlers.PEERING_LIFETIME: 7}))
    assert settings.peering.lifetime == 7
    args = build_parser().parse_args(["operator", "--peering-lifetime", "15"])
    assert args.peering_lifetime == 15
