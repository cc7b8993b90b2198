"""One benchmark run: its database and targets set up and dropped, the workers started,
warm-up, the interleaved rounds (Accord and pure Temporal, on every target), the memory
phase, and the figures gathered into one result."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from bench.e2e.figures import (
    code_version,
    cpu_model,
    settings_json,
    side_by_side,
    target_result,
    temporal_version,
)
from bench.e2e.measure import (
    CpuMeter,
    FeedWatcher,
    Profiler,
    TargetRun,
    count_events,
    memory_phase,
    percentile,
)
from bench.e2e.workload import (
    Phase,
    Settings,
    Story,
    WorkerProcess,
    drive,
    load_story,
    log,
    snapshot_source,
)
from bench.targets import (
    Target,
    open_targets,
)
from cli.devserver import temporal_binary
from cli.session import Session
from security.keys import local_actor_keys_path
from store import EventStore
from store.embedded import admin_url
from workers.config import TemporalSettings


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _keep_logs(tmp: Path) -> str:
    """Copy the workers' and the server's logs out of the temporary directory."""
    keep = Path(tempfile.mkdtemp(prefix="accord-e2e-logs-"))
    for path in [*tmp.glob("*.log"), *tmp.glob("temporal/*.log")]:
        shutil.copy(path, keep / path.name)
    log(f"logs kept in {keep}")
    return str(keep)


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
            memory["accord"] = await memory_phase(
                settings, session, story, run.env["accord"], tmp, settings.worker_args, name
            )
            if settings.memory_baseline:
                memory["pure"] = await memory_phase(
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
        run.target.name: target_result(
            settings,
            run,
            [p for name, p in in_order if name == run.target.name],
            memories[run.target.name],
            watcher.lags.get(run.target.name, []),
        )
        for run in runs
    }
    common = {
        "settings": settings_json(settings, story, results),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "temporal": temporal_version(),
            "code": code_version(),
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
        "side_by_side": side_by_side(results, runs),
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
