"""The live view and the summary of the prediction act (pure: recording in, text out).

On a terminal :func:`screen` is redrawn in place; otherwise :func:`line` is printed
every sixth of a day and :func:`change_line` at each change of the busy zone, so a log
reads as well as the screen.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from statecast.demo.outcome import Lead, Outcome, PolicyOutcome, learned, policy_outcome
from statecast.demo.recording import Recording, Tick
from statecast.kubectl.render import table

__all__ = ["change_line", "changes_text", "line", "screen", "summary"]


def _zones(recording: Recording) -> list[str]:
    return list(recording.schedule.zones)


def _by_policy(recording: Recording, policy: str) -> str:
    return next((r for r, p in recording.resources.items() if p == policy), "")


def zone_reads(recording: Recording, second: int) -> dict[str, float]:
    """Reads of the predictive resource per zone during ``second``, failed ones too."""
    resource = _by_policy(recording, "predictive")
    out = dict.fromkeys(_zones(recording), 0.0)
    for node, zone in recording.zones.items():
        bucket = recording.reads.get((resource, node, second))
        if bucket is not None:
            out[zone] += bucket.local + bucket.remote + bucket.errors
    return out


def zone_forecast(recording: Recording, tick: Tick | None) -> dict[str, tuple[float, float, float]]:
    """The predictive resource's forecast per zone: sums of its nodes' mean, lower, upper."""
    out = dict.fromkeys(_zones(recording), (0.0, 0.0, 0.0))
    if tick is None:
        return out
    for band in tick.forecast.get(_by_policy(recording, "predictive"), ()):
        zone = recording.zones.get(band.node, "")
        mean, lower, upper = out.get(zone, (0.0, 0.0, 0.0))
        out[zone] = (mean + band.mean, lower + band.lower, upper + band.upper)
    return out


def _holders(tick: Tick | None, resource: str, zone: str) -> str:
    if tick is None:
        return ""
    names = [
        c.node if c.phase == "Ready" else f"{c.node}({c.phase})"
        for c in tick.copies.get(resource, ())
        if c.zone == zone and c.phase != "Lost"
    ]
    return " ".join(sorted(names))


def _hits(recording: Recording, resource: str, start: float, end: float) -> str:
    ratio = policy_outcome(recording, resource, start, end).local_ratio
    return "-" if math.isnan(ratio) else f"{ratio:.0%}"


def learned_at(recording: Recording) -> float | None:
    """When the predictive resource's forecast first had a seasonal member."""
    resource = _by_policy(recording, "predictive")
    return next((t.time for t in recording.ticks if learned(t.model.get(resource, ""))), None)


def screen(recording: Recording, t: float, days: float, decisions: int = 5) -> str:
    """The view redrawn on a terminal at ``t`` seconds."""
    schedule = recording.schedule
    tick = recording.at(t)
    predictive, static = _by_policy(recording, "predictive"), _by_policy(recording, "static")
    second = max(0, int(t) - 1)
    reads, forecast = zone_reads(recording, second), zone_forecast(recording, tick)
    model = tick.model.get(predictive, "") if tick is not None else ""
    since = learned_at(recording)
    knows = (
        f"learned the day at day {schedule.day(since):.1f}"
        if since is not None
        else "has not learned the day yet"
    )
    out = (
        f"statecast demo: follow-the-sun over {len(schedule.zones)} zones, day "
        f"{schedule.day(t):.2f} of {days:g} (one day = {schedule.day_s:g} s)\n"
        f"forecast model: {model or '-'} ({knows})\n\n"
    )
    rows = []
    for zone in _zones(recording):
        mean, lower, upper = forecast[zone]
        busy = " *" if zone == schedule.busy(t) else ""
        rows.append(
            [zone + busy, f"{reads[zone]:.0f}", f"{mean:.1f} ({lower:.1f}-{upper:.1f})",
             _holders(tick, predictive, zone) or "-", _holders(tick, static, zone) or "-"]
        )  # fmt: skip
    out += table(
        ["zone", "reads/s", "forecast (band)", f"predictive {predictive}", f"static {static}"],
        rows,
    )
    start = max(0.0, t - schedule.day_s)
    out += (
        f"\nlocal hits, last day: predictive {_hits(recording, predictive, start, t)}, "
        f"static {_hits(recording, static, start, t)}\n"
    )
    recent = sorted(
        (d for d in recording.decisions if d.resource == predictive), key=lambda d: d.time
    )[-decisions:]
    out += "last decisions:\n" + "".join(
        f"  day {schedule.day(d.time):5.2f}  {d.reason:<15} {d.message}\n" for d in reversed(recent)
    )
    return out


