"""``statecast manifests``: render the Helm chart into plain YAML under ``manifests/install``.

``crds.yaml`` holds every CRD (statecast's, generated from the models, and kopf's
peering CRDs); ``statecast.yaml`` holds the rest (namespace, RBAC, peering object,
operator Deployment, agent DaemonSet) for ``kubectl apply``. Helm itself is built
from its Go module like the dev cluster's binaries (``statecast dev-cluster build``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from statecast.devcluster import build

CHART = Path("manifests/chart/statecast")
OUTPUT = Path("manifests/install")
NAMESPACE = "statecast-system"
HEADER = "# Rendered by `statecast manifests` from manifests/chart/statecast; do not edit.\n"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``manifests`` command."""
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are out of date"
    )
    parser.set_defaults(handler=run)


def _helm(*args: str) -> str:
    result = subprocess.run(
        [str(build.binary("helm")), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def render() -> dict[Path, str]:
    """The rendered files by path: lint the chart, then template it."""
    _helm("lint", "--strict", str(CHART))
    crds = _helm("show", "crds", str(CHART))
    objects = _helm(
        "template", "statecast", str(CHART), "--namespace", NAMESPACE,
        "--set", "createNamespace=true",
    )  # fmt: skip
    return {OUTPUT / "crds.yaml": HEADER + crds, OUTPUT / "statecast.yaml": HEADER + objects}


def run(args: argparse.Namespace) -> int:
    """Render (or check) the plain manifests."""
    if not build.binary("helm").exists():
        print(
            "statecast manifests: helm is not built: run `statecast dev-cluster build`",
            file=sys.stderr,
        )
        return 2
    try:
        rendered = render()
    except RuntimeError as err:
        print(f"statecast manifests: {err}", file=sys.stderr)
        return 1
    stale = [p for p, text in rendered.items() if not p.exists() or p.read_text() != text]
    if args.check:
        if stale:
            names = ", ".join(map(str, stale))
            print(
                f"statecast manifests: {names} out of date: run `statecast manifests`",
                file=sys.stderr,
            )
            return 1
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered[path])
        print(f"wrote {path}")
    return 0
