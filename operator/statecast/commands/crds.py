"""``statecast crds``: write the CRDs generated from the models into ``crds/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from statecast.api.crdgen import RESOURCES, file_name, render


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> None:
    """Add the ``crds`` command."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--output-dir", type=Path, default=Path("crds"), help="directory to write (default: crds)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are out of date"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or check) one YAML file per custom resource."""
    output: Path = args.output_dir
    stale = []
    for model in RESOURCES:
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
