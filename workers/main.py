"""`accord worker`: runs Accord's workflows and activities until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.loading import ProcessLoader
from activities.recording import ProcessRecorder
from readmodel.projections import Projections
from store import EventStore
from store.embedded import database_url
from workers import logs, metrics
from workers.config import TemporalSettings
from workflows.process import CooperationProcessWorkflow

WORKFLOWS = [CooperationProcessWorkflow]

# Pure, deterministic modules shared by workflows: imported once outside the sandbox
# instead of being re-imported for every workflow run.
PASSTHROUGH = (
    "domain",
    # domain.dates reads months, years and ranges with the `edtf` package (and its parser).
    "edtf",
    "pyparsing",
    "dateutil",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "workflows.contracts",
    "workflows.clocks",
    "activities.contracts",
)

log = structlog.get_logger("accord.worker")


def workflow_runner() -> SandboxedWorkflowRunner:
    # Loaded here, outside any workflow task: its first import takes ~0.25 s.
    import edtf  # noqa: F401

    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def build_worker(
    client: Client, store: EventStore, task_queue: str, *, max_cached_workflows: int | None = None
) -> Worker:
    """The worker of Accord's workflows and activity (settings measured in BENCHMARKS.md).

    A cached workflow costs the worker ~0.2 MB (sandbox and SDK state, whatever the
    process): `ACCORD_MAX_CACHED_WORKFLOWS` (the SDK's 1,000 by default) bounds the worker's
    memory whatever the number of open processes; an evicted process is replayed from its
    history on its next command. With 0, every workflow task replays the whole history:
    the determinism runs of the tests use that to compare live and replayed decisions.
    """
    recorder = ProcessRecorder(store, Projections(store))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[recorder.record_events, ProcessLoader(store).load_process],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=int(os.environ.get("ACCORD_MAX_CONCURRENT_ACTIVITIES", "50")),
        max_cached_workflows=max_cached_workflows
        if max_cached_workflows is not None
        else int(os.environ.get("ACCORD_MAX_CACHED_WORKFLOWS", "1000")),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


@asynccontextmanager
async def running_worker(
    client: Client, task_queue: str, db_url: str | None = None
) -> AsyncIterator[Worker]:
    """A worker running in this process (used by the CLI's embedded mode and the tests)."""
    store = await EventStore.connect(db_url or database_url())
    try:
        worker = build_worker(client, store, task_queue)
        async with worker:
            yield worker
    finally:
        await store.close()


async def serve() -> int:
    settings = TemporalSettings.from_env()
    # ACCORD_METRICS_BIND: the SDK's and Accord's metrics on one Prometheus endpoint, from
    # a runtime of the worker's own; unset, the default runtime and no listener.
    bind = metrics.metrics_bind()
    lag_interval = metrics.feed_lag_interval()
    runtime = metrics.metrics_runtime(bind) if bind else None
    try:
        client = await settings.connect(runtime)
    except Exception as err:  # an unreachable or misconfigured server: one line, no trace
        log.error(
            "worker start failed: Temporal unreachable",
            address=settings.address,
            namespace=settings.namespace,
            error=type(err).__name__,
            reason=str(err)[:300],
        )
        return 1
    try:
        store = await EventStore.connect(database_url())
    except Exception as err:  # likewise for the event store (credentials never logged)
        log.error(
            "worker start failed: event store unreachable",
            error=type(err).__name__,
            reason=str(err)[:300],
        )
        return 1
    worker = build_worker(client, store, settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sampler = None
    if runtime is not None:
        sampler = asyncio.create_task(
            metrics.sample_feed_lag(store, runtime.metric_meter, lag_interval)
        )
    log.info(
        "worker started",
        address=settings.address,
        namespace=settings.namespace,
        task_queue=settings.task_queue,
        metrics=f"http://{bind}/metrics" if bind else None,
    )
    run = asyncio.create_task(worker.run())
    await stop.wait()
    log.info("shutting down: finishing in-flight tasks")
    if sampler is not None:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    await worker.shutdown()
    await run
    await store.close()
    log.info("worker stopped")
    return 0


def main() -> int:
    logs.configure(os.environ.get("ACCORD_LOG_LEVEL", "INFO"))
    return asyncio.run(serve())


if __name__ == "__main__":
    raise SystemExit(main())
