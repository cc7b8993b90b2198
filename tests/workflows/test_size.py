"""A process survives size: thousands of 4 KB events on one process, commands arriving at a
steady rate while continue-as-new is due, every run within Temporal's limits.

What bounds a run (README "Continue-as-new"): the run continues as new once its history
passes `continue_as_new_after` events; from then on new commands are answered `busy`
(nothing recorded, sent again by the CLI with the same update id), and at most
`MAX_QUEUED` commands already accepted finish in the run. Each command adds at most
`EVENTS_PER_COMMAND` history events, so no run grows past
`continue_as_new_after + (MAX_QUEUED + 1) * EVENTS_PER_COMMAND` events.

`ACCORD_SIZE_EVENTS` sets the number of events (10,000 by default, the issue's figure).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from temporalio.api.enums.v1 import EventType

from cli.operations import read_status
from cli.session import Session
from store import EventStore
from tests.workflows.builders import NB_SECRETARY, opened
from workflows.contracts import ProcessStart
from workflows.process import MAX_QUEUED

EVENTS = int(os.environ.get("ACCORD_SIZE_EVENTS", "10000"))
SENDERS = 8
# The production default, as `accord start` opens every process.
CONTINUE_AS_NEW_AFTER: int = ProcessStart.model_fields["continue_as_new_after"].default
# Update accepted + completed, activity scheduled/started/completed, and a workflow task
# (scheduled, started, completed) on either side: 11 at most, with margin.
EVENTS_PER_COMMAND = 12
RUN_BOUND = CONTINUE_AS_NEW_AFTER + (MAX_QUEUED + 1) * EVENTS_PER_COMMAND
# The longest summary a meeting may have (2,000 characters), in Russian, a working language
# of the story's region: with two-byte letters the event's data is about 4 KB.
SUMMARY = ("Стороны обсудили следующий этап сотрудничества. " * 50)[:2000]


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_ten_thousand_large_events_on_one_process(
    session: Session, store: EventStore
) -> None:
    p = await opened(session, "size")
    await p.to_negotiating()
    base = await store.stream_version(p.workflow_id)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(EVENTS):
        queue.put_nowait(n)
    refused: list[str] = []
    latencies: list[float] = []

    async def sender() -> None:
        while not queue.empty():
            queue.get_nowait()
            began = time.monotonic()
            outcome = await p.send(
                "record_meeting",
                "2019-01-10",
                NB_SECRETARY,
                format="online",
                initiator="national_body",
                summary=SUMMARY,
            )
            latencies.append(time.monotonic() - began)
            if not outcome.accepted:
                refused.append(f"{outcome.code}: {outcome.message}")

    async def watcher() -> int:
        """The process keeps answering queries while it grows and moves between runs."""
        answers = 0
        while not queue.empty():
            view = await read_status(session, p.workflow_id)
            assert view["stage"] == "negotiating"
            answers += 1
            await asyncio.sleep(1)
        return answers

    senders = [asyncio.create_task(sender()) for _ in range(SENDERS)]
    answers = await watcher()
    await asyncio.gather(*senders)
    assert not refused, refused[:3]
    assert answers > 0

    events = await store.read_stream(p.workflow_id)
    assert [e.version for e in events] == list(range(1, base + EVENTS + 1))
    assert min(len(json.dumps(e.data, ensure_ascii=False).encode()) for e in events[base:]) > 3600
    assert (await store.verify(p.workflow_id)).ok
    view = await read_status(session, p.workflow_id)
    assert view["version"] == base + EVENTS

    runs = [
        wf.run_id async for wf in session.client.list_workflows(f"WorkflowId = '{p.workflow_id}'")
    ]
    # ~9 history events a command: a run per ~440 commands.
    assert len(runs) >= EVENTS * 9 // CONTINUE_AS_NEW_AFTER, "too few continue-as-new"
    for run_id in runs:
        history = await session.client.get_workflow_handle(
            p.workflow_id, run_id=run_id
        ).fetch_history()
        types = [e.event_type for e in history.events]
        assert len(types) <= RUN_BOUND, (len(types), RUN_BOUND)
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED not in types
        size = sum(e.ByteSize() for e in history.events)
        # Temporal's defaults: 50 MB and 51,200 events per history, 2 MB per payload.
        assert size < 10 * 1024 * 1024, size
    latencies.sort()
    print(
        f"\n{EVENTS} events, {len(runs)} runs, p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms"
    )
