"""The prediction act: compressed follow-the-sun days against the real operator (I/O).

Two resources hold the same catalog: ``catalog`` with ``replication.policy:
predictive`` (at least 2 copies, at most 3) and ``catalog-static`` with ``static`` (3
copies, one per zone): the same number of copies, placed by forecast or not. The
readers on every node read both at the same moments (:mod:`statecast.demo.load`); the
cluster is polled into the recording (:mod:`statecast.demo.watch`); the live view, the
summary and the picture are computed from it.

No time-compression setting of the operator is involved: the resources forecast with
``prediction.interval: 1s`` over a ``horizon`` of a few seconds and name the
compressed day as their season (``prediction.seasonality``), and the operator samples
the agents every second (``STATECAST_SAMPLE_SECONDS=1``). The forecaster offers the
season once the history holds enough of it, and the operator's engine takes it at the
next rebuild (at the latest when the history completes another season), so the days
before that are its learning (about four 18-second days with the forecaster of issue 10).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from statecast.demo.live import change_line, learned_at, line, screen, summary
from statecast.demo.load import Load
from statecast.demo.outcome import Lead, Outcome, leads, outcome
from statecast.demo.recording import Recording
from statecast.demo.sun import Schedule
from statecast.demo.watch import Watcher

__all__ = ["SunAct", "SunSettings", "resource_body"]

KEY = "sku-1"
#: The picture shows the last days (the whole run squeezes 39 shifts into one width).
PICTURE_DAYS = 4.0
PREDICTIVE, STATIC = "catalog", "catalog-static"


@dataclass(frozen=True)
class SunSettings:
    """The act's knobs (``statecast demo --days --day-seconds``)."""

    days: float = 13.0
    day_s: float = 18.0
    peak: float = 20.0
    background: float = 0.5
    horizon: str = "4s"
    cooldown: str = "3s"


def resource_body(name: str, policy: str, settings: SunSettings) -> dict[str, Any]:
    """The SharedResource of one policy."""
    replicas = {"min": 2, "max": 3} if policy == "predictive" else {"min": 3}
    return {
        "apiVersion": "statecast.io/v1alpha1",
        "kind": "SharedResource",
        "metadata": {"name": name},
        "spec": {
            "source": {"inline": {KEY: {"name": "espresso machine", "price": 499}}},
            "replicas": replicas,
            "prediction": {
                "interval": "1s",
                "horizon": settings.horizon,
                "seasonality": [f"{settings.day_s:g}s"],
            },
            "replication": {
                "policy": policy,
                "cooldown": settings.cooldown,
                "tuning": {"enabled": False},
            },
        },
    }


