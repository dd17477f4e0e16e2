"""``statecast crds``: write the CRDs generated from the models into ``crds/``.

The same files go into the Helm chart's ``crds/`` directory, which Helm installs
before the chart's templates; the reference of their fields goes to
``docs/reference/crds.md``. ``--check`` fails when any of them drifted.
``--wait-established KUBECONFIG`` writes nothing: it waits until the CRDs are
``Established`` on that cluster (the Makefile's ``deploy``), polling ``kubectl get``
rather than ``kubectl wait --for=condition=Established``, which fails at once on a CRD
whose conditions the API server has not written yet (see
``statecast.devcluster.system.not_established``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from statecast.api.crdgen import RESOURCES, file_name, render
from statecast.api.crdref import PATH as REFERENCE
from statecast.api.crdref import render_reference
from statecast.devcluster.errors import ClusterError
from statecast.devcluster.system import kubectl_binary, not_established

#: Where the CRDs are written, relative to the repository root.
OUTPUT_DIRS = (Path("crds"), Path("manifests/chart/statecast/crds"))


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``crds`` command."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--output-dir",
        type=Path,
        action="append",
        help="directory to write (repeatable; default: crds and the chart's crds)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are out of date"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=Path(REFERENCE),
        help=f"the field reference to write (default: {REFERENCE}; with --output-dir: none)",
    )
    parser.add_argument(
        "--wait-established",
        type=Path,
        metavar="KUBECONFIG",
        help="write nothing: wait until the CRDs are Established on that cluster",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds --wait-established waits (60)"
    )
    parser.set_defaults(handler=run)


#: The CRDs ``--wait-established`` waits for: ours and kopf's cluster-wide peering.
WAITED = (
    "sharedresources.statecast.io",
    "replicas.statecast.io",
    "clusterkopfpeerings.kopf.dev",
)


def wait_established(kubeconfig: Path, timeout_s: float, poll_s: float = 0.2) -> list[str]:
    """Poll until every CRD of :data:`WAITED` is Established; those that are not.

    Raises:
        ClusterError: There is no kubectl.
    """
    command = [kubectl_binary(), "--kubeconfig", str(kubeconfig), "get", "crd", *WAITED]
    deadline = time.monotonic() + timeout_s
    while True:
        done = subprocess.run(
            [*command, "-o", "json"], capture_output=True, text=True, check=False
        )  # fmt: skip
        pending = not_established(done.stdout, WAITED)
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(poll_s)


def run(args: argparse.Namespace) -> int:
    """Generate (or check) one YAML file per custom resource (or wait for them)."""
    if args.wait_established is not None:
        try:
            pending = wait_established(args.wait_established, args.timeout)
        except ClusterError as err:
            print(f"statecast crds: {err}", file=sys.stderr)
            return 1
        if pending:
            print(
                f"statecast crds: not Established after {args.timeout:g} s: {', '.join(pending)}",
                file=sys.stderr,
            )
            return 1
        return 0
    outputs: list[Path] = args.output_dir or list(OUTPUT_DIRS)
    files = [(o / file_name(m), render(m)) for o in outputs for m in RESOURCES]
    if not args.output_dir:
        files.append((args.reference, render_reference()))
    stale = []
    for path, text in files:
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(
            f"statecast crds: {', '.join(stale)} out of date with statecast.api: "
            "run `statecast crds` (or `make crds`)",
            file=sys.stderr,
        )
        return 1
    return 0
