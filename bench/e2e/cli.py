"""`python -m bench.e2e`: the command line, read into `Settings`, one run, its table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import bench.e2e
from bench.e2e.render import render, render_side_by_side
from bench.e2e.run import run_benchmark
from bench.e2e.workload import Settings
from bench.targets import (
    add_target_arguments,
    parse_targets,
    stop_on_sigterm,
)
from cli.devserver import add_dev_server_arguments

DEFAULTS = {"processes": 200, "in_flight": 20, "open": 1000, "rounds": 4}
QUICK = {"processes": 20, "in_flight": 20, "open": 200, "rounds": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=bench.e2e.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK['processes']} processes, {QUICK['open']} open",
    )
    parser.add_argument("--processes", type=int, help=f"default {DEFAULTS['processes']}")
    parser.add_argument("--in-flight", type=int, help=f"default {DEFAULTS['in_flight']}")
    parser.add_argument("--open", type=int, help=f"default {DEFAULTS['open']}")
    parser.add_argument("--rounds", type=int, help="alternating Accord/baseline rounds")
    parser.add_argument("--warmup", type=int, help="warm-up processes per worker")
    parser.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        help="passed to the Accord worker (see bench.e2e_worker)",
    )
    parser.add_argument(
        "--baseline-arg", action="append", default=[], help="passed to the baseline worker"
    )
    parser.add_argument(
        "--cache", type=int, help="max_cached_workflows of the memory phase (default: all open)"
    )
    parser.add_argument(
        "--no-memory-baseline",
        action="store_true",
        help="skip the baseline worker's memory measurement",
    )
    parser.add_argument(
        "--temporal-db-file",
        action="store_true",
        help="the dev server on a SQLite file (default: in memory)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy each worker during each round into DIR (raw stacks)",
    )
    parser.add_argument(
        "--baseline-real",
        action="store_true",
        help="A/B experiments: the baseline worker records for real (no --noop)",
    )
    add_dev_server_arguments(parser)
    add_target_arguments(parser)
    parser.add_argument(
        "--worker-patch", type=Path, help="unified diff applied to the Accord worker's code"
    )
    parser.add_argument(
        "--baseline-patch", type=Path, help="unified diff applied to the baseline's code"
    )
    args = parser.parse_args(argv)
    try:
        targets = parse_targets(args.target, args.side_by_side)
    except ValueError as err:
        parser.error(str(err))
    base = QUICK if args.quick else DEFAULTS
    in_flight = args.in_flight or base["in_flight"]
    settings = Settings(
        processes=args.processes or base["processes"],
        in_flight=in_flight,
        open=args.open if args.open is not None else base["open"],
        rounds=max(1, min(args.rounds or base["rounds"], args.processes or base["processes"])),
        warmup=args.warmup if args.warmup is not None else (2 if args.quick else 10),
        worker_args=tuple(args.worker_arg),
        baseline_args=tuple(args.baseline_arg),
        memory_cache=args.cache,
        memory_baseline=not args.no_memory_baseline,
        temporal_db_file=args.temporal_db_file,
        profile=args.profile,
        baseline_real=args.baseline_real,
        worker_patch=args.worker_patch,
        baseline_patch=args.baseline_patch,
        temporal_args=tuple(args.temporal_arg),
        dev_server_tuned=not args.untuned,
        targets=targets,
    )
    stop_on_sigterm()
    results = asyncio.run(run_benchmark(settings))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render_side_by_side(results) if "targets" in results else render(results))
    return 1 if results["errors"] else 0
