"""End-to-end benchmark: `python -m bench.e2e [--json] [--processes N] [--in-flight K] [--open M]`.

One run, on its own services: a Temporal dev server started here (temporary data dir, free
ports, no UI) and a dedicated PostgreSQL database on the embedded server (or on the
server of DATABASE_URL), created and dropped by the run. `--target cluster` (or HOST:PORT)
runs on the native cluster instead, `--side-by-side` on both, interleaved, with their
ratios (bench/targets.py). Workers run in subprocesses
(`bench.e2e_worker`, i.e. `accord worker`), so that each has its own interpreter and its
memory can be read from /proc.

  throughput  N processes play the whole story (scenarios/azerbaijan-icmp.yaml: open, then
              23 commands) concurrently, each process's commands in order, at most K
              commands in flight (a semaphore). Measured: processes per minute, commands
              per second, and the latency of each update as the client sees it
              (`execute_update`, through `cli.operations.send_command`).
  baseline    the same, against a worker whose `record_events` activity returns a
              RecordResult without touching PostgreSQL ("pure Temporal": same workflows,
              same updates, same activities). Accord and baseline runs alternate in rounds
              (A B, B A, ...) so that drift in the machine's load hits both alike;
              `e2e_vs_pure_temporal` = Accord time / baseline time.
  feed        a follower of the global feed (`store.feed.subscribe(follow=True)`) runs
              during the Accord rounds; its lag is the time between an event's
              `recorded_at` and the moment the follower holds it.
  memory      a fresh Accord worker, warmed with a few processes; M more processes are
              opened and given one command each, then left waiting. The growth of the
              worker's VmRSS, per 1,000 processes, with every one of them in the
              workflow cache (max_cached_workflows >= all open processes). The same for
              a fresh baseline worker.

CPU seconds of each part (worker, Temporal server, the bench database's PostgreSQL
backends, this driver) are read from /proc around each phase;
`cpu_per_command_vs_pure_temporal` compares the two arms by CPU, which the machine's other
load disturbs less than time. The workers import a copy of the source tree taken at the
start (the sandbox re-reads workflow modules for every new workflow instance, so edits to
the working tree would otherwise reach them mid-run). Progress goes to stderr; the table
(or with --json one JSON object) to stdout. BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg

from bench.targets import (
    DEV,
    Target,
    add_target_arguments,
    backend_cpu,
    cpu_delta,
    cpu_seconds,
    open_targets,
    parse_targets,
    stop_on_sigterm,
)
from cli.devserver import add_dev_server_arguments, temporal_binary
from cli.operations import send_command, start_process
from cli.scenario import load
from cli.session import Session
from security.keys import local_actor_keys_path
from store import EventStore
from store.embedded import admin_url, project_root
from store.feed import subscribe
from workers.config import TemporalSettings
from workflows.process import workflow_id_for

STORY = project_root() / "scenarios" / "azerbaijan-icmp.yaml"
DEFAULTS = {"processes": 200, "in_flight": 20, "open": 1000, "rounds": 4}
QUICK = {"processes": 20, "in_flight": 20, "open": 200, "rounds": 2}
TARGETS = {
    "e2e_vs_pure_temporal": ("<=", 1.3),
    "p95_update_latency_ms_20_in_flight": ("<=", 150.0),
    "worker_rss_mb_per_1000_open": ("<=", 300.0),
}
WORKER_START_S = 120.0
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- the story --------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    process: dict[str, Any]
    first_on: object  # the first step's business date: `start_process`'s default_on
    commands: list[tuple[str, dict[str, Any]]]


def load_story(path: Path = STORY) -> Story:
    scenario = load(path)
    commands = []
    for step in scenario.steps:
        if step.kind != "command":
            continue
        assert step.command is not None and step.on is not None and step.actor is not None
        payload = {**step.with_, "actor": step.actor, "occurred_on": step.on}
        commands.append((step.command, json.loads(json.dumps(payload, default=str))))
    first_on = next(s.on for s in scenario.steps if s.on is not None)
    return Story(process=dict(scenario.process), first_on=first_on, commands=commands)


# -- measuring processes ----------------------------------------------------------------


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


class WorkerProcess:
    """`python -m bench.e2e_worker ARGS` with its own task queue; READY when polling."""

    def __init__(
        self, name: str, args: Sequence[str], env: dict[str, str], logs: Path, cwd: Path
    ) -> None:
        self.name = name
        self.cwd = cwd
        self.args = list(args)
        self.task_queue = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.env = {**env, "ACCORD_TASK_QUEUE": self.task_queue}
        self.log_path = logs / f"worker-{name}.log"
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.e2e_worker",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            env=self.env,
            cwd=self.cwd,
        )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), WORKER_START_S)
        except TimeoutError:
            line = b""
        if not line.startswith(b"READY"):
            self.kill()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker {self.name} did not start:\n{tail}")

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()

    async def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), 30)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._log is not None:
            self._log.close()


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


# -- the feed follower ------------------------------------------------------------------


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


# -- driving processes ------------------------------------------------------------------


@dataclass
class Phase:
    kind: str
    processes: int
    commands: int = 0  # open_process + updates
    updates: int = 0
    events: int = 0  # appended to the store during the phase
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_command: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)


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


async def drive(
    session: Session,
    story: Story,
    process_ids: Sequence[str],
    in_flight: int,
    *,
    commands: int | None = None,
    kind: str = "",
) -> Phase:
    """Open each process and play the story's commands (the first `commands` of them)."""
    phase = Phase(kind=kind, processes=len(process_ids))
    gate = asyncio.Semaphore(in_flight)
    steps = story.commands if commands is None else story.commands[:commands]

    async def play(process_id: str) -> None:
        async with gate:
            opened = await start_process(
                session, {**story.process, "process_id": process_id}, default_on=story.first_on
            )
        phase.commands += 1
        if not opened.accepted:
            phase.errors.append(f"{process_id}: open_process: {opened.code} {opened.message}")
            return
        workflow_id = workflow_id_for(process_id)
        for name, payload in steps:
            async with gate:
                started = time.perf_counter()
                outcome = await send_command(session, workflow_id, name, payload)
                latency = time.perf_counter() - started
            phase.latencies.append(latency)
            phase.by_command.setdefault(name, []).append(latency)
            phase.commands += 1
            phase.updates += 1
            if not outcome.accepted:
                phase.errors.append(f"{process_id}: {name}: {outcome.code} {outcome.message}")
                return

    started = time.perf_counter()
    await asyncio.gather(*(play(p) for p in process_ids))
    phase.seconds = time.perf_counter() - started
    return phase


