"""Checking a recorded history for linearizability: Porcupine, and our own search beside it.

:func:`check` writes the history as JSON, runs ``statecast-porcupine`` (our small Go
program around Porcupine, built on first use from ``devcluster/gomod/linearizability``
into ``~/.cache/statecast`` like the cluster binaries) and reads its verdict; when the
history is not linearizable (or the check ran out of time) Porcupine's visualisation is
kept as an HTML file next to the report. The same history also goes through
:func:`statecast.core.strong.linearizability.check_history` (the same algorithm, written
independently): ``linearizable`` is what they say, true or false; a disagreement
is reported, never hidden; a checker that gave up (out of time or budget) abstains.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statecast.core.strong.linearizability import HistoryOp, check_history, prune_unobserved
from statecast.devcluster import build
from statecast.devcluster.errors import BuildError

__all__ = ["Verdict", "check", "history_json"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What the checkers said.

    Attributes:
        linearizable: True, False, or None (unknown: both gave up, or they disagree).
        porcupine: Porcupine's answer (``Ok``, ``Illegal``, ``Unknown``) or why it did not run.
        search: Our search's answer (True, False, None for unknown).
        html: Porcupine's visualisation of a failing history, if written.
        bad_key: The first key whose sub-history our search found not linearizable.
    """

    linearizable: bool | None
    porcupine: str
    search: bool | None
    html: str | None = None
    bad_key: str | None = None


def history_json(history: Sequence[HistoryOp]) -> dict[str, Any]:
    """The history in the checker program's input form (times in nanoseconds)."""
    clients: dict[str, int] = {}
    operations = []
    for op in history:
        client = clients.setdefault(op.client, len(clients))
        operations.append(
            {
                "client": client,
                "kind": op.kind,
                "key": op.key,
                "value": str(op.value) if op.kind == "put" else op.value,
                "output": op.output,
                "call": round(op.call * 1e9),
                "return": None if op.ret is None else round(op.ret * 1e9),
            }
        )
    return {"operations": operations}


def _porcupine(history: Sequence[HistoryOp], html: Path, timeout: float) -> str:
    try:
        binary = build.build(build.PORCUPINE)
    except BuildError as err:
        return f"not run: {err}"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(history_json(history), handle)
        path = handle.name
    try:
        done = subprocess.run(
            [str(binary / "statecast-porcupine"), "-history", path, "-html", str(html),
             "-timeout", f"{timeout:g}s"],
            capture_output=True, text=True, timeout=timeout + 60, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "Unknown"
    finally:
        Path(path).unlink(missing_ok=True)
    if done.returncode != 0:
        return f"not run: {done.stderr.strip()[-300:]}"
    return str(json.loads(done.stdout)["result"])


def check(history: Sequence[HistoryOp], html: Path, timeout: float = 120.0) -> Verdict:
    """Check ``history`` with Porcupine and with our search (see the module docstring).

    Unanswered puts whose value no read returned are left out first
    (:func:`~statecast.core.strong.linearizability.prune_unobserved`).
    """
    history = prune_unobserved(history)
    porcupine = _porcupine(history, html, timeout)
    ours = check_history(history)
    said = {{"Ok": True, "Illegal": False}.get(porcupine), ours.ok} - {None}
    linearizable = said.pop() if len(said) == 1 else None  # a checker that gave up abstains
    if len(said) > 1:  # never hidden: the report says unknown and the log says why
        log.error("event=checkers-disagree porcupine=%s search=%s", porcupine, ours.ok)
    kept = str(html) if html.exists() else None
    return Verdict(linearizable, porcupine, ours.ok, kept, ours.key)
