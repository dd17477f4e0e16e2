"""``python -m statecast.agent``: the agent command alone, without loading the others."""

from __future__ import annotations

import argparse
import sys

from statecast.commands import agent as command


def main() -> int:
    """Parse ``statecast agent`` arguments and run it."""
    parser = argparse.ArgumentParser(prog="statecast-agent")
    subparsers = parser.add_subparsers(dest="command", required=True)
    command.register(subparsers, "agent", "run the node agent")
    return int(command.run(parser.parse_args(["agent", *sys.argv[1:]])))


if __name__ == "__main__":
    sys.exit(main())
