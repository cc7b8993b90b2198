"""The benchmark's workload: the story each process plays, the settings of a run, the
worker subprocesses that serve it, and `drive`, which plays the story on many processes at
once with a bounded number of commands in flight."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.targets import (
    DEV,
)
from cli.operations import send_command, start_process
from cli.scenario import load
from cli.session import Session
from store.embedded import project_root
from workflows.process import workflow_id_for

STORY = project_root() / "scenarios" / "azerbaijan-icmp.yaml"
WORKER_START_S = 120.0
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


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
