"""The worker `bench.e2e` runs in a subprocess: `accord worker`, optionally altered.

Without flags this is exactly what `accord worker` serves (`workers.main.build_worker`,
configured by the same environment: TEMPORAL_ADDRESS, ACCORD_TASK_QUEUE, DATABASE_URL,
ACCORD_MAX_*), plus one line `READY <pid>` on stdout once the worker polls, so that the
harness starts its clock only then. The flags swap one part at a time, for the pure
Temporal baseline and for measuring proposals without editing `workflows/` or
`activities/`:

  --noop               `record_events` returns a RecordResult without touching PostgreSQL
                       (same name, same input and output, same number of activities), and
                       `load_process` finds no stream
  --local-activities   the workflow's `record_events` runs as a local activity
  --projections MODE   `refresh` (as shipped), `none` (append only: projections left to a
                       feed consumer)
  --pool MIN:MAX       EventStore.connect pool sizes (default: its own, 2:10)
  --worker-option K=V  override one `Worker(...)` keyword (int, float, bool or string)
  --unsandboxed        run workflows without the sandbox (UnsandboxedWorkflowRunner)
  --passthrough MODULE pass one more module through the sandbox
  --dedupe-search-attributes   upsert only search attributes whose value changed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast

from temporalio import activity, workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.worker import UnsandboxedWorkflowRunner

import workers.main as worker_main
from activities.contracts import LoadedProcess, LoadRequest, RecordRequest, RecordResult
from store import EventStore
from store.embedded import database_url
from workers import logs
from workers.config import TemporalSettings


class NoopRecorder:
    """Stands in for `ProcessRecorder`: the same activity, with nothing recorded."""

    def __init__(self, *_: object) -> None:
        self._positions = itertools.count(1)

    @activity.defn(name="record_events")
    async def record_events(self, request: RecordRequest) -> RecordResult:
        n = len(request.events)
        return RecordResult(
            positions=[next(self._positions) for _ in range(n)],
            first_version=request.expected_version + 1,
            last_version=request.expected_version + n,
            already_recorded=False,
        )


class NoopLoader:
    """Stands in for `ProcessLoader` beside the no-op recorder: no stream exists, so every
    opening goes ahead (a baseline run is too short to continue as new)."""

    def __init__(self, *_: object) -> None:
        pass

    @activity.defn(name="load_process")
    async def load_process(self, request: LoadRequest) -> LoadedProcess:
        return LoadedProcess(version=0, head_hash=None, snapshot=None)


def _use_local_activities() -> None:
    """Route the workflow's `execute_activity("record_events", ...)` to a local activity.

    temporalio is passed through the sandbox, so the sandboxed workflow module looks the
    function up on this very module object at call time.
    """
    remote = workflow.execute_activity

    async def execute(activity_name: Any, *args: Any, **kwargs: Any) -> Any:
        if activity_name != "record_events":
            return await remote(activity_name, *args, **kwargs)
        return await workflow.execute_local_activity(
            activity_name,
            *args,
            result_type=kwargs.get("result_type"),
            start_to_close_timeout=kwargs.get("start_to_close_timeout"),
            retry_policy=kwargs.get("retry_policy"),
            summary=kwargs.get("summary"),
        )

    workflow.execute_activity = execute  # type: ignore[assignment]


def _dedupe_search_attributes() -> None:
    """Upsert only the search attributes whose value changed (the workflow upserts every one
    after every command). Compares with `workflow.info().typed_search_attributes`, which is
    deterministic (it follows the upserts recorded in history)."""
    upsert = workflow.upsert_search_attributes

    def changed_only(updates: Sequence[SearchAttributeUpdate[Any]]) -> None:
        current = workflow.info().typed_search_attributes
        changed = [u for u in updates if _comparable(current.get(u.key)) != _comparable(u.value)]
        if changed:
            upsert(changed)

    workflow.upsert_search_attributes = changed_only  # type: ignore[assignment]


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def _append_only() -> None:
    """`Projections.refresh` does nothing: the append alone is on the command's path."""
    from readmodel.projections import Projections

    async def refresh(self: Projections, stream_id: str) -> None:
        return None

    Projections.refresh = refresh  # type: ignore[method-assign]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _override_worker(options: dict[str, Any]) -> None:
    original: Callable[..., Any] = worker_main.Worker  # type: ignore[attr-defined]

    def worker(*args: Any, **kwargs: Any) -> Any:
        kwargs.update(options)
        return original(*args, **kwargs)

    worker_main.Worker = worker  # type: ignore[attr-defined,assignment]


async def serve(pool: tuple[int, int] | None, noop: bool) -> None:
    settings = TemporalSettings.from_env()
    client = await settings.connect()
    store: EventStore | None = None
    if not noop:
        low, high = pool or (2, 10)  # EventStore.connect's own defaults
        store = await EventStore.connect(database_url(), min_size=low, max_size=high)
    # The no-op recorder never touches the store: the baseline holds no connection.
    worker = worker_main.build_worker(client, cast(EventStore, store), settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    run = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)  # let the pollers start
    if run.done():
        await run  # raises the start-up error
    print(f"READY {os.getpid()}", flush=True)
    await stop.wait()
    await worker.shutdown()
    await run
    if store is not None:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e_worker", description=__doc__)
    parser.add_argument("--noop", action="store_true")
    parser.add_argument("--local-activities", action="store_true")
    parser.add_argument("--projections", choices=["refresh", "none"], default="refresh")
    parser.add_argument("--pool", help="MIN:MAX of the EventStore pool")
    parser.add_argument("--worker-option", action="append", default=[], metavar="K=V")
    parser.add_argument("--unsandboxed", action="store_true")
    parser.add_argument("--passthrough", action="append", default=[], metavar="MODULE")
    parser.add_argument("--dedupe-search-attributes", action="store_true")
    args = parser.parse_args(argv)

    logs.configure(os.environ.get("ACCORD_LOG_LEVEL", "INFO"))
    options: dict[str, Any] = {}
    for item in args.worker_option:
        key, _, value = item.partition("=")
        options[key] = _parse_value(value)
    if args.passthrough:
        worker_main.PASSTHROUGH = (*worker_main.PASSTHROUGH, *args.passthrough)
    if args.unsandboxed:
        options["workflow_runner"] = UnsandboxedWorkflowRunner()
    if options:
        _override_worker(options)
    if args.noop:
        worker_main.ProcessRecorder = NoopRecorder  # type: ignore[attr-defined,assignment]
        worker_main.ProcessLoader = NoopLoader  # type: ignore[attr-defined,assignment]
    if args.local_activities:
        _use_local_activities()
    if args.dedupe_search_attributes:
        _dedupe_search_attributes()
    if args.projections == "none":
        _append_only()
    pool = None
    if args.pool:
        low, _, high = args.pool.partition(":")
        pool = (int(low), int(high))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(pool, args.noop))
    print("worker stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