class SunAct:
    """Declare, drive, watch, show, sum up.

    Args:
        kubectl: runs kubectl against the demo cluster (args, stdin) and returns stdout.
        kubeconfig: the admin kubeconfig, for the watcher.
        namespace: where the resources go.
        agents: node -> agent URL.
        zones: node -> zone.
        settings: the act's knobs.
        out: where the live view goes.
    """

    def __init__(
        self,
        kubectl: Callable[..., str],
        kubeconfig: Path,
        namespace: str,
        agents: Mapping[str, str],
        zones: Mapping[str, str],
        settings: SunSettings,
        out: TextIO = sys.stdout,
    ) -> None:
        self.kubectl = kubectl
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.agents = dict(agents)
        self.settings = settings
        self.out = out
        self.tty = out.isatty()
        ordered = tuple(sorted(set(zones.values())))
        schedule = Schedule(ordered, settings.day_s, settings.peak, settings.background)
        self.recording = Recording(
            schedule, dict(zones), {PREDICTIVE: "predictive", STATIC: "static"}
        )
        self.started = 0.0
        self._load: Load | None = None
        self._watcher: Watcher | None = None
        self._told: set[float] = set()

    @property
    def duration(self) -> float:
        """Seconds of demand."""
        return self.settings.days * self.settings.day_s

    def declare(self) -> None:
        """Create both resources."""
        for name, policy in ((PREDICTIVE, "predictive"), (STATIC, "static")):
            body = json.dumps(resource_body(name, policy, self.settings))
            self.kubectl("apply", "--server-side", "-n", self.namespace, "-f", "-", stdin=body)

    def start(self) -> None:
        """Start the readers and the watcher: the first day begins."""
        self.started = time.monotonic()
        wall = time.time()
        self._watcher = Watcher(
            self.recording, self.kubeconfig, self.namespace, [PREDICTIVE, STATIC],
            self.started, wall,
        )  # fmt: skip
        self._watcher.start()
        self._load = Load(
            self.recording, self.agents, self.namespace, [PREDICTIVE, STATIC], KEY, self.started
        )
        self._load.start()

    def now(self) -> float:
        """Seconds since the start of the demand."""
        return time.monotonic() - self.started

    def follow(self) -> None:
        """The live view until the last day ends."""
        schedule = self.recording.schedule
        every = schedule.day_s / 6
        next_line = 0.0
        while (t := self.now()) < self.duration:
            if self.tty:
                self.out.write("\x1b[H\x1b[J" + screen(self.recording, t, self.settings.days))
                self.out.write(self._changes_text(t, last=3))
                self.out.flush()
                time.sleep(0.5)
                continue
            for text in self._new_changes(t):
                print(text, file=self.out, flush=True)
            if t >= next_line:
                print(line(self.recording, t), file=self.out, flush=True)
                next_line = t + every
            time.sleep(0.25)
        # what the view did not show: the changes of days spent on the other acts
        for text in self._new_changes(self.duration + schedule.day_s):
            print(text, file=self.out, flush=True)

    def _settled(self, t: float) -> list[Lead]:
        """Zone changes whose outcome is known at ``t``."""
        shift = self.recording.schedule.day_s / len(self.recording.schedule.zones)
        found = leads(self.recording, PREDICTIVE, min(t, self.duration))
        return [
            c for c in found if c.ahead or not math.isnan(c.seconds) or t > c.change.time + shift
        ]

    def _new_changes(self, t: float) -> list[str]:
        fresh = [c for c in self._settled(t) if c.change.time not in self._told]
        self._told.update(c.change.time for c in fresh)
        return [change_line(c, self.recording.schedule.day_s) for c in fresh]

    def _changes_text(self, t: float, last: int) -> str:
        settled = self._settled(t)[-last:]
        day = self.recording.schedule.day_s
        return "zone changes:\n" + "".join(f"  {change_line(c, day)}\n" for c in settled)

    def stop(self) -> None:
        """Stop the readers and the watcher."""
        if self._load is not None:
            self._load.stop()
        if self._watcher is not None:
            self._watcher.stop()

    def windows(self) -> list[tuple[str, Outcome]]:
        """The whole run, and the part after the forecast learned the day."""
        end = min(self.duration, float(self.recording.seconds()))
        result = [(f"all {self.settings.days:g} days", outcome(self.recording, 0.0, end))]
        since = learned_at(self.recording)
        if since is not None and since < end:
            result.append(
                ("after the forecast learned the day", outcome(self.recording, since, end))
            )
        return result

    def report(self, plot: Path | None, summary_json: Path | None) -> str:
        """The summary text; the picture and the JSON written where asked."""
        windows = self.windows()
        text = summary(windows, self.settings.day_s)
        if self._watcher is not None and self._watcher.failures:
            text += (
                f"\n({self._watcher.failures} polls of the cluster failed and were skipped; "
                f"last: {self._watcher.last_error})\n"
            )
        since = learned_at(self.recording)
        if since is None:
            text += (
                "\nThe forecast did not learn the day within this run: copies followed demand\n"
                "rather than led it.\n"
            )
        if plot is not None:
            from statecast.demo.picture import draw

            end = min(self.duration, float(self.recording.seconds()))
            start = max(0.0, end - PICTURE_DAYS * self.settings.day_s)
            notes = [line for w, r in windows for line in _notes(w, r)]
            draw(self.recording, end, plot, notes, start)
            text += f"\npicture: {plot}\n"
        if summary_json is not None:
            summary_json.parent.mkdir(parents=True, exist_ok=True)
            data = {
                "settings": dataclasses.asdict(self.settings),
                "learnedAtSeconds": since,
                "windows": {title: dataclasses.asdict(result) for title, result in windows},
            }
            summary_json.write_text(json.dumps(data, indent=2, default=str) + "\n")
            text += f"numbers: {summary_json}\n"
        return text


def _notes(title: str, result: Outcome) -> list[str]:
    """A line under the picture's title: both policies' figures over one window."""
    by = {p.policy: p for p in result.policies if p.reads}
    if set(by) != {"predictive", "static"}:
        return []
    a, b = by["predictive"], by["static"]
    text = (
        f"reads served locally predictive {a.local_ratio:.0%} / static {b.local_ratio:.0%}, "
        f"modelled latency {a.modelled_mean_ms:.2f} / {b.modelled_mean_ms:.2f} ms, "
        f"replica-days {a.replica_days:.1f} / {b.replica_days:.1f}"
    )
    lines = [f"{title}: {text}"]
    if result.leads:
        placed = sum(1 for c in result.leads if c.kind == "placed")
        asked = sum(1 for c in result.leads if c.kind == "late" and c.requested_ahead)
        lines.append(
            f"    a copy Ready in the new zone before demand moved there at {placed} of "
            f"{len(result.leads)} zone changes (and made before it, still syncing, at {asked})"
        )
    return lines
