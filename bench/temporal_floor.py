"""What the Temporal dev server and the Python SDK alone cost per update, on this machine:
`python -m bench.temporal_floor [--json] [--workflows N] [--updates U]`.

No Accord code at all: two trivial workflows on the same dev server build as `make bench`
(in memory, no UI), a worker in a subprocess with the SDK's default sandbox, and a driver
that sends U updates to each of N workflows, each workflow's updates in order, with 1 and
with 20 updates in flight:

  bare      the update handler adds a number and returns (one workflow task per update)
  activity  the handler awaits one no-op activity first (two workflow tasks and an activity
            task per update: the shape of every Accord command)
  local_activity  the same activity as a local activity (one workflow task per update)

The dev server gets Accord's settings (`cli.devserver.DEV_SERVER_DYNAMIC_CONFIG`) unless
`--untuned`. It is the floor under `bench.e2e`'s latency: whatever Accord does, an update cannot be
faster than `activity` here, and p95 at 20 in flight cannot be below what this prints.

`--target cluster` (or HOST:PORT) measures the same on the native cluster (bench/targets.py);
`--target dev,cluster` (`--side-by-side`) on both in one run, each shape and concurrency on
one target then the other (the order alternating), with the ratios cluster / dev.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from bench.e2e.measure import percentile
from bench.floor_workflows import FloorActivity, FloorBare, FloorLocalActivity, floor_noop
from bench.targets import (
    Target,
    add_target_arguments,
    backend_cpu,
    cpu_delta,
    cpu_seconds,
    open_targets,
    parse_targets,
    stop_on_sigterm,
)
from cli.devserver import add_dev_server_arguments

TASK_QUEUE = "accord-floor"


async def serve(address: str, namespace: str = "default") -> None:
    client = await Client.connect(address, namespace=namespace)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[FloorBare, FloorActivity, FloorLocalActivity],
        activities=[floor_noop],
    ):
        print("READY", flush=True)
        await asyncio.Event().wait()


async def drive(
    client: Client, workflow_name: str, workflows: int, updates: int, in_flight: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            workflow_name, id=f"floor-{workflow_name}-{run}-{i}", task_queue=TASK_QUEUE
        )
        for n in range(updates):
            async with gate:
                started = time.perf_counter()
                await handle.execute_update("bump", n)
                latencies.append((time.perf_counter() - started) * 1000)
        await handle.signal("finish")

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(workflows)))
    seconds = time.perf_counter() - started
    return {
        "updates": len(latencies),
        "updates_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


SHAPES = (
    ("FloorBare", "bare"),
    ("FloorActivity", "activity"),
    ("FloorLocalActivity", "local_activity"),
)


async def run_benchmark(
    workflows: int,
    updates: int,
    extra: list[str],
    tuned: bool = True,
    targets: tuple[str, ...] = ("dev",),
) -> dict[str, Any]:
    """The floor on each target; one target: its figures as they have always been printed,
    several: {"targets": {name: figures}, "side_by_side": second / first, ...}."""
    with tempfile.TemporaryDirectory(prefix="accord-floor-") as tmp:
        async with open_targets(targets, Path(tmp), extra=extra, tuned=tuned, log=_log) as opened:
            results = await _measure(opened, workflows, updates)
    for r in results.values():
        r["dev_server_tuned"] = tuned
    machine = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    if len(results) == 1:
        return {**next(iter(results.values())), "machine": machine}
    first, second = list(results)[:2]
    return {
        "targets": results,
        "ratio": f"{second} / {first}",
        "side_by_side": {
            case: {
                "updates_per_second": _ratio(results, case, "updates_per_second"),
                "p50_ms": _ratio(results, case, "p50_ms"),
                "p95_ms": _ratio(results, case, "p95_ms"),
                "p99_ms": _ratio(results, case, "p99_ms"),
            }
            for case in _cases(results[first])
        },
        "dev_server_tuned": tuned,
        "machine": machine,
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cases(result: dict[str, Any]) -> list[str]:
    return [k for k, v in result.items() if isinstance(v, dict) and "updates" in v]


def _ratio(results: dict[str, dict[str, Any]], case: str, key: str) -> float | None:
    a, b = (results[name][case][key] for name in list(results)[:2])
    return round(b / a, 3) if a else None


async def _start_worker(target: Target) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.temporal_floor",
        "--serve",
        target.address,
        "--namespace",
        target.namespace,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert worker.stdout is not None
    if (await worker.stdout.readline()).strip() != b"READY":
        raise RuntimeError(f"the floor worker did not start ({target.name})")
    return worker


async def _measure(
    targets: list[Target], workflows: int, updates: int
) -> dict[str, dict[str, Any]]:
    workers: dict[str, asyncio.subprocess.Process] = {}
    conn: asyncpg.Connection | None = None
    try:
        clients: dict[str, Client] = {}
        for target in targets:
            workers[target.name] = await _start_worker(target)
            clients[target.name] = await Client.connect(target.address, namespace=target.namespace)
            if target.databases and target.admin_url and conn is None:
                conn = await asyncpg.connect(target.admin_url)
            await drive(clients[target.name], "FloorActivity", 4, 5, 4)  # warm-up
        results: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
        step = 0
        for name, label in SHAPES:
            for in_flight in (1, 20):
                count = workflows if in_flight > 1 else max(1, workflows // 10)
                # Each case on every target in turn, the order alternating between cases.
                for target in targets if step % 2 == 0 else targets[::-1]:
                    worker = workers[target.name]
                    pg_before = await backend_cpu(conn, target.databases) if conn else {}
                    cpu_before = cpu_seconds(worker.pid), target.temporal_cpu()
                    result = await drive(clients[target.name], name, count, updates, in_flight)
                    worker_cpu = cpu_seconds(worker.pid) - cpu_before[0]
                    server_cpu = target.temporal_cpu() - cpu_before[1]
                    cpu = {
                        "temporal": round(server_cpu / result["updates"] * 1000, 2),
                        "worker": round(worker_cpu / result["updates"] * 1000, 2),
                    }
                    if conn is not None and target.databases:
                        spent = cpu_delta(pg_before, await backend_cpu(conn, target.databases))
                        cpu["temporal_postgres"] = round(spent / result["updates"] * 1000, 2)
                    result["cpu_ms_per_update"] = cpu
                    results[target.name][f"{label}_{in_flight}_in_flight"] = result
                    where = f"{target.name:>8} " if len(targets) > 1 else ""
                    print(f"{where}{label:>8}, {in_flight:>2} in flight: {result}", file=sys.stderr)
                step += 1
        for target in targets:
            results[target.name]["target"] = {
                "name": target.name,
                "address": target.address,
                "description": target.description,
                **target.info,
            }
        return results
    finally:
        for worker in workers.values():
            worker.terminate()
            await worker.wait()
        if conn is not None:
            await conn.close()


def render_side_by_side(results: dict[str, Any]) -> str:
    (na, a), (nb, b) = list(results["targets"].items())[:2]
    lines = [
        f"side by side: {na} = {a['target']['description']}",
        f"              {nb} = {b['target']['description']}",
        f"{'case':<26} {'updates/s':>19} {'p50 ms':>17} {'p95 ms':>17}",
        f"{'':<26} {na:>9} {nb:>9} {na:>8} {nb:>8} {na:>8} {nb:>8}  {results['ratio']}",
    ]
    for case, ratio in results["side_by_side"].items():
        x, y = a[case], b[case]
        lines.append(
            f"{case:<26} {x['updates_per_second']:>9.1f} {y['updates_per_second']:>9.1f}"
            f" {x['p50_ms']:>8.1f} {y['p50_ms']:>8.1f} {x['p95_ms']:>8.1f} {y['p95_ms']:>8.1f}"
            f"  updates/s x{ratio['updates_per_second']}, p50 x{ratio['p50_ms']},"
            f" p95 x{ratio['p95_ms']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal_floor", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--workflows", type=int, default=40, help="workflows at 20 in flight")
    parser.add_argument("--updates", type=int, default=24, help="updates per workflow")
    add_dev_server_arguments(parser)
    add_target_arguments(parser)
    parser.add_argument("--serve", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.namespace))
        return 0
    try:
        targets = parse_targets(args.target, args.side_by_side)
    except ValueError as err:
        parser.error(str(err))
    stop_on_sigterm()
    results = asyncio.run(
        run_benchmark(args.workflows, args.updates, args.temporal_arg, not args.untuned, targets)
    )
    if args.json:
        print(json.dumps(results, indent=2))
    elif "targets" in results:
        print(render_side_by_side(results))
    else:
        for key, value in results.items():
            if key != "machine":
                print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
