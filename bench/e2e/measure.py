"""What the benchmark reads while the workload runs: percentiles, a worker's memory, the CPU
of every part (`CpuMeter`), the global feed's lag (`FeedWatcher`), py-spy profiles, and the
memory phase (RSS growth of a fresh worker per 1,000 open processes)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.e2e.workload import Phase, Settings, Story, WorkerProcess, drive, log
from bench.targets import (
    Target,
    backend_cpu,
    cpu_delta,
    cpu_seconds,
)
from cli.session import Session
from store import EventStore
from store.feed import subscribe


def memory_kb(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class Profiler:
    """`py-spy record` attached to a worker for one phase (collapsed stacks, `--format raw`)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, pid: int, name: str) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        self._proc = await asyncio.create_subprocess_exec(
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--rate",
            "200",
            "--output",
            str(self.directory / f"{name}.txt"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # attached

    async def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        await self._proc.wait()
        self._proc = None


async def count_events(store: EventStore) -> int:
    """The log's size. With the store sessions' `enable_seqscan = off` a count would walk an
    index and visit the heap row by row; a plain scan is what a count wants."""
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = on")
        return int(await conn.fetchval("SELECT count(*) FROM accord.events"))


class FeedWatcher:
    """Follows the global feed; while `recording`, notes each event's lag (seconds)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.recording: str | None = None  # the target whose Accord round runs
        self.lags: dict[str, list[float]] = {}
        self.seen = 0
        self.position = 0
        self._progress = asyncio.Event()

    async def run(self) -> None:
        async with subscribe(self.store, after=0, follow=True) as feed:
            async for batch in feed.batches():
                now = time.time()
                if self.recording is not None:
                    lags = self.lags.setdefault(self.recording, [])
                    lags.extend(now - e.recorded_at.timestamp() for e in batch)
                self.seen += len(batch)
                self.position = feed.position
                self._progress.set()

    async def caught_up(self, within: float = 30.0) -> None:
        """Wait (at most `within` seconds) until the follower has seen every event."""
        total = await count_events(self.store)
        deadline = time.monotonic() + within
        while self.seen < total and (left := deadline - time.monotonic()) > 0:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)


class CpuMeter:
    """CPU seconds of the worker, the Temporal server (every process of a cluster), the bench
    database's backends, this process, and, for a target whose Temporal persists in
    PostgreSQL (the cluster), the backends of Temporal's own databases."""

    def __init__(self, pool: asyncpg.Pool, database: str, target: Target) -> None:
        self.pool = pool
        self.database = database
        self.target = target

    async def snapshot(self, worker_pid: int) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "worker": cpu_seconds(worker_pid),
            "temporal": self.target.temporal_cpu(),
            "backends": await backend_cpu(self.pool, [self.database]),
            "temporal_backends": await backend_cpu(self.pool, self.target.databases),
            "driver": usage.ru_utime + usage.ru_stime,
        }

    async def since(self, before: dict[str, Any], worker_pid: int) -> dict[str, float]:
        after = await self.snapshot(worker_pid)
        spent = {
            "worker": after["worker"] - before["worker"],
            "temporal": after["temporal"] - before["temporal"],
            "postgres": cpu_delta(before["backends"], after["backends"]),
            "driver": after["driver"] - before["driver"],
        }
        if self.target.databases:
            spent["temporal_postgres"] = cpu_delta(
                before["temporal_backends"], after["temporal_backends"]
            )
        return spent


@dataclass
class TargetRun:
    """One target's pair of workers (Accord and pure Temporal), its client and its phases."""

    target: Target
    env: dict[str, dict[str, str]]  # the workers' environment, per arm
    workers: dict[str, WorkerProcess]
    sessions: dict[str, Session] = field(default_factory=dict)
    meter: CpuMeter | None = None
    phases: dict[str, list[Phase]] = field(default_factory=lambda: {"accord": [], "pure": []})


async def memory_phase(
    settings: Settings,
    session: Session,
    story: Story,
    env: dict[str, str],
    logs: Path,
    args: Sequence[str],
    name: str,
) -> dict[str, Any]:
    """RSS growth of a fresh worker while `settings.open` processes are opened and left."""
    cache = settings.memory_cache or settings.open + settings.warmup + 10
    worker = WorkerProcess(
        f"{name}-memory",
        args,
        {**env, "ACCORD_MAX_CACHED_WORKFLOWS": str(cache)},
        logs,
        Path(env["PYTHONPATH"]),
    )
    await worker.start()
    try:
        mem_session = Session(
            client=session.client,
            store=session.store,
            task_queue=worker.task_queue,
            embedded=None,
        )
        tag = uuid.uuid4().hex[:6]
        warm = [f"m{name[0]}{tag}-w{i}" for i in range(settings.warmup)]
        await drive(mem_session, story, warm, settings.in_flight, commands=1)
        await asyncio.sleep(1.0)
        before = memory_kb(worker.pid)
        log(
            f"memory ({name}): worker RSS {before / 1024:.0f} MB after warm-up; "
            f"opening {settings.open} processes ..."
        )
        ids = [f"m{name[0]}{tag}-{i:05d}" for i in range(settings.open)]
        phase = await drive(mem_session, story, ids, settings.in_flight, commands=1)
        await asyncio.sleep(2.0)
        after = memory_kb(worker.pid)
        peak = memory_kb(worker.pid, "VmHWM")
    finally:
        await worker.stop()
    per_1000 = (after - before) / 1024 / settings.open * 1000
    log(
        f"memory ({name}): RSS {after / 1024:.0f} MB with {settings.open} more open "
        f"processes: {per_1000:.0f} MB per 1,000 ({phase.seconds:.1f} s to open them)"
    )
    return {
        "open_processes": settings.open,
        "max_cached_workflows": cache,
        "rss_mb_before": round(before / 1024, 1),
        "rss_mb_after": round(after / 1024, 1),
        "rss_mb_peak": round(peak / 1024, 1),
        "rss_mb_per_1000_open": round(per_1000, 1),
        "open_seconds": round(phase.seconds, 2),
        "errors": phase.errors[:5],
    }
