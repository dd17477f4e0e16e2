"""``statecast crds``: write the CRDs generated from the models into ``crds/``.

The same files go into the Helm chart's ``crds/`` directory, which Helm installs
before the chart's templates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from statecast.api.crdgen import RESOURCES, file_name, render

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or check) one YAML file per custom resource."""
    outputs: list[Path] = args.output_dir or list(OUTPUT_DIRS)
    stale = []
    for output, model in ((o, m) for o in outputs for m in RESOURCES):
        path = output / file_name(model)
        text = render(model)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
            continue
        output.mkdir(parents=True, exist_ok=True)
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
