"""The ``statecast`` command: one entry point, a subcommand per job.

Subcommands live in :mod:`statecast.commands`, one module each, and are imported
lazily so that ``statecast --help`` stays fast and a missing optional dependency of
one command never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from statecast import __version__

#: Subcommand name -> (module under statecast.commands, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "crds": ("crds", "generate the CustomResourceDefinitions into crds/"),
    "dev-cluster": ("dev_cluster", "run a real local control plane with KWOK nodes"),
    "operator": ("operator", "run the operator (kopf)"),
    "agent": ("agent", "run the node agent"),
    "forecast": ("forecast", "forecast access series from a wide CSV"),
    "simulate": ("simulate", "replay access traces through placement policies"),
    "demo": ("demo", "run the end-to-end demo on the local cluster"),
}

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="statecast",
        description="Kubernetes-native predictive state replication.",
    )
    parser.add_argument("--version", action="version", version=f"statecast {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"statecast.commands.{module_name}")
        except ModuleNotFoundError as err:
            if not err.name or not err.name.startswith("statecast.commands"):
                raise
            continue  # command not built yet
        module.register(subparsers, name, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``statecast`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