def line(recording: Recording, t: float) -> str:
    """One plain line about ``t`` seconds (for output that is not a terminal)."""
    schedule = recording.schedule
    tick = recording.at(t)
    predictive, static = _by_policy(recording, "predictive"), _by_policy(recording, "static")
    reads = zone_reads(recording, max(0, int(t) - 1))
    forecast = zone_forecast(recording, tick)
    short = {z: z.removeprefix("zone-") for z in _zones(recording)}
    start = max(0.0, t - schedule.day_s)

    def where(resource: str) -> str:
        return " ".join(
            f"{short[z]}:{_holders(tick, resource, z).replace(' ', ',') or '-'}"
            for z in _zones(recording)
        )

    return (
        f"day {schedule.day(t):5.2f} busy {schedule.busy(t)}"
        f" | reads/s {' '.join(f'{short[z]}={reads[z]:.0f}' for z in _zones(recording))}"
        f" | forecast {' '.join(f'{short[z]}={forecast[z][0]:.1f}' for z in _zones(recording))}"
        f" | predictive {where(predictive)} | static {where(static)}"
        f" | local hits (last day) predictive {_hits(recording, predictive, start, t)}"
        f" static {_hits(recording, static, start, t)}"
    )


def change_line(lead: Lead, day_s: float) -> str:
    """What happened when the busy zone changed."""
    where = f"day {lead.change.time / day_s:5.2f}: demand moves to {lead.change.zone}"
    why = f" (reason {lead.reason})" if lead.reason else ""
    if lead.kind == "placed":
        told = "" if lead.learned else "; the forecast had not learned the day: not from it"
        return f"{where}: a copy was placed there {lead.seconds:.1f} s before{why}{told}"
    if lead.kind == "held":
        return f"{where}: a copy was still there from before (for {lead.seconds:.0f} s)"
    if lead.kind == "none":
        return f"{where}: no copy there yet"
    asked = (
        f"; its Replica was made {lead.change.time - lead.requested:.1f} s before"
        if lead.requested_ahead and lead.requested is not None
        else ""
    )
    return f"{where}: a copy became Ready there {lead.seconds:.1f} s after{why}{asked}"


def _row(p: PolicyOutcome) -> list[str]:
    return [
        f"{p.policy} ({p.resource})",
        f"{p.local_ratio:.0%}" if p.reads else "-",
        f"{p.measured_mean_ms:.2f} / {p.measured_p99_ms:.2f}" if p.reads else "-",
        f"{p.modelled_mean_ms:.2f}" if p.reads else "-",
        f"{p.replica_days:.1f}",
        f"{p.reads}",
    ]


def changes_text(leads: Sequence[Lead]) -> str:
    """How the zone changes went: placed ahead, there from before, late, none."""
    kinds = {k: [c for c in leads if c.kind == k] for k in ("placed", "held", "late", "none")}
    text = f"placed ahead {len(kinds['placed'])} of {len(leads)}"
    if kinds["placed"]:
        text += f" (median {statistics.median(c.seconds for c in kinds['placed']):.1f} s ahead)"
    text += f", there from before {len(kinds['held'])}, late {len(kinds['late'])}"
    if kinds["late"]:
        asked = sum(1 for c in kinds["late"] if c.requested_ahead)
        text += (
            f" (median {statistics.median(c.seconds for c in kinds['late']):.1f} s late; "
            f"{asked} of them made before the change, still syncing)"
        )
    if kinds["none"]:
        text += f", none {len(kinds['none'])}"
    return text


def summary(windows: Sequence[tuple[str, Outcome]], day_s: float) -> str:
    """The comparison at the end: per window, each policy's figures and the zone changes."""
    out = (
        "Measured live: both resources were read by the same clients on the same nodes at\n"
        "the same moments. Latency: measured at the client on loopback (mean / p99), and\n"
        "modelled with the planner's latency model (local 0.1, same zone 0.5, other zone\n"
        "2 ms) from where each read was served.\n"
    )
    for title, result in windows:
        span = f"days {result.start / day_s:.1f}-{result.end / day_s:.1f}"
        out += f"\n{title} ({span}):\n"
        out += table(
            ["policy", "local hits", "latency ms", "modelled ms", "replica-days", "reads"],
            [_row(p) for p in result.policies],
            "  ",
        )
        if result.leads:
            out += f"  zone changes, a copy in the new zone: {changes_text(result.leads)}\n"
    return out