# -- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    processes: int
    in_flight: int
    open: int
    rounds: int
    warmup: int
    worker_args: tuple[str, ...] = ()
    baseline_args: tuple[str, ...] = ()
    memory_cache: int | None = None
    memory_baseline: bool = True
    temporal_db_file: bool = False
    profile: Path | None = None
    baseline_real: bool = False
    worker_patch: Path | None = None
    baseline_patch: Path | None = None
    temporal_args: tuple[str, ...] = ()
    dev_server_tuned: bool = True
    targets: tuple[str, ...] = (DEV,)

    @property
    def baseline_worker_args(self) -> list[str]:
        noop = [] if self.baseline_real else ["--noop"]
        return [*noop, *self.baseline_args]


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _sum_phases(kind: str, phases: Sequence[Phase]) -> Phase:
    total = Phase(kind=kind, processes=0)
    for p in phases:
        total.processes += p.processes
        total.commands += p.commands
        total.updates += p.updates
        total.events += p.events
        total.seconds += p.seconds
        total.latencies += p.latencies
        for name, values in p.by_command.items():
            total.by_command.setdefault(name, []).extend(values)
        total.errors += p.errors
        for k, v in p.cpu.items():
            total.cpu[k] = total.cpu.get(k, 0.0) + v
    return total


def _latency_ms(phase: Phase) -> dict[str, float]:
    return {f"p{p}": round(percentile(phase.latencies, p) * 1000, 1) for p in (50, 95, 99)}


