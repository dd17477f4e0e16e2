"""``statecast crds``: write the CRDs generated from the models into ``crds/``.

The same files go into the Helm chart's ``crds/`` directory, which Helm installs
before the chart's templates; the reference of their fields goes to
``docs/reference/crds.md``. ``--check`` fails when any of them drifted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from statecast.api.crdgen import RESOURCES, file_name, render
from statecast.api.crdref import PATH as REFERENCE
from statecast.api.crdref import render_reference

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or check) one YAML file per custom resource."""
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
