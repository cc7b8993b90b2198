"""Where a benchmark's Temporal runs: `--target dev|cluster|HOST:PORT[,...]`.

  dev        `temporal server start-dev` started by the benchmark on free ports, without UI
             (in memory, or on a SQLite file with `--temporal-db-file`), stopped after it:
             one process, one history shard. The default, as before targets existed.
  cluster    the native cluster of `accord cluster up` (cli/cluster/, README "Cluster"):
             frontend, matching, two history processes sharing 8 shards and the worker
             service, on PostgreSQL. Brought up by the same code `accord cluster up` runs
             (binaries built once, databases set up, reused when it already runs); stopped
             afterwards only if the benchmark started it.
  HOST:PORT  a Temporal frontend already running elsewhere (namespace TEMPORAL_NAMESPACE or
             `default`, with Accord's search attributes registered); its CPU is not measured.

Several targets, comma-separated (`--target dev,cluster`, or `--side-by-side`), run the same
workload in one run, their rounds interleaved, and the benchmark prints each target's figures
and their ratios (the second target over the first). The benchmark's own workers reach every
target as a deployment's would: TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE) in their
environment, through the standard client configuration (workers/config.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.cluster import (
    HISTORY_SHARDS,
    TEMPORAL_DATABASE,
    TEMPORAL_SERVICES,
    VISIBILITY_DATABASE,
    ClusterError,
    local_cluster,
)
from cli.devserver import DevServerCommand, DevServerProcess
from cli.ports import free_port

DEV = "dev"
CLUSTER = "cluster"
SIDE_BY_SIDE = (DEV, CLUSTER)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Target:
    """One Temporal a benchmark runs against."""

    name: str  # dev, cluster or the address given
    address: str
    description: str
    namespace: str = "default"
    # The Temporal server's processes on this machine (name -> pid), for their CPU.
    processes: Callable[[], dict[str, int]] = dict
    # PostgreSQL databases holding Temporal's own persistence (the cluster's), whose
    # backends' CPU belongs to Temporal; `admin_url` reaches that server.
    databases: tuple[str, ...] = ()
    admin_url: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def temporal_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.processes().values())


def parse_targets(value: str | None, side_by_side: bool = False) -> tuple[str, ...]:
    """`dev`, `cluster`, `HOST:PORT`, comma-separated; `side_by_side` = `dev,cluster`."""
    if side_by_side:
        if value and tuple(v.strip() for v in value.split(",")) != SIDE_BY_SIDE:
            raise ValueError("--side-by-side is --target dev,cluster: give one of the two")
        return SIDE_BY_SIDE
    names: list[str] = []
    for raw in (DEV if value is None else value).split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in (DEV, CLUSTER):
            host, _, port = name.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"--target {name}: dev, cluster or HOST:PORT")
        if name in names:
            raise ValueError(f"--target {name} given twice")
        names.append(name)
    if not names:
        raise ValueError("--target: dev, cluster or HOST:PORT")
    return tuple(names)


def stop_on_sigterm() -> None:
    """SIGTERM (`timeout`, a CI runner) interrupts like Ctrl-C, so that the benchmark still
    stops the dev server and the cluster it started (both run in sessions of their own)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def add_target_arguments(parser: Any) -> None:
    parser.add_argument(
        "--target",
        metavar="dev|cluster|HOST:PORT[,...]",
        help="where Temporal runs (default dev; several, comma-separated, side by side)",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="--target dev,cluster: the same workload on both, interleaved, with ratios",
    )


async def backend_cpu(conn: Any, databases: Sequence[str]) -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend connected to one of `databases`."""
    if not databases:
        return {}
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(databases)
    )
    return {r["pid"]: cpu_seconds(r["pid"]) for r in rows}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two `backend_cpu` snapshots (backends may come and go)."""
    return sum(
        after.get(p, before.get(p, 0.0)) - before.get(p, 0.0) for p in set(before) | set(after)
    )


def _log(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


@contextlib.asynccontextmanager
async def dev_target(
    data_dir: Path, db_file: bool, extra: Sequence[str], tuned: bool, log: Any = None
) -> AsyncIterator[Target]:
    # Headless on a free port, like the test suite's server; in memory unless `db_file`
    # (then on SQLite in a file, like `make run`'s embedded server).
    command = DevServerCommand(
        port=free_port(),
        db_file=data_dir / "temporal.db" if db_file else None,
        tuned=tuned,
        extra_args=tuple(extra),
    )
    server = DevServerProcess(command, data_dir)
    await asyncio.to_thread(server.start)
    where = "SQLite file" if db_file else "in memory"
    _log(log, f"temporal dev server on {server.address} ({where})")
    try:
        yield Target(
            name=DEV,
            address=server.address,
            description="temporal server start-dev: 1 process, 1 shard, SQLite "
            + ("file" if db_file else "in memory"),
            processes=lambda: {"dev-server": server.pid},
            info={"persistence": "sqlite-file" if db_file else "sqlite-memory", "shards": 1},
        )
    finally:
        await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def cluster_target(log: Any = None) -> AsyncIterator[Target]:
    """The native cluster, brought up as `accord cluster up` does (`cli.cluster.local_cluster`:
    `.data/cluster`, the embedded PostgreSQL or DATABASE_URL's server)."""
    cluster = local_cluster(sys.stderr)
    status = await asyncio.to_thread(cluster.status)
    was_up = any(p["alive"] for p in status["processes"].values())
    _log(log, "native cluster already running: reused" if was_up else "bringing the cluster up")
    try:
        report = await asyncio.to_thread(cluster.up)
    except ClusterError as err:
        raise RuntimeError(f"accord cluster up failed: {err}") from None
    _log(log, f"native cluster: frontend {cluster.state.address} (up in {report['up_seconds']} s)")
    services = tuple(TEMPORAL_SERVICES)
    try:
        yield Target(
            name=CLUSTER,
            address=cluster.state.address,
            description=(
                f"native cluster: {len(services)} Temporal processes, {HISTORY_SHARDS} shards,"
                " PostgreSQL"
            ),
            processes=lambda: {n: cluster.state.pids[n] for n in services},
            databases=(TEMPORAL_DATABASE, VISIBILITY_DATABASE),
            admin_url=cluster.admin_url,
            info={
                "persistence": "postgresql",
                "shards": HISTORY_SHARDS,
                "processes": list(services),
                "root": str(cluster.root),
                "started_by_benchmark": not was_up,
            },
        )
    finally:
        if not was_up:
            _log(log, "stopping the cluster the benchmark started")
            await asyncio.to_thread(cluster.down)


@contextlib.asynccontextmanager
async def address_target(address: str) -> AsyncIterator[Target]:
    yield Target(
        name=address,
        address=address,
        description=f"Temporal at {address} (its CPU not measured)",
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
    )


@contextlib.asynccontextmanager
async def open_targets(
    names: Sequence[str],
    data_dir: Path,
    *,
    db_file: bool = False,
    extra: Sequence[str] = (),
    tuned: bool = True,
    log: Any = None,
) -> AsyncIterator[list[Target]]:
    """Each target started (or reached) in turn, all stopped at the end. The dev server's
    data directory is `data_dir` (its log `temporal.log` in it)."""
    async with contextlib.AsyncExitStack() as stack:
        targets = []
        for name in names:
            if name == DEV:
                opened = dev_target(data_dir, db_file, extra, tuned, log)
            elif name == CLUSTER:
                opened = cluster_target(log)
            else:
                opened = address_target(name)
            targets.append(await stack.enter_async_context(opened))
        yield targets
