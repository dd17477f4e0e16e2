"""``statecast crds --wait-established``: the Makefile's deploy waits for the CRDs itself.

Session 12 (note11, "Noticed, left alone"): ``make deploy`` still waited with ``kubectl
wait --for=condition=Established``, which fails at once (".status.conditions accessor
error") on a CRD read before the API server wrote its first conditions - the race the
dev cluster's install was fixed for in session 10 (``not_established``). Now the
Makefile polls through ``statecast crds --wait-established``. The kubectl here is a
stand-in script answering as the API server does just after a CRD is created (its
conditions null), then once it is Established: the real pair runs in ``make deploy``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from statecast.commands import crds
from statecast.devcluster import system

ROOT = Path(__file__).resolve().parents[2]


def _listing(conditions: object) -> str:
    items = [
        {"metadata": {"name": name}, "status": {"conditions": conditions}} for name in crds.WAITED
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubectl answering null conditions twice, then Established (counts its calls)."""
    answers = tmp_path / "answers"
    answers.mkdir()
    for i, conditions in enumerate([None, None, [{"type": "Established", "status": "True"}]]):
        (answers / str(i)).write_text(_listing(conditions))
    script = tmp_path / "kubectl"
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(ls {tmp_path}/calls 2>/dev/null | wc -l); touch {tmp_path}/calls/$n\n"
        f"[ $n -gt 2 ] && n=2; cat {answers}/$n\n"
    )
    (tmp_path / "calls").mkdir()
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(system, "kubectl_binary", lambda: str(script))
    monkeypatch.setattr(crds, "kubectl_binary", lambda: str(script))
    return tmp_path


def test_waits_through_null_conditions_until_established(kubectl: Path) -> None:
    assert crds.wait_established(Path("kubeconfig"), timeout_s=30, poll_s=0.01) == []
    assert len(os.listdir(kubectl / "calls")) == 3  # null, null, Established


def test_says_which_are_not_established_when_time_is_up(kubectl: Path) -> None:
    pending = crds.wait_established(Path("kubeconfig"), timeout_s=0, poll_s=0.01)
    assert pending == list(crds.WAITED)


def test_the_makefile_deploy_polls_rather_than_kubectl_wait() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--for=condition=Established" not in makefile  # it failed on null conditions
    assert "crds --wait-established $(KIND_KUBECONFIG)" in makefile
