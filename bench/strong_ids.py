"""The cost of a strong resource's request-id memory once full (docs/consistency.md).

``KeyValueMachine.apply`` of named puts in a loop: CPU microseconds a write while the memory
fills, then once full (each write forgets the oldest id). A CPU figure of one Python
applier: record ``uptime`` with it. Run from the repository root::

    .venv/bin/python -m bench.strong_ids [--after 20000]
"""

from __future__ import annotations

import argparse
import time

from statecast.core.strong.log import Operation
from statecast.core.strong.machine import REMEMBERED, KeyValueMachine


def measure(after: int) -> tuple[float, float]:
    """(us a write while filling the memory, us a write once it is full)."""
    machine = KeyValueMachine()
    ops = [
        Operation("put", f"k{i % 100}", b'"v"', request=f"client-{i:08d}")
        for i in range(REMEMBERED + after)
    ]
    started = time.process_time()
    for op in ops[:REMEMBERED]:
        machine.apply(op)
    filled = time.process_time()
    for op in ops[REMEMBERED:]:
        machine.apply(op)
    done = time.process_time()
    return 1e6 * (filled - started) / REMEMBERED, 1e6 * (done - filled) / after


def main() -> None:
    """Print the two figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=int, default=20_000, help="writes once full")
    args = parser.parse_args()
    filling, full = measure(args.after)
    print(f"{REMEMBERED} ids: {filling:.1f} us a write filling, {full:.1f} us once full")


if __name__ == "__main__":
    main()
