"""An update that arrives in the same workflow task as another command's activity result
replays: the shape of the non-determinism once captured here, built on purpose.

What happened before (temporalio 1.35.0, compare temporalio/sdk-python#1591): process
`coop-az-fault-27` got stuck after a worker restart. A workflow task carried both the
result of U19's `record_events` activity and a new update U20. Live, U19's handler went on
first and signalled the mission child, then U20 was accepted; on replay the SDK ran U20's
acceptance first and expected it before the signal, so no worker could replay the history
(`Update machine does not handle this event: SignalExternalWorkflowExecutionInitiated`).

The process no longer has anything a handler does between its activity's result and its
own completion that another update's acceptance can overtake: it signals no child (its
timers are its own, `workflows/clocks.py`), and a handler's continuation after the
activity only folds the events, upserts search attributes and completes. This test forces
the old shape: U1's activity is held until U2's validator is running, U2's validator is
held until U1's activity has completed and U3 has arrived, so the next workflow task
carries U1's activity result and U3's request together. Then every run is replayed.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities.contracts import RecordRequest, RecordResult
from activities.loading import ProcessLoader
from activities.recording import ProcessRecorder
from cli.session import Session
from readmodel.projections import Projections
from store import EventStore
from tests.workflows.builders import NB_SECRETARY, Driver
from tests.workflows.test_replay import replayer
from workers.main import WORKFLOWS

HOLD = "hold the validator"
validator_entered = threading.Event()
release_validator = threading.Event()


class _HoldValidator(WorkflowInboundInterceptor):
    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        body = input.args[1][0].payload.data if len(input.args) == 2 else b""
        if HOLD.encode() in body and not validator_entered.is_set():
            validator_entered.set()
            # The workflow task stays open meanwhile (under the SDK's 2 s deadlock limit).
            release_validator.wait(1.5)
        super().handle_update_validator(input)


class HoldValidator(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _HoldValidator


async def test_an_update_beside_an_activity_result_replays(
    client: Client, store: EventStore, task_queue: str, session: Session
) -> None:
    recorder = ProcessRecorder(store, Projections(store))
    first_record = asyncio.Event()
    release_record = asyncio.Event()

    @activity.defn(name="record_events")
    async def record_events(request: RecordRequest) -> RecordResult:
        if any(HOLD in str(e.data) for e in request.events) or first_record.is_set():
            return await recorder.record_events(request)
        if request.events[0].event_type == "MeetingRecorded":
            first_record.set()
            await release_record.wait()
        return await recorder.record_events(request)

    worker = Worker(
        client,
        task_queue=f"{task_queue}-shape",
        workflows=WORKFLOWS,
        activities=[record_events, ProcessLoader(store).load_process],
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[HoldValidator()],
    )
    shape_session = Session(
        client=client, store=store, task_queue=f"{task_queue}-shape", embedded=None
    )
    p = Driver(shape_session, f"shape-{uuid.uuid4().hex[:6]}")
    meeting: dict[str, Any] = {"format": "online", "initiator": "national_body"}
    async with worker:
        await p.open()
        await p.to_negotiating()
        u1 = asyncio.create_task(p.send("record_meeting", "2019-01-01", NB_SECRETARY, **meeting))
        await asyncio.wait_for(first_record.wait(), 10)  # U1's activity is running
        u2 = asyncio.create_task(
            p.send("record_meeting", "2019-01-02", NB_SECRETARY, summary=HOLD, **meeting)
        )
        await asyncio.to_thread(validator_entered.wait, 10)  # U2's task is open
        release_record.set()  # U1's result arrives while that task is open...
        await asyncio.sleep(0.3)
        u3 = asyncio.create_task(  # ...and so does U3
            p.send("record_meeting", "2019-01-03", NB_SECRETARY, **meeting)
        )
        await asyncio.sleep(0.3)
        release_validator.set()
        outcomes = await asyncio.gather(u1, u2, u3)
    assert all(o.accepted for o in outcomes), outcomes

    history = await client.get_workflow_handle(p.workflow_id).fetch_history()
    types = [e.event_type for e in history.events]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
    # The shape was produced: a workflow task scheduled by U1's activity result accepted
    # U3, while U1's handler went on in that same task.
    events = list(history.events)
    shaped = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and events[
            e.workflow_execution_update_accepted_event_attributes.accepted_request_sequencing_event_id
            - 2
        ].event_type
        == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]
    assert shaped, "no update was accepted in the task that carried an activity's result"
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    recorded = await store.read_stream(p.workflow_id)
    assert [e.event_type for e in recorded][-3:] == ["MeetingRecorded"] * 3