def _rates(phase: Phase) -> dict[str, Any]:
    return {
        "processes": phase.processes,
        "commands": phase.commands,
        "seconds": round(phase.seconds, 2),
        "processes_per_minute": round(phase.processes / phase.seconds * 60, 1),
        "commands_per_second": round(phase.commands / phase.seconds, 1),
        "update_latency_ms": _latency_ms(phase),
        "cpu_ms_per_command": {
            k: round(v / phase.commands * 1000, 2) for k, v in sorted(phase.cpu.items())
        },
        "cpu_share": {k: round(v / phase.seconds, 2) for k, v in sorted(phase.cpu.items())},
        "update_p50_ms_by_command": {
            name: round(percentile(values, 50) * 1000, 1)
            for name, values in phase.by_command.items()
        },
    }


async def _memory(
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


def _keep_logs(tmp: Path) -> str:
    """Copy the workers' and the server's logs out of the temporary directory."""
    keep = Path(tempfile.mkdtemp(prefix="accord-e2e-logs-"))
    for path in [*tmp.glob("*.log"), *tmp.glob("temporal/*.log")]:
        shutil.copy(path, keep / path.name)
    log(f"logs kept in {keep}")
    return str(keep)


def snapshot_source(dest: Path, patch: Path | None = None) -> Path:
    """A copy of the project's packages for the workers to import.

    The workers load workflow code from disk whenever they create a workflow instance (the
    sandbox re-imports it), so an edit to the working tree during a run would otherwise
    reach the workers mid-run (on a shared machine we saw exactly that fail workflow tasks).
    """
    root = project_root()
    src = dest / "src"
    for package in sorted(root.iterdir()):
        if package.is_dir() and (package / "__init__.py").exists():
            shutil.copytree(
                package, src / package.name, ignore=shutil.ignore_patterns("__pycache__")
            )
    if patch is not None:
        # A proposed change to workflows/ or activities/, measured without editing the tree.
        subprocess.run(
            ["patch", "-p1", "--forward", "--quiet", "-d", str(src), "-i", str(patch.resolve())],
            check=True,
        )
    return src


async def run_benchmark(settings: Settings) -> dict[str, Any]:
    admin = admin_url()  # creates the benchmark database: the set-up superuser
    name = f"accord_bench_e2e_{uuid.uuid4().hex[:8]}"
    url = f"{admin.rpartition('/')[0]}/{name}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    log(f"bench database {name}")
    try:
        with tempfile.TemporaryDirectory(prefix="accord-e2e-") as tmp:
            try:
                async with open_targets(
                    settings.targets,
                    Path(tmp) / "temporal",
                    db_file=settings.temporal_db_file,
                    extra=settings.temporal_args,
                    tuned=settings.dev_server_tuned,
                    log=log,
                ) as targets:
                    result = await _run(settings, targets, url, name, Path(tmp))
            except BaseException:
                _keep_logs(Path(tmp))
                raise
            if result["errors"]:
                result["logs"] = _keep_logs(Path(tmp))
            return result
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def _run(
    settings: Settings, targets: Sequence[Target], url: str, database: str, tmp: Path
) -> dict[str, Any]:
    story = load_story()
    store = await EventStore.connect(url)  # applies the migrations
    try:
        return await _measure(settings, targets, store, url, database, story, tmp)
    finally:
        await store.close()


@dataclass
class TargetRun:
    """One target's pair of workers (Accord and pure Temporal), its client and its phases."""

    target: Target
    env: dict[str, dict[str, str]]  # the workers' environment, per arm
    workers: dict[str, WorkerProcess]
    sessions: dict[str, Session] = field(default_factory=dict)
    meter: CpuMeter | None = None
    phases: dict[str, list[Phase]] = field(default_factory=lambda: {"accord": [], "pure": []})


async def _measure(
    settings: Settings,
    targets: Sequence[Target],
    store: EventStore,
    url: str,
    database: str,
    story: Story,
    tmp: Path,
) -> dict[str, Any]:
    sources = {
        "accord": snapshot_source(tmp / "accord", settings.worker_patch),
        "pure": snapshot_source(tmp / "pure", settings.baseline_patch),
    }
    runs: list[TargetRun] = []
    for target in targets:
        env = {
            **os.environ,
            # Each target reached as a deployment's worker reaches its cluster.
            "TEMPORAL_ADDRESS": target.address,
            "TEMPORAL_NAMESPACE": target.namespace,
            "DATABASE_URL": url,
            "ACCORD_TEMPORAL_BIN": temporal_binary(),
        }
        if not (env.get("ACCORD_ACTOR_KEYS") or env.get("ACCORD_ACTOR_KEYS_FILE")):
            # The workers get TEMPORAL_ADDRESS (so no local ring of their own) and run from
            # a source snapshot: hand them the ring this client mints its tokens with.
            env["ACCORD_ACTOR_KEYS_FILE"] = str(local_actor_keys_path())
        arm_env = {k: {**env, "PYTHONPATH": str(src)} for k, src in sources.items()}
        # Worker logs: worker-accord.log for the first target (as before), then per target.
        prefix = "" if not runs else f"{target.name.replace(':', '_')}-"
        runs.append(
            TargetRun(
                target=target,
                env=arm_env,
                workers={
                    "accord": WorkerProcess(
                        f"{prefix}accord",
                        settings.worker_args,
                        arm_env["accord"],
                        tmp,
                        sources["accord"],
                    ),
                    "pure": WorkerProcess(
                        f"{prefix}pure",
                        settings.baseline_worker_args,
                        arm_env["pure"],
                        tmp,
                        sources["pure"],
                    ),
                },
                meter=CpuMeter(store.pool, database, target),
            )
        )
    profiler = Profiler(settings.profile)
    watcher = FeedWatcher(store)
    follow = asyncio.create_task(watcher.run())
    load_start = os.getloadavg()
    # Every (target, arm) in one list: each round plays them in this order or reversed
    # (P A, A P, ... for one target; P1 A1 P2 A2, A2 P2 A1 P1, ... for two), so that drift
    # in the machine's load hits every arm alike.
    arms = [(run, kind) for run in runs for kind in ("pure", "accord")]
    in_order: list[tuple[str, Phase]] = []
    tag = uuid.uuid4().hex[:6]
    try:
        for run in runs:
            client = await TemporalSettings.from_env(address=run.target.address).connect()
            await asyncio.gather(*(w.start() for w in run.workers.values()))
            run.sessions = {
                k: Session(client=client, store=store, task_queue=w.task_queue, embedded=None)
                for k, w in run.workers.items()
            }
        log("workers ready")
        for t, run in enumerate(runs):
            for kind in ("pure", "accord"):
                ids = [f"w{kind[0]}{t}{tag}-{i}" for i in range(settings.warmup)]
                warm = await drive(run.sessions[kind], story, ids, settings.in_flight, kind=kind)
                if warm.errors:
                    raise RuntimeError(
                        f"warm-up ({run.target.name} {kind}) failed: {warm.errors[:3]}"
                    )
        await watcher.caught_up()
        log(f"warmed up ({settings.warmup} processes each)")

        sizes = _split(settings.processes, settings.rounds)
        for r, size in enumerate(sizes):
            for run, kind in arms if r % 2 == 0 else arms[::-1]:
                t = runs.index(run)
                ids = [f"{kind[0]}{'' if t == 0 else t}{tag}-r{r}-{i:04d}" for i in range(size)]
                worker = run.workers[kind]
                assert run.meter is not None
                await profiler.start(worker.pid, f"{worker.name}-round{r + 1}")
                before = await run.meter.snapshot(worker.pid)
                appended = await count_events(store)
                watcher.recording = run.target.name if kind == "accord" else None
                phase = await drive(run.sessions[kind], story, ids, settings.in_flight, kind=kind)
                await profiler.stop()
                if kind == "accord":
                    await watcher.caught_up()
                watcher.recording = None
                phase.cpu = await run.meter.since(before, worker.pid)
                phase.events = await count_events(store) - appended
                run.phases[kind].append(phase)
                in_order.append((run.target.name, phase))
                where = f" {run.target.name}" if len(runs) > 1 else ""
                log(
                    f"round {r + 1}/{len(sizes)}{where} {kind:>6}: {size} processes in "
                    f"{phase.seconds:.1f} s, {phase.commands / phase.seconds:.1f} commands/s, "
                    f"p95 {percentile(phase.latencies, 95) * 1000:.0f} ms"
                    + (f", {len(phase.errors)} ERRORS" if phase.errors else "")
                )
    finally:
        for run in runs:
            for w in run.workers.values():
                await w.stop()
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow

    memories: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        session = Session(
            client=run.sessions["accord"].client, store=store, task_queue="", embedded=None
        )
        memory: dict[str, dict[str, Any]] = {}
        name = "accord" if run is runs[0] else f"{run.target.name.replace(':', '_')}-accord"
        if settings.open:
            memory["accord"] = await _memory(
                settings, session, story, run.env["accord"], tmp, settings.worker_args, name
            )
            if settings.memory_baseline:
                memory["pure"] = await _memory(
                    settings,
                    session,
                    story,
                    run.env["pure"],
                    tmp,
                    settings.baseline_worker_args,
                    name.replace("accord", "pure"),
                )
        memories[run.target.name] = memory
    load_end = os.getloadavg()

    results = {
        run.target.name: _target_result(
            settings,
            run,
            [p for name, p in in_order if name == run.target.name],
            memories[run.target.name],
            watcher.lags.get(run.target.name, []),
        )
        for run in runs
    }
    common = {
        "settings": _settings_json(settings, story, results),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "temporal": _temporal_version(),
            "code": _code_version(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        },
    }
    errors = [e for r in results.values() for e in r["errors"]]
    if errors:
        log(f"{len(errors)} commands failed, e.g. {errors[:3]}")
    if len(runs) == 1:
        # One target: the report as it has always been, plus which target it was.
        return {**results[runs[0].target.name], **common}
    first, second = runs[0].target.name, runs[1].target.name
    return {
        "targets": results,
        "side_by_side": _side_by_side(results, runs),
        "ratio": f"{second} / {first}",
        "rounds": [
            {
                "target": name,
                "kind": p.kind,
                "processes": p.processes,
                "seconds": round(p.seconds, 2),
            }
            for name, p in in_order
        ],
        "errors": errors[:10],
        **common,
    }


def _target_result(
    settings: Settings,
    run: TargetRun,
    in_order: Sequence[Phase],
    memory: dict[str, dict[str, Any]],
    lags: list[float],
) -> dict[str, Any]:
    """One target's figures, in the shape `bench.e2e` has always printed."""
    accord = _sum_phases("accord", run.phases["accord"])
    pure = _sum_phases("pure", run.phases["pure"])
    errors = accord.errors + pure.errors
    for kind, mem in memory.items():
        errors += [f"memory ({kind}): {e}" for e in mem["errors"]]
    lat = _latency_ms(accord)
    return {
        "target": {
            "name": run.target.name,
            "address": run.target.address,
            "description": run.target.description,
            **run.target.info,
        },
        "processes_per_minute": round(accord.processes / accord.seconds * 60, 1),
        "commands_per_second": round(accord.commands / accord.seconds, 1),
        "update_latency_ms": lat,
        "e2e_vs_pure_temporal": round(accord.seconds / pure.seconds, 3),
        # The same comparison by CPU: every part's CPU seconds per command (worker, Temporal,
        # PostgreSQL, driver). Less sensitive to other load on the machine than the time.
        "cpu_per_command_vs_pure_temporal": round(
            sum(accord.cpu.values()) / accord.commands / (sum(pure.cpu.values()) / pure.commands),
            3,
        ),
        "p95_update_latency_ms_20_in_flight": lat["p95"] if settings.in_flight == 20 else None,
        "worker_rss_mb_per_1000_open": memory["accord"]["rss_mb_per_1000_open"] if memory else None,
        "events_per_second": round(accord.events / accord.seconds, 1),
        "feed_lag_ms": {
            "p50": round(percentile(lags, 50) * 1000, 1),
            "p95": round(percentile(lags, 95) * 1000, 1),
            "max": round(max(lags, default=math.nan) * 1000, 1),
            "events": len(lags),
        },
        "accord": _rates(accord),
        "pure_temporal": _rates(pure),
        "rounds": [
            {"kind": p.kind, "processes": p.processes, "seconds": round(p.seconds, 2)}
            for p in in_order
        ],
        # Accord / baseline time of each round: their spread shows how much the machine's
        # other load moved during the run.
        "round_ratios": [
            round(a.seconds / b.seconds, 3)
            for a, b in zip(run.phases["accord"], run.phases["pure"], strict=True)
        ],
        "memory": memory,
        "errors": errors[:10],
        "max_cached_workflows": memory["accord"]["max_cached_workflows"] if memory else None,
    }


def _settings_json(
    settings: Settings, story: Story, results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    cached = next(iter(results.values())).pop("max_cached_workflows")
    for r in results.values():
        r.pop("max_cached_workflows", None)
    return {
        "processes": settings.processes,
        "in_flight": settings.in_flight,
        "open": settings.open,
        "rounds": settings.rounds,
        "warmup_processes": settings.warmup,
        "commands_per_process": 1 + len(story.commands),
        "max_cached_workflows": cached,
        "worker_args": list(settings.worker_args),
        "baseline_args": settings.baseline_worker_args,
        "worker_patch": str(settings.worker_patch) if settings.worker_patch else None,
        "baseline_patch": str(settings.baseline_patch) if settings.baseline_patch else None,
        "targets": list(settings.targets),
        "temporal_persistence": "sqlite-file" if settings.temporal_db_file else "memory",
        "temporal_args": list(settings.temporal_args),
        "dev_server_tuned": settings.dev_server_tuned,
        "worker_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("ACCORD_MAX")},
    }


def _temporal_cpu_ms(rates: dict[str, Any]) -> float:
    """Temporal's CPU per command: its processes, plus its PostgreSQL backends if any."""
    cpu = rates["cpu_ms_per_command"]
    return float(cpu.get("temporal", 0.0) + cpu.get("temporal_postgres", 0.0))


def _total_cpu_ms(rates: dict[str, Any]) -> float:
    return float(sum(rates["cpu_ms_per_command"].values()))


def _ratio(b: float | None, a: float | None) -> float | None:
    if a is None or b is None or not a or math.isnan(a) or math.isnan(b):
        return None
    return round(b / a, 3)


def _side_by_side(results: dict[str, dict[str, Any]], runs: Sequence[TargetRun]) -> dict[str, Any]:
    """The second target over the first, per arm: time (the same processes, so the inverse
    of the throughput ratio), latency, CPU; and each round's time ratio (its spread is the
    noise of the run)."""
    a, b = (results[r.target.name] for r in runs[:2])
    out: dict[str, Any] = {}
    for arm in ("accord", "pure_temporal"):
        x, y = a[arm], b[arm]
        out[arm] = {
            "time": _ratio(y["seconds"], x["seconds"]),
            "commands_per_second": _ratio(y["commands_per_second"], x["commands_per_second"]),
            **{
                f"latency_{p}": _ratio(y["update_latency_ms"][p], x["update_latency_ms"][p])
                for p in ("p50", "p95", "p99")
            },
            "cpu_per_command": _ratio(_total_cpu_ms(y), _total_cpu_ms(x)),
            "temporal_cpu_per_command": _ratio(_temporal_cpu_ms(y), _temporal_cpu_ms(x))
            if runs[0].target.processes() and runs[1].target.processes()
            else None,
        }
    kinds = {"accord": "accord", "pure_temporal": "pure"}
    out["round_time_ratios"] = {
        arm: [
            round(q.seconds / p.seconds, 3)
            for p, q in zip(runs[0].phases[kind], runs[1].phases[kind], strict=True)
        ]
        for arm, kind in kinds.items()
    }
    out["e2e_vs_pure_temporal"] = {
        name: results[name]["e2e_vs_pure_temporal"]
        for name in (a["target"]["name"], b["target"]["name"])
    }
    return out


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _code_version() -> str:
    """The commit the run measured, and how many files differed from it."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        root = project_root()
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=root
        ).stdout.splitlines()
        return f"{head} (+{len(changed)} changed files)" if changed else head
    return "unknown"


def _temporal_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [temporal_binary(), "--version"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()
    return "unknown"


# -- output -----------------------------------------------------------------------------


def _verdict(key: str, value: float | None) -> str:
    if key not in TARGETS or value is None:
        return ""
    op, target = TARGETS[key]
    ok = value <= target if op == "<=" else value >= target
    return f"{op} {target:g}  {'ok' if ok else 'MISSED'}"


def render(r: dict[str, Any]) -> str:
    a, p = r["accord"], r["pure_temporal"]
    mem = r["memory"]

    def lat(x: dict[str, Any]) -> str:
        d = x["update_latency_ms"]
        return f"{d['p50']:.0f} / {d['p95']:.0f} / {d['p99']:.0f}"

    rows = [
        (
            "processes per minute",
            f"{a['processes_per_minute']:,.1f}",
            f"{p['processes_per_minute']:,.1f}",
            "",
        ),
        (
            "commands per second",
            f"{a['commands_per_second']:,.1f}",
            f"{p['commands_per_second']:,.1f}",
            "",
        ),
        ("update latency p50/p95/p99 ms", lat(a), lat(p), ""),
        (
            "e2e time / pure Temporal time",
            f"{r['e2e_vs_pure_temporal']:.2f}",
            "1.00",
            _verdict("e2e_vs_pure_temporal", r["e2e_vs_pure_temporal"]),
        ),
        (
            "CPU per command / pure Temporal",
            f"{r['cpu_per_command_vs_pure_temporal']:.2f}",
            "1.00",
            "",
        ),
        (
            f"p95 update latency, {r['settings']['in_flight']} in flight",
            f"{a['update_latency_ms']['p95']:.0f} ms",
            f"{p['update_latency_ms']['p95']:.0f} ms",
            _verdict("p95_update_latency_ms_20_in_flight", r["p95_update_latency_ms_20_in_flight"]),
        ),
        (
            "worker RSS per 1,000 open (MB)",
            f"{mem['accord']['rss_mb_per_1000_open']:.0f}" if mem else "-",
            f"{mem['pure']['rss_mb_per_1000_open']:.0f}" if "pure" in mem else "-",
            _verdict("worker_rss_mb_per_1000_open", r["worker_rss_mb_per_1000_open"]),
        ),
        ("events appended per second", f"{r['events_per_second']:,.1f}", "-", ""),
        (
            "feed lag p50/p95 ms",
            f"{r['feed_lag_ms']['p50']:.0f} / {r['feed_lag_ms']['p95']:.0f}",
            "-",
            "",
        ),
    ]
    parts = ["worker", "temporal", "postgres", "driver"]
    if "temporal_postgres" in a["cpu_ms_per_command"]:
        parts.insert(2, "temporal_postgres")  # the cluster's persistence
    for part in parts:
        rows.append(
            (
                f"CPU ms per command: {part}",
                f"{a['cpu_ms_per_command'].get(part, 0):.2f}",
                f"{p['cpu_ms_per_command'].get(part, 0):.2f}",
                "",
            )
        )
    s = r["settings"]
    lines = [
        f"target: {r['target']['name']} ({r['target']['description']})",
        f"{s['processes']} processes x {s['commands_per_process']} commands, "
        f"{s['in_flight']} in flight, {s['rounds']} rounds; {s['open']} open processes "
        f"(max_cached_workflows {s['max_cached_workflows']})",
        f"{'measure':<34} {'Accord':>14} {'pure Temporal':>14}  target",
    ]
    lines += [f"{label:<34} {x:>14} {y:>14}  {t}".rstrip() for label, x, y, t in rows]
    if r["errors"]:
        lines.append(f"ERRORS: {r['errors']}")
    return "\n".join(lines)


def render_side_by_side(r: dict[str, Any]) -> str:
    """Each target's figures in a column, and the second over the first."""
    (na, a), (nb, b) = list(r["targets"].items())[:2]
    ratio = r["side_by_side"]

    def fmt(value: float | None, spec: str = ",.1f") -> str:
        return "-" if value is None or math.isnan(value) else format(value, spec)

    rows: list[tuple[str, str, str, str]] = []
    for arm, label in (("accord", "Accord"), ("pure_temporal", "pure Temporal")):
        x, y, q = a[arm], b[arm], ratio[arm]
        rows += [
            (f"{label}: seconds", fmt(x["seconds"]), fmt(y["seconds"]), fmt(q["time"], ".2f")),
            (
                f"{label}: commands per second",
                fmt(x["commands_per_second"]),
                fmt(y["commands_per_second"]),
                fmt(q["commands_per_second"], ".2f"),
            ),
        ]
        for p in ("p50", "p95", "p99"):
            rows.append(
                (
                    f"{label}: update latency {p} ms",
                    fmt(x["update_latency_ms"][p], ".0f"),
                    fmt(y["update_latency_ms"][p], ".0f"),
                    fmt(q[f"latency_{p}"], ".2f"),
                )
            )
        rows += [
            (
                f"{label}: CPU ms per command, all",
                fmt(_total_cpu_ms(x), ".2f"),
                fmt(_total_cpu_ms(y), ".2f"),
                fmt(q["cpu_per_command"], ".2f"),
            ),
            (
                f"{label}: CPU ms per command, Temporal",
                fmt(_temporal_cpu_ms(x), ".2f"),
                fmt(_temporal_cpu_ms(y), ".2f"),
                fmt(q["temporal_cpu_per_command"], ".2f"),
            ),
        ]
    rows.append(
        (
            "Accord time / pure Temporal time",
            fmt(a["e2e_vs_pure_temporal"], ".2f"),
            fmt(b["e2e_vs_pure_temporal"], ".2f"),
            "",
        )
    )
    rows.append(
        (
            "feed lag p50/p95 ms",
            f"{fmt(a['feed_lag_ms']['p50'], '.0f')} / {fmt(a['feed_lag_ms']['p95'], '.0f')}",
            f"{fmt(b['feed_lag_ms']['p50'], '.0f')} / {fmt(b['feed_lag_ms']['p95'], '.0f')}",
            "",
        )
    )
    if a["memory"] and b["memory"]:
        rows.append(
            (
                "worker RSS per 1,000 open (MB)",
                fmt(a["worker_rss_mb_per_1000_open"], ".0f"),
                fmt(b["worker_rss_mb_per_1000_open"], ".0f"),
                "",
            )
        )
    s = r["settings"]
    m = r["machine"]
    lines = [
        f"side by side: {na} = {a['target']['description']}",
        f"              {nb} = {b['target']['description']}",
        f"{s['processes']} processes x {s['commands_per_process']} commands per target and arm, "
        f"{s['in_flight']} in flight, {s['rounds']} interleaved rounds; load average "
        f"{m['load_average_start'][0]} -> {m['load_average_end'][0]} on {m['cpus']} CPUs",
        f"{'measure':<40} {na:>10} {nb:>10} {r['ratio']:>16}",
    ]
    lines += [f"{label:<40} {x:>10} {y:>10} {q:>16}".rstrip() for label, x, y, q in rows]
    spread = ratio["round_time_ratios"]
    lines.append(
        f"each round's time {r['ratio']}: Accord {spread['accord']}, "
        f"pure Temporal {spread['pure_temporal']}"
    )
    if r["errors"]:
        lines.append(f"ERRORS: {r['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
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


if __name__ == "__main__":
    raise SystemExit(main())
