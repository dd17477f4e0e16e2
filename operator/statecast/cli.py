"""The ``statecast`` command: one entry point, a subcommand per job.

Subcommands live in :mod:`statecast.commands`, one module each. Running a command
imports only its module, so ``statecast agent`` does not pay for statsmodels.
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
    "manifests": ("manifests", "render the Helm chart into plain YAML (manifests/install)"),
    "dev-cluster": ("dev_cluster", "run a real local control plane with KWOK nodes"),
    "operator": ("operator", "run the operator (kopf)"),
    "agent": ("agent", "run the node agent"),
    "forecast": ("forecast", "forecast access series from a wide CSV"),
    "simulate": ("simulate", "replay access traces through placement policies"),
    "demo": ("demo", "run the end-to-end demo on the local cluster"),
    "chaos": ("chaos", "inject a fault under load and check that nothing was lost"),
    "docs": ("docs", "generate the configuration table of docs/configuration.md"),
}

Handler = Callable[[argparse.Namespace], int]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser.

    Args:
        only: register just this subcommand (what ``main`` does when the command line
            names one, so that running a command imports nothing of the others).
    """
    parser = argparse.ArgumentParser(
        prog="statecast",
        description="Kubernetes-native predictive state replication.",
    )
    parser.add_argument("--version", action="version", version=f"statecast {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"statecast.commands.{module_name}")
        module.register(subparsers, name, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``statecast`` command and return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(arguments)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
