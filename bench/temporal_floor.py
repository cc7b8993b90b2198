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

from temporalio.client import Client
from temporalio.worker import Worker

from bench.e2e import TemporalServer, cpu_seconds, percentile
from bench.floor_workflows import FloorActivity, FloorBare, FloorLocalActivity, floor_noop
from cli.devserver import add_dev_server_arguments

TASK_QUEUE = "accord-floor"


async def serve(address: str) -> None:
    client = await Client.connect(address)
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


async def run_benchmark(
    workflows: int, updates: int, extra: list[str], tuned: bool = True
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accord-floor-") as tmp:
        server = TemporalServer(Path(tmp), db_file=False, extra=extra, tuned=tuned)
        server.start()
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.temporal_floor",
            "--serve",
            server.address,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            assert worker.stdout is not None
            if (await worker.stdout.readline()).strip() != b"READY":
                raise RuntimeError("the floor worker did not start")
            client = await Client.connect(server.address)
            results: dict[str, Any] = {}
            await drive(client, "FloorActivity", 4, 5, 4)  # warm-up
            for name, label in (
                ("FloorBare", "bare"),
                ("FloorActivity", "activity"),
                ("FloorLocalActivity", "local_activity"),
            ):
                for in_flight in (1, 20):
                    count = workflows if in_flight > 1 else max(1, workflows // 10)
                    cpu_before = cpu_seconds(worker.pid), cpu_seconds(server.pid)
                    result = await drive(client, name, count, updates, in_flight)
                    worker_cpu = cpu_seconds(worker.pid) - cpu_before[0]
                    server_cpu = cpu_seconds(server.pid) - cpu_before[1]
                    result["cpu_ms_per_update"] = {
                        "temporal": round(server_cpu / result["updates"] * 1000, 2),
                        "worker": round(worker_cpu / result["updates"] * 1000, 2),
                    }
                    results[f"{label}_{in_flight}_in_flight"] = result
                    print(f"{label:>8}, {in_flight:>2} in flight: {result}", file=sys.stderr)
            results["dev_server_tuned"] = tuned
            results["machine"] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
            return results
        finally:
            worker.terminate()
            await worker.wait()
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal_floor", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--workflows", type=int, default=40, help="workflows at 20 in flight")
    parser.add_argument("--updates", type=int, default=24, help="updates per workflow")
    add_dev_server_arguments(parser)
    parser.add_argument("--serve", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    results = asyncio.run(
        run_benchmark(args.workflows, args.updates, args.temporal_arg, not args.untuned)
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            if key != "machine":
                print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
