"""The top allocation sites of an operator heap snapshot, and what grew between two.

    .venv/bin/python -m bench.heap_diff AFTER.snapshot [BEFORE.snapshot] [--top 25]
        [--group-by traceback|lineno|filename]

Snapshots come from ``STATECAST_HEAP_PROFILE`` (:mod:`statecast.controller.heap_profile`).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc


def main(argv: list[str] | None = None) -> int:
    """Print the largest sites (or the largest growth) with a few frames each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("after")
    parser.add_argument("before", nargs="?")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--group-by", default="traceback")
    args = parser.parse_args(argv)
    after = tracemalloc.Snapshot.load(args.after)
    total = sum(s.size for s in after.statistics("filename"))
    print(f"traced: {total / 2**20:.1f} MiB in {args.after}")
    if args.before:
        before = tracemalloc.Snapshot.load(args.before)
        stats = after.compare_to(before, args.group_by)
        for stat in stats[: args.top]:
            print(f"{stat.size_diff / 2**20:+8.2f} MiB -> {stat.size / 2**20:7.2f} MiB "
                  f"({stat.count_diff:+d} blocks)")  # fmt: skip
            for line in stat.traceback.format(limit=args.frames, most_recent_first=True):
                print("      " + line.strip())
        return 0
    for site in after.statistics(args.group_by)[: args.top]:
        print(f"{site.size / 2**20:8.2f} MiB  {site.count} blocks")
        for line in site.traceback.format(limit=args.frames, most_recent_first=True):
            print("      " + line.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
