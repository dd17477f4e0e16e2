"""``statecast simulate``: replay an access trace (or a built-in scenario) through policies.

Reads TRACE/NODES/LAT/RES CSVs (formats in :mod:`statecast.sim.loaders`) or builds a
scenario (:mod:`statecast.sim.scenarios`), replays every policy asked for, prints the
comparison table, and writes the JSON (and optionally a PNG plot): per policy its
metrics and the reference points at its replica-hours (:mod:`statecast.sim.references`).
Bad input exits 2 with a one-line reason on stderr; a deprecated policy name (``oracle``)
is accepted with a note on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from statecast.api.units import DAY_S, parse_duration, parse_quantity
from statecast.sim import SimConfig, SimError, Trace, replay
from statecast.sim.loaders import load_latency, load_trace
from statecast.sim.planned import Predictive
from statecast.sim.references import References
from statecast.sim.registry import DEFAULT_POLICIES, POLICIES, deprecation, make_policy
from statecast.sim.report import table, to_json
from statecast.sim.scenarios import SCENARIOS, scenario

_log = logging.getLogger("statecast.simulate")


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", type=Path, help="CSV timestamp,resource,node,accesses")
    source.add_argument(
        "--scenario", metavar="NAME", help=f"a built-in scenario: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--nodes", type=Path, help="CSV node,zone (required with --trace)")
    parser.add_argument("--latency", type=Path, help="CSV from_zone,to_zone,ms")
    parser.add_argument("--resources", type=Path, help="CSV resource,bytes,writes_per_min")
    parser.add_argument(
        "--policies",
        default=",".join(DEFAULT_POLICIES),
        help=f"comma-separated, from {', '.join(POLICIES)} (default: %(default)s;"
        " oracle: deprecated name of perfect-forecast)",
    )
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--plot", type=Path, help="write a PNG of demand, forecast and placement")
    parser.add_argument(
        "--warmup",
        default=None,
        help="duration replayed but not measured (default: 1d if the"
        " trace spans 2 days or more, else 0)",
    )
    parser.add_argument("--horizon", default="15m", help="planner look-ahead (default: 15m)")
    parser.add_argument("--cooldown", default="15m", help="planner cooldown, reactive grace")
    parser.add_argument(
        "--refresh", type=int, default=1, help="refit forecasts every N steps (default: 1)"
    )
    parser.add_argument(
        "--bandwidth", default="25Mi", help="copy bandwidth per second (default: 25Mi)"
    )
    parser.add_argument(
        "--warm-retention",
        default="1h",
        help="how long a node keeps a removed copy's files (the agent's --warm-retention):"
        " a copy back within it costs the writes it missed, not a full copy, and"
        " predictive and perfect-forecast price it so, as the operator the chart installs"
        " does (agent.warmRetention); 0 charges and prices every copy in full (default: 1h)",
    )
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace, trace: Trace) -> SimConfig:
    try:
        horizon = parse_duration(args.horizon).total_seconds()
        cooldown = parse_duration(args.cooldown).total_seconds()
        bandwidth = float(parse_quantity(args.bandwidth))
        warm = parse_duration(args.warm_retention).total_seconds()
        if args.warmup is None:
            spans_two_days = trace.steps * trace.step_s >= 2 * DAY_S
            warmup = trace.period if spans_two_days else 0
        else:
            warmup = round(parse_duration(args.warmup).total_seconds() / trace.step_s)
    except ValueError as err:
        raise SimError(str(err)) from None
    if horizon <= 0 or bandwidth <= 0:
        raise SimError("--horizon and --bandwidth must be > 0")
    if warm < 0:
        raise SimError("--warm-retention must be >= 0")
    if args.refresh < 1:
        raise SimError("--refresh must be >= 1")
    if warmup >= trace.steps:
        raise SimError(f"--warmup covers the whole trace ({trace.steps} steps)")
    return SimConfig(
        latency=load_latency(args.latency),
        bandwidth_bytes_per_s=bandwidth,
        warmup_steps=warmup,
        horizon_s=horizon,
        cooldown_s=cooldown,
        warm_retention_s=warm,
    )


def _trace(args: argparse.Namespace) -> Trace:
    if args.scenario:
        return scenario(args.scenario)
    if args.nodes is None:
        raise SimError("--trace needs --nodes")
    return load_trace(args.trace, args.nodes, args.resources)


def run(args: argparse.Namespace) -> int:
    """Replay the policies and write the results; 0 on success, 2 on bad input."""
    try:
        names = [p.strip() for p in args.policies.split(",") if p.strip()]
        if not names:
            raise SimError("--policies is empty")
        policies = [make_policy(name, args.refresh) for name in names]
        for note in {deprecation(name) for name in names} - {None}:
            print(f"statecast simulate: {note}", file=sys.stderr)
        trace = _trace(args)
        config = _config(args, trace)
        results = []
        extra: dict[str, dict[str, Any]] = {}
        band = None
        for policy in policies:
            result = replay(trace, policy, config)
            results.append(result)
            _log.info("policy=%s elapsed_s=%.2f", result.policy, result.elapsed_s)
            if isinstance(policy, Predictive):
                extra[result.policy] = {"forecast_s": round(policy.forecast_seconds, 3)}
                band = policy.band if band is None else band
                if policy.tuner is not None:
                    extra[result.policy]["tuning"] = {
                        name: {
                            "cost_weight": round(state.cost_weight, 4),
                            "deviation_threshold": round(state.deviation_threshold, 4),
                            "explanation": state.explanation,
                        }
                        for name, state in zip(trace.resources, policy.tuning, strict=True)
                    }
        for name, fields in References(trace, config).of(results).items():
            extra.setdefault(name, {}).update(fields)
        document = to_json(trace, config, results, extra)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        if args.plot:
            from statecast.sim.plot import plot

            plot(trace, results, args.plot, band=band, start=config.warmup_steps)
    except (SimError, OSError) as err:
        print(f"statecast simulate: {err}", file=sys.stderr)
        return 2
    print(table([(trace.name, r) for r in results]))
    return 0
