"""`python -m bench.eventstore`: the command line, one run, its table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json

import bench.eventstore
from bench.eventstore.render import render
from bench.eventstore.run import run_benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eventstore", description=bench.eventstore.__doc__
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--events", type=int, default=2000, help="events per sequential measurement"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument(
        "--rebuild-events", type=int, default=100_000, help="size of the rebuilt log"
    )
    parser.add_argument(
        "--group-commit",
        type=int,
        default=1,
        help="EventStore(group_commit=...): groups written at once (0 = no grouping)",
    )
    args = parser.parse_args(argv)
    results = asyncio.run(
        run_benchmark(args.events, args.rounds, args.rebuild_events, args.group_commit)
    )
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0
